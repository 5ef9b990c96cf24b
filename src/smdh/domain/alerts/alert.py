"""The Alert aggregate: one episode of one rule firing for one device.

Its id is derived from (tenant, rule, device, episode), so two evaluators racing to raise the
same alert append version 1 of the same stream and the event store's optimistic concurrency
lets exactly one of them win.

Lifecycle (every transition is an event, so the stream is the audit log)::

    raised (active) --acknowledge--> acknowledged --clear--> cleared
    raised (active) --clear--------> cleared              (non-latched rules)

Decisions:

* ``acknowledge`` on an alert that is already acknowledged or cleared raises
  ``InvariantViolation`` (HTTP 409): an acknowledgement is a person's statement and saying it
  twice is a mistake worth reporting, not something to hide.
* Latched rules: when the condition clears before anyone acknowledged, ``clear`` records
  ``AlertConditionCleared`` and the alert stays ``active``; the later ``acknowledge``
  records ``AlertAcknowledged`` followed by ``AlertCleared(reason="acknowledged")``. If the
  condition comes back before the acknowledgement, ``retrigger`` records
  ``AlertRetriggered`` and the alert again waits for its condition to clear.
* ``clear`` on a cleared alert is a no-op (the evaluator may repeat itself after a restart).
* Escalation and reminders only apply to open, unacknowledged, un-snoozed alerts; the
  application decides *when*, the aggregate checks they make sense.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import attrs

from smdh.domain.alerts.rules import Severity
from smdh.domain.shared.aggregate import Aggregate
from smdh.domain.shared.errors import InvariantViolation, ValidationError
from smdh.domain.shared.events import DomainEvent, EventContext
from smdh.domain.shared.ids import DeviceId, RuleId, SiteId, TenantId
from smdh.domain.shared.values import bounded_text

AlertValue = float | str | None

SEVERITY_ORDER = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def alert_aggregate_id(tenant_id: str, rule_id: str, device_id: str, episode: int) -> str:
    return f"alert:{tenant_id}:{rule_id}:{device_id}:{episode}"


def parse_alert_id(alert_id: str) -> tuple[str, str, str, int]:
    """(tenant, rule, device, episode) of an alert aggregate id; ``ValidationError`` if bad."""
    parts = alert_id.split(":")
    # rule and device ids may contain ':' themselves only if the caller built them so; the
    # tenant is a slug and the episode a number, so split from both ends.
    if len(parts) < 5 or parts[0] != "alert" or not parts[-1].isdigit():
        raise ValidationError(f"not an alert id: {alert_id[:80]!r}")
    return parts[1], parts[2], ":".join(parts[3:-1]), int(parts[-1])


class AlertState(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


# --- events --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AlertRaised(DomainEvent):
    rule_id: RuleId
    device_id: DeviceId
    site_id: SiteId | None
    sensor_type: str
    episode: int
    severity: Severity
    measure: str
    value: AlertValue
    threshold: AlertValue
    message: str
    latched: bool
    raised_at: datetime


@attrs.frozen(kw_only=True)
class AlertAcknowledged(DomainEvent):
    by: str
    note: str


@attrs.frozen(kw_only=True)
class AlertCleared(DomainEvent):
    value: AlertValue
    reason: str


@attrs.frozen(kw_only=True)
class AlertConditionCleared(DomainEvent):
    """A latched alert's condition is gone; it stays active until acknowledged."""

    value: AlertValue
    reason: str


@attrs.frozen(kw_only=True)
class AlertRetriggered(DomainEvent):
    """A latched alert's condition came back before anyone acknowledged it."""

    value: AlertValue


@attrs.frozen(kw_only=True)
class AlertSnoozed(DomainEvent):
    until: datetime


@attrs.frozen(kw_only=True)
class AlertEscalated(DomainEvent):
    from_severity: Severity
    to_severity: Severity


@attrs.frozen(kw_only=True)
class AlertReminded(DomainEvent):
    count: int


# --- aggregate -----------------------------------------------------------------------------


class Alert(Aggregate):
    prefix = "alert"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.rule_id = RuleId("unset")
        self.device_id = DeviceId("unset")
        self.site_id: SiteId | None = None
        self.sensor_type = ""
        self.episode = 0
        self.severity = Severity.WARNING
        self.measure = ""
        self.value: AlertValue = None
        self.threshold: AlertValue = None
        self.message = ""
        self.latched = False
        self.raised_at: datetime | None = None
        self.acknowledged_by: str | None = None
        self.acknowledged_at: datetime | None = None
        self.ack_note = ""
        self.cleared_at: datetime | None = None
        self.clear_reason = ""
        self.condition_cleared = False
        self.snoozed_until: datetime | None = None
        self.reminders = 0
        self.last_notified_at: datetime | None = None
        self.escalations = 0

    @classmethod
    def raise_(
        cls,
        *,
        tenant_id: TenantId | str,
        rule_id: RuleId,
        device_id: DeviceId,
        episode: int,
        site_id: SiteId | None,
        sensor_type: str,
        severity: Severity,
        measure: str,
        value: AlertValue,
        threshold: AlertValue,
        message: str,
        latched: bool,
        raised_at: datetime,
        ctx: EventContext,
    ) -> Alert:
        if episode < 1:
            raise ValidationError("episode numbers start at 1")
        alert = cls(alert_aggregate_id(tenant_id, rule_id, device_id, episode))
        alert._record(
            AlertRaised,
            ctx,
            tenant_id=tenant_id,
            rule_id=rule_id,
            device_id=device_id,
            site_id=site_id,
            sensor_type=sensor_type,
            episode=episode,
            severity=severity,
            measure=measure,
            value=value,
            threshold=threshold,
            message=message[:500],
            latched=latched,
            raised_at=raised_at,
        )
        return alert

    # --- queries ---------------------------------------------------------------------------

    @property
    def state(self) -> AlertState:
        if self.cleared_at is not None:
            return AlertState.CLEARED
        if self.acknowledged_by is not None:
            return AlertState.ACKNOWLEDGED
        return AlertState.ACTIVE

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None

    def is_snoozed(self, now: datetime) -> bool:
        return self.snoozed_until is not None and now < self.snoozed_until

    # --- commands --------------------------------------------------------------------------

    def acknowledge(self, by: str, note: str, ctx: EventContext) -> None:
        if not self.is_open:
            raise InvariantViolation(f"alert {self.id} is already cleared")
        if self.acknowledged_by is not None:
            raise InvariantViolation(f"alert {self.id} is already acknowledged")
        self._record(
            AlertAcknowledged,
            ctx,
            by=bounded_text(by, "by", max_length=128),
            note=bounded_text(note, "note", max_length=1000, allow_empty=True),
        )
        if self.latched and self.condition_cleared:
            self._record(AlertCleared, ctx, value=self.value, reason="acknowledged")

    def clear(self, value: AlertValue, reason: str, ctx: EventContext) -> None:
        """The condition is gone. Latched and unacknowledged: remembered, stays active."""
        if not self.is_open:
            return
        if self.latched and self.acknowledged_by is None:
            if not self.condition_cleared:
                self._record(AlertConditionCleared, ctx, value=value, reason=reason)
            return
        self._record(AlertCleared, ctx, value=value, reason=reason)

    def retrigger(self, value: AlertValue, ctx: EventContext) -> None:
        """The condition is back while the alert is still open; only matters when latched."""
        if self.is_open and self.condition_cleared:
            self._record(AlertRetriggered, ctx, value=value)

    def snooze(self, until: datetime, ctx: EventContext) -> None:
        if not self.is_open:
            raise InvariantViolation(f"alert {self.id} is already cleared")
        if until <= ctx.occurred_at:
            raise ValidationError("snooze until a time in the future")
        self._record(AlertSnoozed, ctx, until=until)

    def escalate(self, to_severity: Severity, ctx: EventContext) -> None:
        if not self.is_open or self.acknowledged_by is not None:
            raise InvariantViolation(f"alert {self.id} is not open and unacknowledged")
        if SEVERITY_ORDER[to_severity] <= SEVERITY_ORDER[self.severity]:
            raise InvariantViolation("escalation must raise the severity")
        self._record(AlertEscalated, ctx, from_severity=self.severity, to_severity=to_severity)

    def remind(self, ctx: EventContext) -> None:
        if not self.is_open or self.acknowledged_by is not None:
            raise InvariantViolation(f"alert {self.id} is not open and unacknowledged")
        self._record(AlertReminded, ctx, count=self.reminders + 1)

    # --- fold ------------------------------------------------------------------------------

    def apply(self, event: DomainEvent) -> None:
        match event:
            case AlertRaised():
                self.rule_id = event.rule_id
                self.device_id = event.device_id
                self.site_id = event.site_id
                self.sensor_type = event.sensor_type
                self.episode = event.episode
                self.severity = event.severity
                self.measure = event.measure
                self.value = event.value
                self.threshold = event.threshold
                self.message = event.message
                self.latched = event.latched
                self.raised_at = event.raised_at
                self.last_notified_at = event.occurred_at
            case AlertAcknowledged():
                self.acknowledged_by = event.by
                self.acknowledged_at = event.occurred_at
                self.ack_note = event.note
            case AlertCleared():
                self.cleared_at = event.occurred_at
                self.clear_reason = event.reason
                self.value = event.value
            case AlertConditionCleared():
                self.condition_cleared = True
            case AlertRetriggered():
                self.condition_cleared = False
                self.value = event.value
            case AlertSnoozed():
                self.snoozed_until = event.until
            case AlertEscalated():
                self.severity = event.to_severity
                self.escalations += 1
                self.last_notified_at = event.occurred_at
            case AlertReminded():
                self.reminders = event.count
                self.last_notified_at = event.occurred_at
