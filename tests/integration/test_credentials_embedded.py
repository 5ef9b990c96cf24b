"""The CredentialStore contract on SQLite, plus what only a real file can show."""

from __future__ import annotations

from pathlib import Path

import pytest

from smdh.adapters.embedded.sqlite_credentials import SqliteCredentialStore
from smdh.application.ports import CredentialStore
from tests.contract.credential_store_contract import CredentialStoreContract

pytestmark = pytest.mark.integration


class TestSqliteCredentialStore(CredentialStoreContract):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.path = tmp_path / "credentials.sqlite3"

    def make_store(self) -> CredentialStore:
        return SqliteCredentialStore(self.path)

    def test_a_deleted_hash_stays_deleted_after_reopen(self) -> None:
        store = SqliteCredentialStore(self.path)
        store.set_password_hash("acme", "alice", "hash-1")
        store.set_password_hash("acme", "bob", "hash-b")
        store.delete("acme", "alice")
        store.close()
        again = SqliteCredentialStore(self.path)
        try:
            assert again.password_hash("acme", "alice") is None
            assert again.password_hash("acme", "bob") == "hash-b"
        finally:
            again.close()
