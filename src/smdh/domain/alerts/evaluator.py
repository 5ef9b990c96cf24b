"""The pure alert evaluator: samples (or the passing of time) in, raise/clear decisions out.

``evaluate_batch(index, samples, state)`` runs on the ingest hot path. For each sample it
finds the device's cached binding (``bindings``: rebuilt only when the index or the
device's site/type changes): numeric thresholds, plain or sustained, grouped per measure
with a quiet interval, so a value inside it settles the whole group with one dict lookup
and two comparisons, touching no rule state; every other rule with the step function of
its kind (``steps``), picked when binding. Nothing is allocated unless a decision is made.

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

from smdh.domain.alerts.anomaly import DEFAULT_MODEL, AnomalyModel, ZScoreModel
from smdh.domain.alerts.bindings import bind
from smdh.domain.alerts.evaluation_state import DeviceKey, EvaluationState, LastSeen
from smdh.domain.alerts.rule_index import RuleIndex
from smdh.domain.alerts.steps import STEPS, Action, Transition, emit, group
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
            b = bindings[dkey] = bind(index, state, s, STEPS)
        values = s.values
        for measure, low, high, g in b.groups:
            v = values.get(measure)
            if v is None:
                continue
            try:
                if low < v < high and not g.busy:  # type: ignore[operator]
                    continue
            except TypeError:  # a text value for a numeric rule: no verdict
                continue
            group(g, v, s, state, out)
        for measure, step, rule, st, key in b.others:
            v = values.get(measure)
            if v is not None:
                try:
                    step(rule, st, key, s, v, state, out, model)
                except (TypeError, ValueError):  # a text value for a numeric rule
                    continue
    return out


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
            emit(out, Action.RAISE, rule, key, st, site_id, sensor_type, value, now)
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
                    emit(out, Action.RAISE, rule, key, st, site_id, sensor_type, silent, now)
                    state.dirty.add(key)
            elif st.active:
                emit(out, Action.CLEAR, rule, key, st, site_id, sensor_type, silent, now)
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
