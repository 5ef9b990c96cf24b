"""The pure alert evaluator: samples (or the passing of time) in, raise/clear decisions out.

``evaluate_batch(index, samples, state)`` runs on the ingest hot path. For each sample it
finds the device's cached list of applicable (rule, state) pairs (rebuilt only when the
index or the device's site/type changes), looks up each rule's measure in the sample and
decides. A plain threshold rule costs a dict lookup and one comparison; nothing is
allocated unless a decision is made.

``evaluate_tick(index, now, state)`` handles what time alone decides: absence ("no data
for N s"), sustained and state-duration conditions whose duration elapses between samples.

Per kind, the value compared with the rule's threshold:

* threshold, state_duration: the measure's value (held for ``duration_s`` if > 0);
* rate_of_change: units per second from the oldest sample within ``window_s``;
* window_average: the mean over the last ``window_s`` s, once the window is covered;
* anomaly: the z-score of the value against the device's own history (``AnomalyModel``,
  built-in Welford / exponentially weighted statistics), after ``warmup`` samples.

Raised alerts clear when ``hold`` fails (the condition, or the ``clear_threshold`` band).
A raise increments the (rule, device) episode number: the alert's identity.
The caller holds ``state.lock`` around these calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

import attrs

from smdh.domain.alerts.anomaly import DEFAULT_MODEL, AnomalyModel, ZScoreModel
from smdh.domain.alerts.bindings import Group, bind
from smdh.domain.alerts.evaluation_state import (
    DeviceKey,
    EvaluationState,
    LastSeen,
    RuleDeviceState,
    RuleKey,
)
from smdh.domain.alerts.rule_index import CompiledRule, RuleIndex
from smdh.domain.alerts.rules import RuleDefinition, RuleKind
from smdh.domain.telemetry import DeviceSample

__all__ = [
    "Action",
    "AnomalyModel",
    "EvaluationState",
    "RuleIndex",
    "Transition",
    "ZScoreModel",
    "evaluate_batch",
    "evaluate_tick",
    "retire",
]

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


def _emit(
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


def evaluate_batch(
    index: RuleIndex,
    samples: Iterable[DeviceSample],
    state: EvaluationState,
    model: AnomalyModel = DEFAULT_MODEL,
) -> list[Transition]:
    out: list[Transition] = []
    bindings = state.bindings
    last_seen = state.last_seen
    dirty_seen = state.dirty_seen
    dirty = state.dirty
    generation = index.generation
    for s in samples:
        dkey = (s.tenant_id, s.device_id)
        t = s.timestamp
        seen = last_seen.get(dkey)
        if seen is None or t >= seen[0]:
            last_seen[dkey] = (t, s.site_id, s.sensor_type)
            dirty_seen.add(dkey)
        b = bindings.get(dkey)
        if (
            b is None
            or b.generation != generation
            or b.site_id != s.site_id
            or b.sensor_type != s.sensor_type
        ):
            b = bindings[dkey] = bind(index, state, s)
        values = s.values
        for g in b.groups:
            v = values.get(g.measure)
            if v is None:
                continue
            try:
                if not g.active and g.low < v < g.high:  # type: ignore[operator]
                    continue
                _group(g, v, s, out, dirty)
            except TypeError:  # a text value for a numeric rule: no verdict
                continue
        for rule, st, key in b.others:
            v = values.get(rule.measure)
            if v is not None:
                _step(rule, st, key, s, v, state, out, model)
    return out


def _group(g: Group, v: Any, s: DeviceSample, out: list[Transition], dirty: set[RuleKey]) -> None:
    for rule, st, key in g.items:
        if st.active:
            if not rule.hold(v):
                _emit(out, Action.CLEAR, rule, key, st, s.site_id, s.sensor_type, v, s.timestamp)
                g.active -= 1
                dirty.add(key)
        elif rule.cond(v):
            _emit(out, Action.RAISE, rule, key, st, s.site_id, s.sensor_type, v, s.timestamp)
            g.active += 1
            dirty.add(key)


def _step(
    rule: CompiledRule,
    st: RuleDeviceState,
    key: RuleKey,
    s: DeviceSample,
    raw: object,
    state: EvaluationState,
    out: list[Transition],
    model: AnomalyModel,
) -> None:
    try:
        _step_value(rule, st, key, s, raw, state, out, model)
    except (TypeError, ValueError):  # a text value for a numeric rule: no verdict
        return


def _step_value(
    rule: CompiledRule,
    st: RuleDeviceState,
    key: RuleKey,
    s: DeviceSample,
    raw: object,
    state: EvaluationState,
    out: list[Transition],
    model: AnomalyModel,
) -> None:
    t = s.timestamp
    d = rule.definition
    kind = rule.kind
    x: Value
    reported: Value
    if kind is RuleKind.THRESHOLD or kind is RuleKind.STATE_DURATION:
        x = reported = raw if isinstance(raw, str) else float(raw)  # type: ignore[arg-type]
    else:
        if isinstance(raw, str):
            return
        value = float(raw)  # type: ignore[arg-type]
        state.touched.add(key)  # statistics only: saved with the periodic full snapshot
        if kind is RuleKind.RATE_OF_CHANGE:
            x = reported = st.rate(t, value, d.window_s)
        elif kind is RuleKind.WINDOW_AVERAGE:
            if st.first_t is None:
                st.first_t = t
            x = reported = st.add_to_window(t, value, d.window_s)
            if t - st.first_t < d.window_s * (1.0 - 1.0 / 60):
                return  # the window is not covered yet
        else:  # anomaly
            x = model.score(d, s.tenant_id, s.device_id, value, t, st)
            st.observe(value, d.window)
            reported = value
        if x is None:
            return
    _decide(rule, st, key, s.site_id, s.sensor_type, x, reported, t, state, out)


def _decide(
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
            _emit(out, Action.CLEAR, rule, key, st, site_id, sensor_type, reported_text, t)
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
    _emit(out, Action.RAISE, rule, key, st, site_id, sensor_type, reported_text, t)
    state.dirty.add(key)


def evaluate_tick(
    index: RuleIndex,
    now: float,
    state: EvaluationState,
    last_seen: Mapping[DeviceKey, LastSeen] | None = None,
) -> list[Transition]:
    """Sustained conditions whose time has come, absence raised and cleared."""
    seen_by = state.last_seen if last_seen is None else last_seen
    out: list[Transition] = []
    for key in sorted(state.pending):
        rule = index.rule(key[0], key[1])
        st = state.rules.get(key)
        if rule is None or st is None or st.pending_since is None:
            state.pending.discard(key)
            continue
        if now - st.pending_since >= rule.duration:
            _, site_id, sensor_type = seen_by.get((key[0], key[2]), (0.0, "", ""))
            value = st.pending_value
            st.pending_since = st.pending_value = None
            state.pending.discard(key)
            _emit(out, Action.RAISE, rule, key, st, site_id, sensor_type, value, now)
            state.dirty.add(key)
    if index.absence:
        _absence(index, now, state, seen_by, out)
    return out


def _absence(
    index: RuleIndex,
    now: float,
    state: EvaluationState,
    seen_by: Mapping[DeviceKey, LastSeen],
    out: list[Transition],
) -> None:
    for (tenant, device), (t, site_id, sensor_type) in seen_by.items():
        rules = index.absence.get(tenant)
        if not rules:
            continue
        silent = max(0.0, now - t)
        for rule in rules:
            if not rule.matches(site_id, sensor_type, device):
                continue
            key = (tenant, rule.rule_id, device)
            st = state.get(key)
            if silent >= rule.duration:
                if not st.active:
                    _emit(out, Action.RAISE, rule, key, st, site_id, sensor_type, silent, now)
                    state.dirty.add(key)
            elif st.active:
                _emit(out, Action.CLEAR, rule, key, st, site_id, sensor_type, silent, now)
                state.dirty.add(key)


def retire(index: RuleIndex, state: EvaluationState, now: float) -> list[Transition]:
    """Clears raised alerts of rules no longer in the index (disabled, deleted, rescoped)
    and forgets those rules' memory. Episode numbers of forgotten keys come back from the
    event store if the rule returns."""
    out: list[Transition] = []
    for key in [k for k in state.rules if index.rule(k[0], k[1]) is None]:
        st = state.rules[key]
        if st.active:
            _, site_id, sensor_type = state.last_seen.get((key[0], key[2]), (0.0, "", ""))
            st.active = False
            out.append(
                Transition(
                    Action.CLEAR,
                    key[0],
                    key[1],
                    key[2],
                    site_id,
                    sensor_type,
                    st.episode,
                    None,
                    now,
                    "rule disabled or removed",
                    None,
                )
            )
        state.forget(key)
    return out
