"""The one contract every ``DeliveryLog`` adapter passes (subclass, implement ``make_log``)."""

from __future__ import annotations

import abc
from datetime import UTC, datetime, timedelta

from smdh.application.delivery import Delivery, DeliveryLog, DeliveryStatus

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def row(n: int, tenant: str = "acme", channel: str = "webhook") -> Delivery:
    return Delivery(
        idempotency_key=f"alert:{tenant}:r:d:1:{n}:{channel}:x",
        tenant_id=tenant,
        alert_id=f"alert:{tenant}:r:d:1",
        event_type="AlertRaised",
        channel=channel,
        recipient="x",
        subject="s",
        body="b",
        payload={"value": 6000.0, "nested": {"k": [1, 2]}},
        next_attempt_at=NOW + timedelta(seconds=n),
        created_at=NOW,
    )


class DeliveryLogContract(abc.ABC):
    @abc.abstractmethod
    def make_log(self) -> DeliveryLog: ...

    def test_record_is_idempotent_and_round_trips(self) -> None:
        log = self.make_log()
        assert log.record([row(1), row(2)]) == 2
        assert log.record([row(1), row(3)]) == 1
        assert log.get("acme", row(1).idempotency_key) == row(1)
        assert log.get("other", row(1).idempotency_key) is None
        assert [d.idempotency_key for d in log.list("acme")] == [
            row(n).idempotency_key for n in (1, 2, 3)
        ]

    def test_claims_lease_rows_and_count_attempts(self) -> None:
        log = self.make_log()
        log.record([row(0), row(5)])
        claimed = log.claim_due(NOW, lease_s=30)
        assert [c.idempotency_key for c in claimed] == [row(0).idempotency_key]
        assert claimed[0].attempts == 1
        assert claimed[0].next_attempt_at == NOW + timedelta(seconds=30)
        later = log.claim_due(NOW + timedelta(seconds=10), lease_s=30)
        assert [c.idempotency_key for c in later] == [row(5).idempotency_key]
        assert log.claim_due(NOW + timedelta(seconds=10), lease_s=30) == []

    def test_sent_failed_and_retry(self) -> None:
        log = self.make_log()
        log.record([row(0), row(1, channel="email"), row(2, tenant="globex")])
        log.mark_sent(row(0).idempotency_key, NOW)
        log.mark_attempt_failed(row(1, channel="email").idempotency_key, "boom", None)
        retry = NOW + timedelta(minutes=5)
        log.mark_attempt_failed(row(2, tenant="globex").idempotency_key, "later", retry)
        sent = log.get("acme", row(0).idempotency_key)
        assert sent is not None and sent.status is DeliveryStatus.SENT and sent.sent_at == NOW
        failed = log.list("acme", status=DeliveryStatus.FAILED)
        assert [(d.channel, d.last_error) for d in failed] == [("email", "boom")]
        later = log.get("globex", row(2, tenant="globex").idempotency_key)
        assert later is not None and later.next_attempt_at == retry
        assert later.status is DeliveryStatus.PENDING
        assert log.claim_due(NOW + timedelta(minutes=1), 30) == []
        assert len(log.claim_due(retry, 30)) == 1
        assert log.list("acme", after_key=row(0).idempotency_key, limit=1) == failed
        assert log.delete_tenant("acme") == 2 and log.list("acme") == []

    def test_cursor_only_moves_forward(self) -> None:
        log = self.make_log()
        assert log.cursor("n") == 0
        log.set_cursor("n", 10)
        log.set_cursor("n", 4)
        log.set_cursor("other", 1)
        assert (log.cursor("n"), log.cursor("other")) == (10, 1)
