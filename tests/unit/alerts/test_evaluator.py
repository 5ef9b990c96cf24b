"""The pure evaluator: every rule kind, hysteresis, scopes, the tick, snapshots."""

from __future__ import annotations

import json
import math
import random
from typing import Any

from smdh.domain.alerts.evaluation_state import EvaluationState
from smdh.domain.alerts.evaluator import (
    Action,
    RuleIndex,
    Transition,
    evaluate_batch,
    evaluate_tick,
    retire,
)
from smdh.domain.alerts.rule_index import CompiledRule
from smdh.domain.alerts.rules import RuleDefinition, RuleScope
from smdh.domain.telemetry import DeviceSample

T0 = 1_767_600_000.0


def rule(rule_id: str, tenant: str = "acme", **fields: Any) -> CompiledRule:
    base: dict[str, Any] = {
        "scope": RuleScope(sensor_type="air_quality"),
        "measure": "co2_ppm",
        "comparison": "ge",
        "threshold": 5000.0,
    }
    base |= fields
    definition = RuleDefinition.create(
        rule_id,
        base.pop("scope"),
        base.pop("measure"),
        base.pop("comparison"),
        base.pop("threshold"),
        **base,
    )
    return CompiledRule(tenant, rule_id, definition)


def sample(
    t: float,
    device: str = "a-1",
    tenant: str = "acme",
    site: str = "plant-1",
    sensor_type: str = "air_quality",
    **values: Any,
) -> DeviceSample:
    return DeviceSample(tenant, site, device, sensor_type, T0 + t, values)


def feed(index: RuleIndex, state: EvaluationState, *samples: DeviceSample) -> list[Transition]:
    return evaluate_batch(index, samples, state)


def actions(transitions: list[Transition]) -> list[tuple[str, str, int]]:
    return [(t.action.value, t.rule_id, t.episode) for t in transitions]


def test_threshold_raises_once_and_clears() -> None:
    index, state = RuleIndex([rule("co2")]), EvaluationState()
    assert actions(feed(index, state, sample(0, co2_ppm=6000))) == [("raise", "co2", 1)]
    assert feed(index, state, sample(1, co2_ppm=6000)) == []
    (cleared,) = feed(index, state, sample(2, co2_ppm=800))
    assert (cleared.action, cleared.value, cleared.episode) == (Action.CLEAR, 800.0, 1)
    assert actions(feed(index, state, sample(3, co2_ppm=5000))) == [("raise", "co2", 2)]


def test_every_comparison() -> None:
    cases = [
        ("gt", 10.0, None, 11, 10),
        ("ge", 10.0, None, 10, 9.9),
        ("lt", 10.0, None, 9, 10),
        ("le", 10.0, None, 10, 10.1),
        ("outside", 10.0, 20.0, 21, 15),
        ("outside", 10.0, 20.0, 9, 10),
    ]
    for comparison, low, high, bad, good in cases:
        index = RuleIndex([rule("r", comparison=comparison, threshold=low, threshold_high=high)])
        state = EvaluationState()
        assert actions(feed(index, state, sample(0, co2_ppm=bad))) == [("raise", "r", 1)], (
            comparison
        )
        assert actions(feed(index, state, sample(1, co2_ppm=good))) == [("clear", "r", 1)]


def test_hysteresis_band() -> None:
    index, state = RuleIndex([rule("co2", clear_threshold=4500.0)]), EvaluationState()
    assert len(feed(index, state, sample(0, co2_ppm=5000))) == 1
    assert feed(index, state, sample(1, co2_ppm=4600), sample(2, co2_ppm=5100)) == []
    assert actions(feed(index, state, sample(3, co2_ppm=4400))) == [("clear", "co2", 1)]


def test_sustained_condition_waits_for_its_duration() -> None:
    index, state = (
        RuleIndex([rule("co2", comparison="gt", threshold=2000.0, duration_s=600)]),
        EvaluationState(),
    )
    assert feed(index, state, sample(0, co2_ppm=2500), sample(300, co2_ppm=2600)) == []
    assert feed(index, state, sample(400, co2_ppm=1500)) == []  # interrupted: starts again
    assert feed(index, state, sample(500, co2_ppm=2500), sample(1000, co2_ppm=2500)) == []
    assert actions(feed(index, state, sample(1100, co2_ppm=2500))) == [("raise", "co2", 1)]


def test_the_tick_raises_a_sustained_condition_without_new_samples() -> None:
    offline = rule(
        "offline",
        scope=RuleScope(sensor_type="machine"),
        measure="state",
        comparison="eq",
        threshold="offline",
        duration_s=900,
        kind="state_duration",
    )
    index, state = RuleIndex([offline]), EvaluationState()
    assert feed(index, state, sample(0, "m-1", sensor_type="machine", state="offline")) == []
    assert evaluate_tick(index, T0 + 899, state) == []
    (raised,) = evaluate_tick(index, T0 + 900, state)
    assert (raised.action, raised.value, raised.sensor_type) == (Action.RAISE, "offline", "machine")
    assert evaluate_tick(index, T0 + 2000, state) == []
    (cleared,) = feed(index, state, sample(2001, "m-1", sensor_type="machine", state="running"))
    assert cleared.action is Action.CLEAR


def test_absence_raises_on_the_tick_and_clears_when_data_returns() -> None:
    silent = rule(
        "silent", kind="absence", measure="*", comparison="gt", threshold=0, duration_s=300
    )
    index, state = RuleIndex([silent]), EvaluationState()
    feed(index, state, sample(0, co2_ppm=500), sample(0, "m-1", sensor_type="machine", state="on"))
    assert evaluate_tick(index, T0 + 299, state) == []
    (raised,) = evaluate_tick(index, T0 + 300, state)  # m-1 is a machine: out of scope
    assert (raised.device_id, raised.rule_id, raised.value) == ("a-1", "silent", 300.0)
    assert evaluate_tick(index, T0 + 400, state) == []
    feed(index, state, sample(401, co2_ppm=500))
    assert actions(evaluate_tick(index, T0 + 402, state)) == [("clear", "silent", 1)]


def test_rate_of_change_over_a_window() -> None:
    index = RuleIndex(
        [rule("rise", comparison="gt", threshold=10.0, kind="rate_of_change", window_s=60)]
    )
    state = EvaluationState()
    assert feed(index, state, sample(0, co2_ppm=1000), sample(30, co2_ppm=1200)) == []
    (raised,) = feed(index, state, sample(60, co2_ppm=1700))  # 700 ppm in 60 s
    assert raised.action is Action.RAISE and math.isclose(float(raised.value or 0), 700 / 60)
    assert feed(index, state, sample(90, co2_ppm=1850)) == []  # (1850 - 1200) / 60 > 10
    # the window has forgotten t=30 and t=60: from 1850 at 90 to 1860 at 150 is < 1/s
    assert actions(feed(index, state, sample(150, co2_ppm=1860))) == [("clear", "rise", 1)]


def test_consecutive_rate_of_change() -> None:
    index = RuleIndex([rule("drop", comparison="lt", threshold=-5.0, kind="rate_of_change")])
    state = EvaluationState()
    assert feed(index, state, sample(0, co2_ppm=1000), sample(10, co2_ppm=990)) == []
    assert actions(feed(index, state, sample(20, co2_ppm=800))) == [("raise", "drop", 1)]


def test_anomaly_warms_up_then_flags_deviations() -> None:
    index = RuleIndex(
        [
            rule(
                "odd",
                comparison="outside",
                threshold=0.0,
                threshold_high=1.0,
                kind="anomaly",
                warmup=50,
                z_threshold=4.0,
            )
        ]
    )
    state = EvaluationState()
    rng = random.Random(3)
    normal = [sample(i, co2_ppm=800 + rng.gauss(0, 10)) for i in range(49)]
    assert feed(index, state, *normal) == []
    assert feed(index, state, sample(49, co2_ppm=5000)) == []  # still warming up: no verdict
    more = [sample(50 + i, co2_ppm=800 + rng.gauss(0, 10)) for i in range(200)]
    assert feed(index, state, *more) == []
    (raised,) = feed(index, state, sample(300, co2_ppm=3000))
    assert raised.action is Action.RAISE and raised.value == 3000.0 and "z-score" in raised.reason
    assert actions(feed(index, state, sample(301, co2_ppm=800))) == [("clear", "odd", 1)]


def test_anomaly_with_a_forgetting_window_adapts() -> None:
    index = RuleIndex(
        [
            rule(
                "odd",
                comparison="gt",
                threshold=0.0,
                kind="anomaly",
                warmup=10,
                window=20,
                z_threshold=6.0,
            )
        ]
    )
    state = EvaluationState()
    rng = random.Random(5)
    assert feed(index, state, *[sample(i, co2_ppm=800 + rng.gauss(0, 5)) for i in range(100)]) == []
    assert len(feed(index, state, sample(100, co2_ppm=1200))) == 1
    # a new normal level: the exponentially weighted statistics follow it and the alert clears
    later = feed(
        index, state, *[sample(101 + i, co2_ppm=1200 + rng.gauss(0, 5)) for i in range(100)]
    )
    assert [t.action for t in later][-1] is Action.CLEAR


def test_window_average_needs_a_covered_window() -> None:
    index = RuleIndex([rule("twa", kind="window_average", window_s=8 * 3600)])
    state = EvaluationState()
    hourly = [sample(h * 3600, co2_ppm=6000) for h in range(8)]
    assert feed(index, state, *hourly) == []  # 7 hours of data only
    (raised,) = feed(index, state, sample(8 * 3600, co2_ppm=6000))
    assert raised.action is Action.RAISE and raised.value == 6000.0
    lower = [sample(8 * 3600 + h * 3600, co2_ppm=3000) for h in range(1, 5)]
    result = feed(index, state, *lower)  # the average falls below 5000 after a few hours
    assert actions(result) == [("clear", "twa", 1)]
    assert state.rules[("acme", "twa", "a-1")].buckets is not None
    assert len(state.rules[("acme", "twa", "a-1")].buckets or ()) <= 61


def test_scopes_tenant_site_type_device() -> None:
    rules = [
        rule("tenant-wide", scope=RuleScope(), threshold=100.0),
        rule("site", scope=RuleScope(site_id="plant-2"), threshold=100.0),
        rule("device", scope=RuleScope(device_id="a-2"), threshold=100.0),
        rule("type", scope=RuleScope(sensor_type="air_quality"), threshold=100.0),
        rule(
            "machines",
            scope=RuleScope(sensor_type="machine"),
            measure="temperature_c",
            threshold=1.0,
        ),
        rule("other-tenant", tenant="globex", scope=RuleScope(), threshold=100.0),
    ]
    index, state = RuleIndex(rules), EvaluationState()
    found = feed(
        index,
        state,
        sample(0, "a-1", co2_ppm=200),
        sample(0, "a-2", site="plant-2", co2_ppm=200),
    )
    assert sorted((t.device_id, t.rule_id) for t in found) == [
        ("a-1", "tenant-wide"),
        ("a-1", "type"),
        ("a-2", "device"),
        ("a-2", "site"),
        ("a-2", "tenant-wide"),
        ("a-2", "type"),
    ]
    assert len(index.rules_for("acme", "air_quality", "co2_ppm")) == 4
    assert [r.rule_id for r in index.candidates("globex", "air_quality", "p", "a-1")] == [
        "other-tenant"
    ]


def test_a_device_moving_site_is_rebound() -> None:
    index = RuleIndex([rule("site", scope=RuleScope(site_id="plant-2"), threshold=100.0)])
    state = EvaluationState()
    assert feed(index, state, sample(0, co2_ppm=200)) == []
    assert len(feed(index, state, sample(1, site="plant-2", co2_ppm=200))) == 1


def test_text_values_for_numeric_rules_are_ignored() -> None:
    index, state = (
        RuleIndex(
            [rule("co2"), rule("rate", kind="rate_of_change", comparison="gt", threshold=1.0)]
        ),
        EvaluationState(),
    )
    assert feed(index, state, sample(0, co2_ppm="high")) == []


def test_retire_clears_raised_alerts_of_removed_rules() -> None:
    index, state = RuleIndex([rule("co2"), rule("other", threshold=1.0)]), EvaluationState()
    feed(index, state, sample(0, co2_ppm=6000))
    smaller = RuleIndex([rule("other", threshold=1.0)])
    (cleared,) = retire(smaller, state, T0 + 5)
    assert (cleared.action, cleared.rule_id, cleared.definition) == (Action.CLEAR, "co2", None)
    assert ("acme", "co2", "a-1") not in state.rules
    assert feed(smaller, state, sample(6, co2_ppm=6000)) == []


def test_state_snapshots_round_trip_and_track_changes() -> None:
    rules = [
        rule("co2"),
        rule("sustained", comparison="gt", threshold=2000.0, duration_s=600),
        rule("rate", comparison="gt", threshold=10.0, kind="rate_of_change", window_s=60),
        rule(
            "odd", comparison="outside", threshold=0.0, threshold_high=1.0, kind="anomaly", warmup=5
        ),
        rule("twa", kind="window_average", window_s=3600),
    ]
    index, state = RuleIndex(rules), EvaluationState()
    feed(index, state, *[sample(i * 10, co2_ppm=6000 + i) for i in range(20)])
    changes, seen = state.take_changes()
    assert "acme|co2|a-1" in changes and seen == {"acme|a-1": [T0 + 190, "plant-1", "air_quality"]}
    assert state.take_changes() == ({}, {})
    feed(index, state, sample(200, co2_ppm=6000))
    changed, _ = state.take_changes()
    assert "acme|co2|a-1" not in changed  # still raised: nothing to save for it
    restored = EvaluationState.from_json(json.loads(json.dumps(state.to_json())))
    assert restored.to_json() == state.to_json()
    assert ("acme", "sustained", "a-1") in restored.pending  # 200 of its 600 s so far
    # the restored state continues where the old one stopped
    assert feed(index, restored, sample(210, co2_ppm=6000)) == []
    assert actions(feed(index, restored, sample(220, co2_ppm=100)))[0] == ("clear", "co2", 1)


def test_the_index_keys_by_tenant_type_and_measure() -> None:
    rules = [rule(f"r{i}", tenant=f"t{i % 3}", threshold=float(i)) for i in range(30)]
    rules.append(rule("any-type", tenant="t0", scope=RuleScope()))
    index = RuleIndex(rules)
    assert len(index) == 31
    assert len(index.rules_for("t0", "air_quality", "co2_ppm")) == 11
    assert index.rules_for("t0", "air_quality", "pm25_ugm3") == []
    assert index.rule("t1", "r1") is not None and index.rule("t1", "r0") is None
