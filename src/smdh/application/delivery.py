"""The delivery log: one row per notification, keyed by its idempotency key.

The alert events in the event store are the outbox (they are appended atomically with the
alert's state change, by construction). The dispatcher turns each alert transition into
``Delivery`` rows here *before* it advances its cursor past the event, and sends only rows
it has claimed. So:

* a crash before the rows are recorded: the cursor did not move, the rows are derived again
  from the same event, with the same keys;
* a crash after recording: ``record`` ignores keys it already holds, nothing is duplicated;
* a crash after claiming but before sending: the claim's lease runs out and the row is sent;
* a crash after sending but before ``mark_sent``: the row is sent again after the lease. This
  window (one network round trip) is the only redelivery, and it carries the same
  ``Idempotency-Key`` so the receiver recognises it.

Claims are atomic (a conditional update), so two dispatchers on one log never both send a row.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import attrs

from smdh.application.ports import Notification


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class Delivery:
    idempotency_key: str
    tenant_id: str
    alert_id: str  # the alert aggregate id (tenant included; the API shows its own form)
    event_type: str
    channel: str
    recipient: str
    subject: str
    body: str
    payload: dict[str, Any] = attrs.field(factory=dict)
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None = None

    def notification(self) -> Notification:
        return Notification(
            channel=self.channel,
            recipient=self.recipient,
            subject=self.subject,
            body=self.body,
            idempotency_key=self.idempotency_key,
            payload=dict(self.payload),
        )


def delivery_key(aggregate_id: str, version: int, channel: str, recipient: str) -> str:
    return f"{aggregate_id}:{version}:{channel}:{recipient}"


class DeliveryLog(Protocol):
    """Deliveries and the dispatcher's cursor, scoped by tenant on every read."""

    def record(self, deliveries: Sequence[Delivery]) -> int:
        """Store the deliveries whose key is new; existing keys are left untouched."""
        ...

    def claim_due(self, now: datetime, lease_s: float, limit: int = 100) -> list[Delivery]:
        """Pending rows due at ``now``, oldest first; each claimed row's attempt count goes
        up by one and its next attempt moves to ``now + lease_s`` (atomically per row)."""
        ...

    def mark_sent(self, key: str, at: datetime) -> None: ...

    def mark_attempt_failed(self, key: str, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt; ``retry_at`` None means give up (status failed)."""
        ...

    def get(self, tenant_id: str, key: str) -> Delivery | None: ...

    def list(
        self,
        tenant_id: str,
        *,
        status: DeliveryStatus | None = None,
        after_key: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """A tenant's deliveries in key order (optionally one status), after ``after_key``."""
        ...

    def cursor(self, name: str) -> int:
        """The last event-store position a dispatcher named ``name`` fully recorded."""
        ...

    def set_cursor(self, name: str, position: int) -> None: ...

    def delete_tenant(self, tenant_id: str) -> int: ...


@attrs.frozen
class RetryPolicy:
    """Exponential back-off with jitter: attempt n waits ``base * 2**(n-1)`` (capped at
    ``cap_s``), scaled by a random factor in [0.5, 1.0] so retries of many rows spread out."""

    base_s: float = 2.0
    cap_s: float = 600.0
    max_attempts: int = 8
    lease_s: float = 30.0

    def retry_at(
        self, attempts: int, now: datetime, rng: random.Random | None = None
    ) -> datetime | None:
        if attempts >= self.max_attempts:
            return None
        delay = min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1))
        factor = 0.5 + 0.5 * (rng or random).random()
        return now + timedelta(seconds=delay * factor)
