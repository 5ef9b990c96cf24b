"""The DeadLetterStore contract on SQLite, plus what only a real file can show."""

from __future__ import annotations

from pathlib import Path

import pytest

from smdh.adapters.embedded.dead_letters import FILE_NAME, SqliteDeadLetterStore
from tests.contract.dead_letter_store_contract import (
    BoundedDeadLetterStore,
    DeadLetterStoreContract,
    letter,
)

pytestmark = pytest.mark.integration


class TestSqliteDeadLetterStore(DeadLetterStoreContract):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.path = tmp_path / FILE_NAME

    def make_store(self, max_per_tenant: int = 100_000) -> BoundedDeadLetterStore:
        return SqliteDeadLetterStore(self.path, max_per_tenant=max_per_tenant)

    def test_letters_and_counters_survive_reopen(self) -> None:
        store = SqliteDeadLetterStore(self.path, max_per_tenant=3)
        store.add([letter("tenant-a", n) for n in range(5)])
        page = store.list("tenant-a")
        store.close()
        again = SqliteDeadLetterStore(self.path, max_per_tenant=3)
        try:
            assert again.list("tenant-a") == page
            assert (again.count("tenant-a"), again.pruned("tenant-a")) == (3, 2)
            again.add([letter("tenant-a", 9)])
            ids = [letter_id for letter_id, _ in again.list("tenant-a")]
            assert ids[-1] > page[-1][0]  # ids are never reused
        finally:
            again.close()

    def test_closed_store_refuses_work(self) -> None:
        store = SqliteDeadLetterStore(self.path)
        store.close()
        with pytest.raises(RuntimeError, match="closed"):
            store.add([letter()])
