"""Per-device caches of the rules that apply to it, grouped for the hot path.

A device's binding is built once from the ``RuleIndex`` (and rebuilt when the index or the
device's site or sensor type changes). Numeric threshold rules on one measure, plain or
sustained (``duration_s``), form a group with a *quiet interval*: the open range of values
for which none of the group's rules can raise or start holding (below every ``gt``/``ge``
threshold, above every ``lt``/``le`` one, inside every ``outside`` band). While none of
the group's rules is *busy* (raised, or waiting for its duration), a value inside that
interval settles the whole group with two comparisons, however many rules it holds.

The other rules (text states, eq/ne, rate of change, window averages, anomalies) are bound
with the evaluator's step function for their kind, chosen once here instead of per sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from smdh.domain.alerts.evaluation_state import EvaluationState, RuleDeviceState, RuleKey
from smdh.domain.alerts.rule_index import CompiledRule, RuleIndex
from smdh.domain.alerts.rules import RuleKind
from smdh.domain.telemetry import DeviceSample

Item = tuple[CompiledRule, RuleKey]  # its state is looked up only when it must decide
Step = Callable[..., None]  # the evaluator's per-kind step (see ``evaluator._STEPS``)
Other = tuple[str, Step, CompiledRule, RuleDeviceState, RuleKey]
Quiet = tuple[str, float, float, "Group"]  # measure, quiet interval, the group


def busy(st: RuleDeviceState | None) -> bool:
    return st is not None and (st.active or st.pending_since is not None)


class Group:
    __slots__ = ("busy", "high", "items", "low", "measure")

    def __init__(self, measure: str) -> None:
        self.measure = measure
        self.low = -math.inf
        self.high = math.inf
        self.items: list[Item] = []
        self.busy = 0  # how many of the group's (rule, device) states are raised or pending


class Binding:
    __slots__ = ("generation", "groups", "others", "sensor_type", "site_id")

    def __init__(self, generation: int, site_id: str, sensor_type: str) -> None:
        self.generation = generation
        self.site_id = site_id
        self.sensor_type = sensor_type
        self.groups: list[Quiet] = []
        self.others: list[Other] = []  # stateful kinds, text states, eq/ne


def bind(
    index: RuleIndex,
    state: EvaluationState,
    s: DeviceSample,
    steps: dict[RuleKind, Any],
) -> Binding:
    binding = Binding(index.generation, s.site_id, s.sensor_type)
    groups: dict[str, Group] = {}
    rules = state.rules
    for rule in index.candidates(s.tenant_id, s.sensor_type, s.site_id, s.device_id):
        key = (s.tenant_id, rule.rule_id, s.device_id)
        interval = rule.quiet
        if interval is None:
            binding.others.append((rule.measure, steps[rule.kind], rule, state.get(key), key))
            continue
        group = groups.get(rule.measure)
        if group is None:
            group = groups[rule.measure] = Group(rule.measure)
        group.low = max(group.low, interval[0])
        group.high = min(group.high, interval[1])
        group.items.append((rule, key))
        group.busy += busy(rules.get(key))
    binding.groups = [(g.measure, g.low, g.high, g) for g in groups.values()]
    return binding
