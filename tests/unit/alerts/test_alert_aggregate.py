"""The Alert aggregate's lifecycle: raised, acknowledged, cleared; latched; snooze, escalate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smdh.adapters.serialization import EventSerializer
from smdh.domain.alerts import alert as a
from smdh.domain.alerts.rules import Severity
from smdh.domain.shared.errors import InvariantViolation, ValidationError
from smdh.domain.shared.events import EventContext
from smdh.domain.shared.ids import DeviceId, RuleId, SiteId

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def ctx(seconds: float = 0, actor: str = "system:alerting") -> EventContext:
    return EventContext(T0 + timedelta(seconds=seconds), actor)


def raised(*, latched: bool = False, severity: Severity = Severity.WARNING) -> a.Alert:
    alert = a.Alert.raise_(
        tenant_id="acme",
        rule_id=RuleId("co2"),
        device_id=DeviceId("a-1"),
        episode=1,
        site_id=SiteId("plant-1"),
        sensor_type="air_quality",
        severity=severity,
        measure="co2_ppm",
        value=6000.0,
        threshold=5000.0,
        message="co2 high",
        latched=latched,
        raised_at=T0,
        ctx=ctx(),
    )
    alert.mark_committed()
    return alert


def test_id_is_derived_from_rule_device_and_episode() -> None:
    alert = raised()
    assert alert.id == "alert:acme:co2:a-1:1" == a.alert_aggregate_id("acme", "co2", "a-1", 1)
    assert a.parse_alert_id(alert.id) == ("acme", "co2", "a-1", 1)
    assert alert.state is a.AlertState.ACTIVE and alert.is_open and alert.version == 1
    with pytest.raises(ValidationError):
        a.parse_alert_id("rule:acme:co2")


def test_raised_acknowledged_cleared() -> None:
    alert = raised()
    alert.acknowledge("user:acme/bob", "on it", ctx(10, "user:acme/bob"))
    assert alert.state is a.AlertState.ACKNOWLEDGED and alert.ack_note == "on it"
    alert.clear(800.0, "condition cleared", ctx(20))
    assert alert.state is a.AlertState.CLEARED and not alert.is_open
    assert [type(e) for e in alert.pending_events()] == [a.AlertAcknowledged, a.AlertCleared]
    alert.clear(700.0, "again", ctx(30))  # clearing a cleared alert changes nothing
    assert alert.version == 3


def test_acknowledging_twice_or_after_clearing_is_an_error() -> None:
    alert = raised()
    alert.acknowledge("bob", "", ctx(1))
    with pytest.raises(InvariantViolation):
        alert.acknowledge("bob", "", ctx(2))
    other = raised()
    other.clear(1.0, "ok", ctx(1))
    with pytest.raises(InvariantViolation):
        other.acknowledge("bob", "", ctx(2))


def test_latched_alert_clears_only_on_acknowledgement() -> None:
    alert = raised(latched=True)
    alert.clear(800.0, "condition cleared", ctx(10))
    assert alert.state is a.AlertState.ACTIVE and alert.condition_cleared
    alert.clear(700.0, "still clear", ctx(11))  # recorded once
    alert.acknowledge("bob", "seen", ctx(20))
    assert alert.state is a.AlertState.CLEARED and alert.clear_reason == "acknowledged"
    assert [type(e) for e in alert.pending_events()] == [
        a.AlertConditionCleared,
        a.AlertAcknowledged,
        a.AlertCleared,
    ]


def test_latched_acknowledged_first_clears_with_the_condition() -> None:
    alert = raised(latched=True)
    alert.acknowledge("bob", "", ctx(1))
    assert alert.state is a.AlertState.ACKNOWLEDGED
    alert.clear(800.0, "condition cleared", ctx(2))
    assert alert.state is a.AlertState.CLEARED


def test_retrigger_of_a_latched_alert() -> None:
    alert = raised(latched=True)
    alert.clear(800.0, "cleared", ctx(1))
    alert.retrigger(6100.0, ctx(2))
    assert not alert.condition_cleared and alert.value == 6100.0
    alert.acknowledge("bob", "", ctx(3))
    assert alert.state is a.AlertState.ACKNOWLEDGED  # the condition holds again
    alert.retrigger(6200.0, ctx(4))  # no-op: nothing to retrigger
    assert not isinstance(alert.pending_events()[-1], a.AlertRetriggered)


def test_snooze_escalate_remind() -> None:
    alert = raised(severity=Severity.INFO)
    with pytest.raises(ValidationError):
        alert.snooze(T0, ctx(5))
    alert.snooze(T0 + timedelta(minutes=30), ctx(5))
    assert alert.is_snoozed(T0 + timedelta(minutes=29))
    assert not alert.is_snoozed(T0 + timedelta(minutes=30))
    alert.escalate(Severity.WARNING, ctx(6))
    alert.escalate(Severity.CRITICAL, ctx(7))
    with pytest.raises(InvariantViolation):
        alert.escalate(Severity.CRITICAL, ctx(8))
    alert.remind(ctx(9))
    alert.remind(ctx(10))
    assert (alert.severity, alert.reminders, alert.escalations) == (Severity.CRITICAL, 2, 2)
    alert.acknowledge("bob", "", ctx(11))
    with pytest.raises(InvariantViolation):
        alert.remind(ctx(12))
    with pytest.raises(InvariantViolation):
        alert.escalate(Severity.CRITICAL, ctx(12))


def test_events_round_trip_through_the_serializer_and_rehydrate() -> None:
    alert = raised(latched=True)
    stream = alert.pending_events()  # empty: raised() committed the AlertRaised
    alert = a.Alert.rehydrate(
        a.Alert.raise_(
            tenant_id="acme",
            rule_id=RuleId("co2"),
            device_id=DeviceId("a-1"),
            episode=1,
            site_id=None,
            sensor_type="air_quality",
            severity=Severity.WARNING,
            measure="co2_ppm",
            value="smoke",
            threshold=None,
            message="m",
            latched=True,
            raised_at=T0,
            ctx=ctx(),
        ).pending_events()
    )
    assert alert is not None and stream == []
    alert.snooze(T0 + timedelta(hours=1), ctx(1))
    alert.remind(ctx(2))
    alert.escalate(Severity.CRITICAL, ctx(3))
    alert.clear("off", "cleared", ctx(4))
    alert.retrigger(None, ctx(5))
    alert.acknowledge("bob", "n", ctx(6))
    alert.clear(1.5, "cleared", ctx(7))
    serializer = EventSerializer()
    events = alert.pending_events()
    assert [serializer.deserialize(serializer.serialize(e)) for e in events] == events
