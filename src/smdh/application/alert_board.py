"""The alert board: open and recent alerts per tenant, a projection of Alert events.

Like the other read models it follows the event store's global order (``catch_up``). It is
also fed directly by the alerting service with the events it has just committed; applying
is idempotent (an event at or below an alert's known version is ignored), so the later
``catch_up`` over the same events changes nothing.

Besides the entries it keeps, per (tenant, rule, device), the latest episode number seen:
the alerting service derives the next alert id from it after a restart.

GDPR erasure deletes alert events from the store rather than superseding them, so no event
tells the board: ``forget`` (called by ``erasure.AlertBoardPurger``, and on
``TenantErasureCompleted``) drops an erased tenant's or device's alerts at once.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Any

import attrs

from smdh.application.projections import Projection
from smdh.domain.alerts import alert as a
from smdh.domain.alerts.rules import Severity
from smdh.domain.shared.events import DomainEvent
from smdh.domain.tenancy import tenant as t

RECENT_CLEARED_PER_TENANT = 1000


@attrs.frozen
class AlertEntry:
    alert_id: str
    tenant_id: str
    rule_id: str
    device_id: str
    site_id: str | None
    sensor_type: str
    episode: int
    severity: Severity
    state: a.AlertState
    measure: str
    value: a.AlertValue
    threshold: a.AlertValue
    message: str
    latched: bool
    raised_at: datetime  # when the condition was observed (sample or tick time)
    opened_at: datetime  # when the alert was recorded (processing time)
    version: int
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    note: str = ""
    cleared_at: datetime | None = None
    clear_reason: str = ""
    condition_cleared: bool = False
    snoozed_until: datetime | None = None
    reminders: int = 0
    escalated_at: datetime | None = None
    last_notified_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state is not a.AlertState.CLEARED


class AlertBoard(Projection):
    def __init__(self) -> None:
        super().__init__()
        self._alerts: dict[str, AlertEntry] = {}
        self._latest: dict[tuple[str, str, str], int] = {}
        self._cleared: dict[str, deque[str]] = {}

    # --- queries ---------------------------------------------------------------------------

    def get(self, tenant_id: str, alert_id: str) -> AlertEntry | None:
        entry = self._alerts.get(alert_id)
        return entry if entry is not None and entry.tenant_id == tenant_id else None

    def latest_episode(self, tenant_id: str, rule_id: str, device_id: str) -> int:
        return self._latest.get((tenant_id, rule_id, device_id), 0)

    def open_alerts(self, tenant_id: str | None = None) -> list[AlertEntry]:
        with self._lock:
            return [
                e
                for e in self._alerts.values()
                if e.is_open and (tenant_id is None or e.tenant_id == tenant_id)
            ]

    def list(
        self,
        tenant_id: str,
        *,
        state: str | None = None,
        severity: str | None = None,
        site_id: str | None = None,
        device_id: str | None = None,
        open_only: bool = False,
    ) -> list[AlertEntry]:
        """Newest first. ``state`` is active, acknowledged or cleared."""
        with self._lock:
            found = [
                e
                for e in self._alerts.values()
                if e.tenant_id == tenant_id
                and (state is None or e.state == state)
                and (severity is None or e.severity == severity)
                and (site_id is None or e.site_id == site_id)
                and (device_id is None or e.device_id == device_id)
                and (not open_only or e.is_open)
            ]
        return sorted(found, key=lambda e: (e.opened_at, e.alert_id), reverse=True)

    def latest_keys(self) -> dict[tuple[str, str, str], int]:
        with self._lock:
            return dict(self._latest)

    # --- events ----------------------------------------------------------------------------

    def apply(self, event: DomainEvent) -> None:
        with self._lock:
            if isinstance(event, t.TenantErasureCompleted):
                self.forget(event.tenant_id)
            elif event.aggregate_id.startswith("alert:"):
                self._apply_alert(event)

    def _apply_alert(self, event: DomainEvent) -> None:
        if isinstance(event, a.AlertRaised):
            if event.aggregate_id in self._alerts:
                return
            self._alerts[event.aggregate_id] = _raised(event)
            key = (event.tenant_id, event.rule_id, event.device_id)
            self._latest[key] = max(self._latest.get(key, 0), event.episode)
            return
        entry = self._alerts.get(event.aggregate_id)
        if entry is None or event.version <= entry.version:
            return
        changes: dict[str, Any] = {"version": event.version}
        at = event.occurred_at
        match event:
            case a.AlertAcknowledged():
                changes.update(acknowledged_by=event.by, acknowledged_at=at, note=event.note)
                changes["state"] = a.AlertState.ACKNOWLEDGED
            case a.AlertCleared():
                changes.update(cleared_at=at, clear_reason=event.reason, value=event.value)
                changes["state"] = a.AlertState.CLEARED
            case a.AlertConditionCleared():
                changes["condition_cleared"] = True
            case a.AlertRetriggered():
                changes.update(condition_cleared=False, value=event.value)
            case a.AlertSnoozed():
                changes["snoozed_until"] = event.until
            case a.AlertEscalated():
                changes.update(severity=event.to_severity, escalated_at=at, last_notified_at=at)
            case a.AlertReminded():
                changes.update(reminders=event.count, last_notified_at=at)
        self._alerts[event.aggregate_id] = attrs.evolve(entry, **changes)
        if changes.get("state") is a.AlertState.CLEARED:
            self._remember_cleared(entry.tenant_id, event.aggregate_id)

    def _remember_cleared(self, tenant_id: str, alert_id: str) -> None:
        recent = self._cleared.setdefault(tenant_id, deque())
        recent.append(alert_id)
        while len(recent) > RECENT_CLEARED_PER_TENANT:
            self._alerts.pop(recent.popleft(), None)

    def forget(self, tenant_id: str, device_id: str | None = None) -> int:
        """Drop an erased tenant's (or one of its devices') alerts and episode numbers;
        returns how many alerts went. Their events are deleted from the store, so
        ``catch_up`` never brings them back, and a device registered again under the same
        id starts its alerts at episode 1, as after a restart."""

        def mine(tenant: str, device: str) -> bool:
            return tenant == tenant_id and (device_id is None or device == device_id)

        with self._lock:
            gone = {k for k, e in self._alerts.items() if mine(e.tenant_id, e.device_id)}
            for alert_id in gone:
                del self._alerts[alert_id]
            for key in [k for k in self._latest if mine(k[0], k[2])]:
                del self._latest[key]
            recent = self._cleared.pop(tenant_id, None)
            if device_id is not None and recent is not None:
                self._cleared[tenant_id] = deque(i for i in recent if i not in gone)
            return len(gone)


def _raised(event: a.AlertRaised) -> AlertEntry:
    return AlertEntry(
        alert_id=event.aggregate_id,
        tenant_id=event.tenant_id,
        rule_id=event.rule_id,
        device_id=event.device_id,
        site_id=event.site_id,
        sensor_type=event.sensor_type,
        episode=event.episode,
        severity=event.severity,
        state=a.AlertState.ACTIVE,
        measure=event.measure,
        value=event.value,
        threshold=event.threshold,
        message=event.message,
        latched=event.latched,
        raised_at=event.raised_at,
        opened_at=event.occurred_at,
        version=event.version,
        last_notified_at=event.occurred_at,
    )
