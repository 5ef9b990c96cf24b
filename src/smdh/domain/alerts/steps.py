"""The evaluator's decisions: raise/clear transitions and the per-kind steps.

``evaluator.evaluate_batch`` settles most samples with the quiet-interval groups of
``bindings``; what is left comes here: ``group`` walks a group whose interval a value left
(or one with a raised or pending rule), and one step function per rule kind (``STEPS``,
chosen once per binding, not per sample) turns a value into the number the rule compares
(the value, a rate, a window average, a z-score) and hands it to ``decide``, which applies
the raise / hold / clear and duration logic and records what must be saved.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import attrs

from smdh.domain.alerts.anomaly import AnomalyModel, ZScoreModel
from smdh.domain.alerts.bindings import Group, busy
from smdh.domain.alerts.evaluation_state import EvaluationState, RuleDeviceState, RuleKey
from smdh.domain.alerts.rule_index import CompiledRule
from smdh.domain.alerts.rules import RuleDefinition, RuleKind
from smdh.domain.telemetry import DeviceSample

Value = float | str | None


class Action(StrEnum):
    RAISE = "raise"
    CLEAR = "clear"


@attrs.frozen(slots=True)
class Transition:
    action: Action
    tenant_id: str
    rule_id: str
    device_id: str
    site_id: str
    sensor_type: str
    episode: int
    value: Value
    at: float  # epoch seconds: the sample's time, or the tick's
    reason: str
    definition: RuleDefinition | None  # None: the rule is gone (see ``retire``)

    @property
    def key(self) -> RuleKey:
        return (self.tenant_id, self.rule_id, self.device_id)


def describe(rule: CompiledRule, value: Value, raised: bool) -> str:
    d = rule.definition
    if rule.kind is RuleKind.ABSENCE:
        return f"{d.name}: no data for {value:.0f} s" if raised else f"{d.name}: data again"
    shown = f"{value:.6g}" if isinstance(value, float | int) else repr(value)
    what = {
        RuleKind.RATE_OF_CHANGE: f"{d.measure} rate {shown}/s",
        RuleKind.WINDOW_AVERAGE: f"{d.measure} {d.window_s} s average {shown}",
        RuleKind.ANOMALY: f"{d.measure} z-score {shown}",
    }.get(rule.kind, f"{d.measure} {shown}")
    limit = d.z_threshold if rule.kind is RuleKind.ANOMALY else d.threshold
    if d.threshold_high is not None:
        limit_text = f"outside {d.threshold}..{d.threshold_high}"
    else:
        limit_text = f"{d.comparison} {limit}"
    if raised:
        held = f" for {d.duration_s} s" if d.duration_s else ""
        return f"{d.name}: {what} {limit_text}{held}"
    return f"{d.name}: {what}, back to normal"


def emit(
    out: list[Transition],
    action: Action,
    rule: CompiledRule,
    key: RuleKey,
    st: RuleDeviceState,
    site_id: str,
    sensor_type: str,
    value: Value,
    at: float,
) -> None:
    raised = action is Action.RAISE
    if value is not None and not isinstance(value, str):
        value = float(value)
    if raised:
        st.active = True
        st.episode += 1
    else:
        st.active = False
    out.append(
        Transition(
            action,
            key[0],
            key[1],
            key[2],
            site_id,
            sensor_type,
            st.episode,
            value,
            at,
            describe(rule, value, raised),
            rule.definition,
        )
    )


def group(g: Group, v: Any, s: DeviceSample, state: EvaluationState, out: list[Transition]) -> None:
    if isinstance(v, str):
        return  # a text value for a numeric rule: no verdict
    dirty = state.dirty
    rules = state.rules
    site_id, sensor_type, t = s.site_id, s.sensor_type, s.timestamp
    for rule, key in g.items:
        st = rules.get(key)
        if rule.fast:
            if st is not None and st.active:
                if not rule.hold(v):
                    emit(out, Action.CLEAR, rule, key, st, site_id, sensor_type, v, t)
                    g.busy -= 1
                    dirty.add(key)
            elif rule.cond(v):
                if st is None:
                    st = state.get(key)
                emit(out, Action.RAISE, rule, key, st, site_id, sensor_type, v, t)
                g.busy += 1
                dirty.add(key)
            continue
        if st is None:  # a sustained threshold
            if not rule.cond(v):
                continue
            st = state.get(key)
        was = busy(st)
        x = float(v)
        decide(rule, st, key, site_id, sensor_type, x, x, t, state, out)
        g.busy += busy(st) - was


# Per-kind steps for rules outside the quiet-interval groups, chosen once per binding.
# Each gets (rule, state, key, sample, raw value, evaluation state, out, model) and may
# raise TypeError / ValueError for a value it cannot read (no verdict).


def _step_plain(
    rule: CompiledRule,
    st: RuleDeviceState,
    key: RuleKey,
    s: DeviceSample,
    raw: Any,
    state: EvaluationState,
    out: list[Transition],
    model: AnomalyModel,
) -> None:
    """threshold (eq/ne, text) and state_duration: the value itself."""
    x = raw if isinstance(raw, str) else float(raw)
    if st.active or st.pending_since is not None or rule.cond(x):
        decide(rule, st, key, s.site_id, s.sensor_type, x, x, s.timestamp, state, out)


def _step_rate(
    rule: CompiledRule,
    st: RuleDeviceState,
    key: RuleKey,
    s: DeviceSample,
    raw: Any,
    state: EvaluationState,
    out: list[Transition],
    model: AnomalyModel,
) -> None:
    if isinstance(raw, str):
        return
    value = float(raw)
    state.touched.add(key)  # statistics only: saved with the periodic full snapshot
    x = st.rate(s.timestamp, value, rule.definition.window_s)
    if x is not None and (st.active or st.pending_since is not None or rule.cond(x)):
        decide(rule, st, key, s.site_id, s.sensor_type, x, x, s.timestamp, state, out)


def _step_window(
    rule: CompiledRule,
    st: RuleDeviceState,
    key: RuleKey,
    s: DeviceSample,
    raw: Any,
    state: EvaluationState,
    out: list[Transition],
    model: AnomalyModel,
) -> None:
    if isinstance(raw, str):
        return
    value = float(raw)
    state.touched.add(key)
    t = s.timestamp
    if st.first_t is None:
        st.first_t = t
    window_s = rule.definition.window_s
    x = st.add_to_window(t, value, window_s)
    if t - st.first_t < window_s * (1.0 - 1.0 / 60):
        return  # the window is not covered yet
    if st.active or st.pending_since is not None or rule.cond(x):
        decide(rule, st, key, s.site_id, s.sensor_type, x, x, t, state, out)


def _step_anomaly(
    rule: CompiledRule,
    st: RuleDeviceState,
    key: RuleKey,
    s: DeviceSample,
    raw: Any,
    state: EvaluationState,
    out: list[Transition],
    model: AnomalyModel,
) -> None:
    if isinstance(raw, str):
        return
    value = float(raw)
    state.touched.add(key)
    d = rule.definition
    x: float | None
    if model.__class__ is ZScoreModel:  # the built-in model, inlined
        x = None if st.count < d.warmup else st.z_score(value, d.window)
    else:
        x = model.score(d, s.tenant_id, s.device_id, value, s.timestamp, st)
    st.observe(value, d.window)
    if x is not None and (st.active or st.pending_since is not None or rule.cond(x)):
        # anomalies report the value, not its z-score
        decide(rule, st, key, s.site_id, s.sensor_type, x, value, s.timestamp, state, out)


STEPS: dict[RuleKind, Any] = {
    RuleKind.THRESHOLD: _step_plain,
    RuleKind.STATE_DURATION: _step_plain,
    RuleKind.RATE_OF_CHANGE: _step_rate,
    RuleKind.WINDOW_AVERAGE: _step_window,
    RuleKind.ANOMALY: _step_anomaly,
}


def decide(
    rule: CompiledRule,
    st: RuleDeviceState,
    key: RuleKey,
    site_id: str,
    sensor_type: str,
    x: Value,
    reported: Value,
    t: float,
    state: EvaluationState,
    out: list[Transition],
) -> None:
    reported_text = reported  # anomalies report the value, not its z-score
    if st.active:
        if not rule.hold(x):
            emit(out, Action.CLEAR, rule, key, st, site_id, sensor_type, reported_text, t)
            state.dirty.add(key)
        return
    if not rule.cond(x):
        if st.pending_since is not None:
            st.pending_since = st.pending_value = None
            state.pending.discard(key)
            state.dirty.add(key)
        return
    if rule.duration > 0:
        if st.pending_since is None:
            st.pending_since, st.pending_value = t, reported_text
            state.pending.add(key)
            state.dirty.add(key)
            return
        if t - st.pending_since < rule.duration:
            st.pending_value = reported_text
            return
        st.pending_since = st.pending_value = None
        state.pending.discard(key)
    emit(out, Action.RAISE, rule, key, st, site_id, sensor_type, reported_text, t)
    state.dirty.add(key)
