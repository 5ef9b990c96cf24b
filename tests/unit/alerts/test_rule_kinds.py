"""Rule kinds and their fields: validation, defaults, backwards compatibility of stored rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smdh.adapters.serialization import EventSerializer, SerializedEvent
from smdh.domain.alerts.defaults import default_rule_id, default_rules_for
from smdh.domain.alerts.rules import AlertRuleDefined, RuleDefinition, RuleKind, RuleScope
from smdh.domain.sensors.registry import default_registry
from smdh.domain.shared.errors import ValidationError

SCOPE = RuleScope(sensor_type="air_quality")


def make(**fields: Any) -> RuleDefinition:
    base: dict[str, Any] = {"measure": "co2_ppm", "comparison": "ge", "threshold": 5000.0}
    base |= fields
    return RuleDefinition.create(
        "r", SCOPE, base.pop("measure"), base.pop("comparison"), base.pop("threshold"), **base
    )


def test_threshold_is_the_default_kind() -> None:
    rule = make()
    assert rule.kind is RuleKind.THRESHOLD and rule.clear_threshold is None
    assert not rule.latched and rule.escalate_after_s == 0 and rule.remind_every_s == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "nope"}, "kinds"),
        ({"kind": "absence"}, "duration_s"),
        ({"kind": "state_duration", "duration_s": 60}, "text state"),
        ({"kind": "state_duration", "comparison": "eq", "threshold": "offline"}, "duration_s"),
        ({"kind": "window_average"}, "window_s"),
        ({"kind": "rate_of_change", "comparison": "eq", "threshold": "x"}, "numeric"),
        ({"kind": "anomaly", "z_threshold": 0}, "z_threshold"),
        ({"kind": "anomaly", "warmup": 1}, "warmup"),
        ({"clear_threshold": 5100.0}, "not be above"),
        ({"comparison": "lt", "clear_threshold": 4000.0}, "not be below"),
        ({"comparison": "eq", "threshold": "x", "clear_threshold": 1.0}, "numeric"),
        ({"kind": "anomaly", "clear_threshold": 1.0}, "does not apply"),
        ({"measure": "*"}, "absence"),
        ({"window_s": -1}, "window_s"),
        ({"remind_every_s": True}, "remind_every_s"),
    ],
)
def test_invalid_kind_fields_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make(**fields)


def test_valid_kinds() -> None:
    assert make(kind="absence", measure="*", duration_s=300).kind is RuleKind.ABSENCE
    offline = make(kind="state_duration", comparison="eq", threshold="offline", duration_s=900)
    assert offline.kind is RuleKind.STATE_DURATION
    assert make(kind="rate_of_change", comparison="gt", threshold=10.0, window_s=60).window_s == 60
    assert make(kind="window_average", window_s=28_800).window_s == 28_800
    anomaly = make(kind="anomaly", comparison="outside", threshold=0.0, threshold_high=1.0)
    assert anomaly.z_threshold == 3.0 and anomaly.warmup == 30
    assert make(clear_threshold=4500).clear_threshold == 4500.0


def test_rules_stored_before_the_new_fields_load_unchanged() -> None:
    old_payload = {
        "rule_id": "co2",
        "definition": {
            "name": "co2",
            "scope": {"site_id": None, "sensor_type": "air_quality", "device_id": None},
            "measure": "co2_ppm",
            "comparison": "ge",
            "threshold": 5000.0,
            "threshold_high": None,
            "duration_s": 0,
            "severity": "critical",
            "channels": ["in_app"],
        },
    }
    record = SerializedEvent(
        aggregate_id="rule:acme:co2",
        version=1,
        tenant_id="acme",
        event_type="AlertRuleDefined",
        schema_version=1,
        occurred_at="2026-01-05T08:00:00+00:00",
        actor="user:acme/bob",
        data=json.dumps(old_payload),
    )
    event = EventSerializer().deserialize(record)
    assert isinstance(event, AlertRuleDefined)
    assert event.definition.kind is RuleKind.THRESHOLD
    assert event.definition.clear_threshold is None and event.definition.warmup == 30


def test_default_rules_of_every_sensor_type() -> None:
    registry = default_registry()
    air = {r.name: r for r in default_rules_for(registry.get("air_quality"))}
    assert air["co2-dangerous"].threshold == 5000.0 and air["co2-dangerous"].severity == "critical"
    assert air["co2-dangerous"].clear_threshold == 4750.0
    assert air["co2-high"].comparison == "gt" and air["co2-high"].threshold == 2000.0
    assert air["co2-8h-average"].kind is RuleKind.WINDOW_AVERAGE
    assert air["co2-8h-average"].window_s == 8 * 3600
    assert air["pm25-nowcast-high"].threshold == 35.5
    machine = {r.name: r for r in default_rules_for(registry.get("machine"))}
    offline = machine["machine-offline"]
    assert offline.kind is RuleKind.STATE_DURATION and offline.duration_s == 900
    assert default_rule_id("machine", offline) == "default-machine-machine-offline"
    for sensor_type in registry:
        for rule in default_rules_for(sensor_type):
            assert rule.scope == RuleScope(sensor_type=sensor_type.name)
