"""The DeliveryLog contract on DynamoDB (moto server), plus what only a shared table can show:
two dispatchers (two Lambda instances) never claim the same row, and rows survive a new
adapter object (a cold start)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from smdh.adapters.aws.dynamodb_alert_state import DynamoDbEvaluationStateStore
from smdh.adapters.aws.dynamodb_alert_state import create_table as create_state
from smdh.adapters.aws.dynamodb_delivery_log import DynamoDbDeliveryLog, create_table
from smdh.application.delivery import DeliveryLog, DeliveryStatus
from tests.contract.delivery_log_contract import NOW, DeliveryLogContract, row

pytestmark = pytest.mark.integration


class TestDynamoDbDeliveryLog(DeliveryLogContract):
    @pytest.fixture(autouse=True)
    def _table(self, aws_clients: Callable[[str], Any]) -> None:
        self.client = aws_clients("dynamodb")
        self.tables = 0

    def make_log(self) -> DeliveryLog:
        self.tables += 1
        name = f"deliveries-{self.tables}"
        create_table(self.client, name)
        return DynamoDbDeliveryLog(self.client, name)


@pytest.fixture
def dynamodb(aws_clients: Callable[[str], Any]) -> Any:
    return aws_clients("dynamodb")


def test_two_instances_on_one_table_never_claim_the_same_row(dynamodb: Any) -> None:
    create_table(dynamodb, "d")
    first, second = DynamoDbDeliveryLog(dynamodb, "d"), DynamoDbDeliveryLog(dynamodb, "d")
    first.record([row(n) for n in range(20)])
    later = NOW + timedelta(hours=1)
    a = first.claim_due(later, 30, limit=15)
    b = second.claim_due(later, 30, limit=15)
    assert len(a) == 15 and len(b) == 5
    assert not {d.idempotency_key for d in a} & {d.idempotency_key for d in b}
    assert second.claim_due(later, 30) == []  # all leased


def test_a_stale_claim_loses_its_condition(dynamodb: Any) -> None:
    create_table(dynamodb, "d")
    log = DynamoDbDeliveryLog(dynamodb, "d")
    log.record([row(0)])
    (claimed,) = log.claim_due(NOW, 30)
    log.mark_sent(claimed.idempotency_key, NOW)
    # a cold start sees the same row: sent, out of the due index, recorded once
    again = DynamoDbDeliveryLog(dynamodb, "d")
    assert again.record([row(0)]) == 0
    assert again.claim_due(NOW + timedelta(hours=1), 30) == []
    sent = again.get("acme", row(0).idempotency_key)
    assert sent is not None and sent.status is DeliveryStatus.SENT and sent.attempts == 1


def test_list_pages_past_a_status_filter(dynamodb: Any) -> None:
    create_table(dynamodb, "d")
    log = DynamoDbDeliveryLog(dynamodb, "d")
    log.record([row(n) for n in range(30)])
    for n in range(0, 30, 3):
        log.mark_attempt_failed(row(n).idempotency_key, "no", None)
    failed = log.list("acme", status=DeliveryStatus.FAILED, limit=7)
    assert len(failed) == 7 and all(d.status is DeliveryStatus.FAILED for d in failed)
    keys = [d.idempotency_key for d in failed]
    assert keys == sorted(keys)
    assert log.list("", limit=5) == []


def test_alert_state_round_trips_deletes_and_pages(dynamodb: Any) -> None:
    create_state(dynamodb, "state")
    store = DynamoDbEvaluationStateStore(dynamodb, "state")
    assert store.load().saved_at is None
    rules = {f"acme|rule-{n}|a-1": {"episode": n, "pending_since": None} for n in range(60)}
    seen = {f"acme|a-{n}": [1767600000.0 + n, "plant-1"] for n in range(40)}
    store.save(rules, seen, 1767600000.5)
    store.save({"acme|rule-0|a-1": None, "acme|rule-1|a-1": {"episode": 9}}, {}, 1767600001.0)
    fresh = DynamoDbEvaluationStateStore(dynamodb, "state").load()  # a cold start
    assert fresh.saved_at == 1767600001.0
    assert len(fresh.rules) == 59 and "acme|rule-0|a-1" not in fresh.rules
    assert fresh.rules["acme|rule-1|a-1"] == {"episode": 9}
    assert fresh.rules["acme|rule-5|a-1"] == {"episode": 5, "pending_since": None}
    assert fresh.last_seen == seen
