"""In-memory ``DeliveryLog``: a dict by idempotency key, guarded by a lock."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from smdh.application.delivery import Delivery, DeliveryStatus


class InMemoryDeliveryLog:
    def __init__(self) -> None:
        self._rows: dict[str, Delivery] = {}
        self._cursors: dict[str, int] = {}
        self._lock = threading.Lock()

    def record(self, deliveries: Sequence[Delivery]) -> int:
        added = 0
        with self._lock:
            for delivery in deliveries:
                if delivery.idempotency_key not in self._rows:
                    self._rows[delivery.idempotency_key] = delivery
                    added += 1
        return added

    def claim_due(self, now: datetime, lease_s: float, limit: int = 100) -> list[Delivery]:
        with self._lock:
            due = sorted(
                (
                    d
                    for d in self._rows.values()
                    if d.status is DeliveryStatus.PENDING and d.next_attempt_at <= now
                ),
                key=lambda d: (d.next_attempt_at, d.created_at, d.idempotency_key),
            )[:limit]
            claimed = []
            for row in due:
                updated = attrs.evolve(
                    row,
                    attempts=row.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=lease_s),
                )
                self._rows[row.idempotency_key] = updated
                claimed.append(updated)
            return claimed

    def mark_sent(self, key: str, at: datetime) -> None:
        with self._lock:
            row = self._rows[key]
            self._rows[key] = attrs.evolve(
                row, status=DeliveryStatus.SENT, sent_at=at, last_error=None
            )

    def mark_attempt_failed(self, key: str, error: str, retry_at: datetime | None) -> None:
        with self._lock:
            row = self._rows[key]
            if retry_at is None:
                self._rows[key] = attrs.evolve(row, status=DeliveryStatus.FAILED, last_error=error)
            else:
                self._rows[key] = attrs.evolve(row, next_attempt_at=retry_at, last_error=error)

    def get(self, tenant_id: str, key: str) -> Delivery | None:
        row = self._rows.get(key)
        return row if row is not None and row.tenant_id == tenant_id else None

    def list(
        self,
        tenant_id: str,
        *,
        status: DeliveryStatus | None = None,
        after_key: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        with self._lock:
            rows = [
                d
                for d in self._rows.values()
                if d.tenant_id == tenant_id
                and (status is None or d.status is status)
                and (after_key is None or d.idempotency_key > after_key)
            ]
        return sorted(rows, key=lambda d: d.idempotency_key)[:limit]

    def cursor(self, name: str) -> int:
        return self._cursors.get(name, 0)

    def set_cursor(self, name: str, position: int) -> None:
        with self._lock:
            self._cursors[name] = max(position, self._cursors.get(name, 0))

    def delete_tenant(self, tenant_id: str) -> int:
        with self._lock:
            keys = [k for k, d in self._rows.items() if d.tenant_id == tenant_id]
            for key in keys:
                del self._rows[key]
        return len(keys)
