"""AlertRule: definition validation and the rule's lifecycle events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from smdh.domain.alerts import rules as r
from smdh.domain.shared.errors import InvariantViolation, ValidationError
from smdh.domain.shared.events import EventContext
from smdh.domain.shared.ids import RuleId, TenantId

CTX = EventContext(datetime(2026, 1, 5, 8, 0, tzinfo=UTC), "user:acme/bob")
LATER = EventContext(datetime(2026, 1, 9, 17, 0, tzinfo=UTC), "user:acme/alice")
MACHINES = r.RuleScope(sensor_type="machine")


def definition(**overrides: Any) -> r.RuleDefinition:
    args: dict[str, Any] = {
        "name": "Too hot",
        "scope": MACHINES,
        "measure": "temperature_c",
        "comparison": "gt",
        "threshold": 80,
    }
    args.update(overrides)
    return r.RuleDefinition.create(**args)


def state(rule: r.AlertRule) -> dict[str, Any]:
    return {k: v for k, v in vars(rule).items() if k != "_pending"}


def test_a_valid_definition_is_normalised() -> None:
    rule = definition(name="  Too hot ", channels=("email", "slack", "email"))
    assert rule.name == "Too hot"
    assert rule.comparison is r.Comparison.GT
    assert rule.threshold == 80.0
    assert isinstance(rule.threshold, float)
    assert rule.severity is r.Severity.WARNING
    assert rule.channels == (r.Channel.EMAIL, r.Channel.SLACK)
    assert rule.duration_s == 0


def test_defaults() -> None:
    rule = definition()
    assert rule.channels == (r.Channel.IN_APP,)
    assert rule.threshold_high is None


def test_outside_needs_a_high_bound_above_the_low_one() -> None:
    ok = definition(comparison="outside", threshold=10, threshold_high=20)
    assert (ok.threshold, ok.threshold_high) == (10.0, 20.0)
    with pytest.raises(ValidationError, match="threshold_high must be greater"):
        definition(comparison="outside", threshold=20, threshold_high=20)
    with pytest.raises(ValidationError, match="threshold_high must be greater"):
        definition(comparison="outside", threshold=20, threshold_high=10)
    with pytest.raises(ValidationError, match="'outside' needs"):
        definition(comparison="outside", threshold=20)
    with pytest.raises(ValidationError, match="text threshold"):
        definition(comparison="outside", threshold="hot", threshold_high=20)


def test_threshold_high_is_only_for_outside() -> None:
    with pytest.raises(ValidationError, match="only used with 'outside'"):
        definition(comparison="gt", threshold=1, threshold_high=2)


def test_a_text_threshold_high_is_a_validation_error() -> None:
    # {"threshold_high": "20"} in a JSON body must be a 400, not a TypeError from '>'.
    with pytest.raises(ValidationError):
        definition(comparison="outside", threshold=10, threshold_high="20")


@pytest.mark.parametrize("comparison", ["eq", "ne"])
def test_text_threshold_works_with_eq_and_ne(comparison: str) -> None:
    rule = definition(measure="state", comparison=comparison, threshold="offline")
    assert rule.threshold == "offline"


@pytest.mark.parametrize("comparison", ["gt", "ge", "lt", "le"])
def test_text_threshold_is_refused_with_ordering_comparisons(comparison: str) -> None:
    with pytest.raises(ValidationError, match="text threshold only works with eq or ne"):
        definition(measure="state", comparison=comparison, threshold="offline")


@pytest.mark.parametrize("threshold", [True, None, [1], float("nan"), float("inf")])
def test_threshold_must_be_a_finite_number_or_text(threshold: object) -> None:
    with pytest.raises(ValidationError, match="threshold"):
        definition(threshold=threshold)


@pytest.mark.parametrize(
    ("field", "value", "valid"),
    [
        ("comparison", "above", "gt, ge, lt, le, eq, ne, outside"),
        ("severity", "urgent", "info, warning, critical"),
        ("channels", ("pager",), "email, sms, slack, webhook, in_app"),
    ],
)
def test_bad_enum_values_name_the_valid_ones(field: str, value: object, valid: str) -> None:
    with pytest.raises(ValidationError) as info:
        definition(**{field: value})
    message = str(info.value)
    assert repr(value[0] if isinstance(value, tuple) else value) in message
    assert valid in message


def test_a_rule_needs_a_channel() -> None:
    with pytest.raises(ValidationError, match="at least one channel"):
        definition(channels=())


@pytest.mark.parametrize("duration", [0, 1, r.MAX_DURATION_S])
def test_duration_bounds_accept(duration: int) -> None:
    assert definition(duration_s=duration).duration_s == duration


@pytest.mark.parametrize("duration", [-1, r.MAX_DURATION_S + 1, 1.5, True, "60"])
def test_duration_bounds_reject(duration: object) -> None:
    with pytest.raises(ValidationError, match="duration_s"):
        definition(duration_s=duration)


@pytest.mark.parametrize("measure", ["", None, "m" * 65])
def test_measure_is_required_and_bounded(measure: object) -> None:
    with pytest.raises(ValidationError, match="measure"):
        definition(measure=measure)


def test_name_is_required() -> None:
    with pytest.raises(ValidationError, match="name"):
        definition(name="  ")


def test_define_records_alert_rule_defined() -> None:
    rule = r.AlertRule.define(TenantId("acme"), RuleId("hot"), definition(), CTX)
    [event] = rule.pending_events()
    assert isinstance(event, r.AlertRuleDefined)
    assert event.aggregate_id == "rule:acme:hot" == rule.id
    assert (event.version, event.tenant_id, event.actor) == (1, "acme", CTX.actor)
    assert event.occurred_at == CTX.occurred_at
    assert rule.enabled
    assert not rule.deleted
    assert rule.definition == definition()


def test_lifecycle_records_one_event_per_real_change() -> None:
    rule = r.AlertRule.define(TenantId("acme"), RuleId("hot"), definition(), CTX)
    rule.mark_committed()
    rule.update(definition(), LATER)  # unchanged
    rule.enable(LATER)  # already enabled
    assert rule.pending_events() == []

    rule.update(definition(threshold=90), LATER)
    rule.disable(LATER)
    rule.disable(LATER)  # already disabled
    rule.enable(LATER)
    rule.delete(LATER)
    kinds = [type(e) for e in rule.pending_events()]
    assert kinds == [
        r.AlertRuleUpdated,
        r.AlertRuleDisabled,
        r.AlertRuleEnabled,
        r.AlertRuleDeleted,
    ]
    assert [e.version for e in rule.pending_events()] == [2, 3, 4, 5]
    assert all(e.actor == LATER.actor for e in rule.pending_events())
    assert all(e.occurred_at == LATER.occurred_at for e in rule.pending_events())
    assert rule.definition is not None
    assert rule.definition.threshold == 90.0


@pytest.mark.parametrize(
    "action",
    [
        lambda x: x.update(definition(threshold=1), LATER),
        lambda x: x.enable(LATER),
        lambda x: x.disable(LATER),
        lambda x: x.delete(LATER),
    ],
    ids=["update", "enable", "disable", "delete"],
)
def test_a_deleted_rule_refuses_everything(action: Any) -> None:
    rule = r.AlertRule.define(TenantId("acme"), RuleId("hot"), definition(), CTX)
    rule.delete(CTX)
    with pytest.raises(InvariantViolation, match="deleted"):
        action(rule)
    assert rule.version == 2


def test_rule_state_is_the_fold_of_its_events() -> None:
    rule = r.AlertRule.define(TenantId("acme"), RuleId("hot"), definition(), CTX)
    rule.update(definition(severity="critical", channels=("email",)), LATER)
    rule.disable(LATER)
    rebuilt = r.AlertRule.rehydrate(rule.pending_events())
    assert rebuilt is not None
    assert state(rebuilt) == state(rule)
    assert not rebuilt.enabled
    assert rebuilt.definition is not None
    assert rebuilt.definition.severity is r.Severity.CRITICAL
