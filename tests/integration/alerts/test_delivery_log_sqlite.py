from __future__ import annotations

from pathlib import Path

import pytest

from smdh.adapters.embedded.sqlite_delivery_log import SqliteDeliveryLog
from smdh.application.delivery import DeliveryLog
from tests.contract.delivery_log_contract import NOW, DeliveryLogContract, row

pytestmark = pytest.mark.integration


class TestSqliteDeliveryLog(DeliveryLogContract):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.path = tmp_path / "deliveries.sqlite3"

    def make_log(self) -> DeliveryLog:
        return SqliteDeliveryLog(self.path)


def test_two_processes_on_one_file_never_claim_the_same_row(tmp_path: Path) -> None:
    first = SqliteDeliveryLog(tmp_path / "d.sqlite3")
    second = SqliteDeliveryLog(tmp_path / "d.sqlite3")
    first.record([row(n) for n in range(20)])
    later = NOW.replace(hour=9)
    a = first.claim_due(later, 30, limit=15)
    b = second.claim_due(later, 30, limit=15)
    assert len(a) == 15 and len(b) == 5
    assert not {d.idempotency_key for d in a} & {d.idempotency_key for d in b}
    first.close()
    second.close()
