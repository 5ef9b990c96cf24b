"""Per-device caches of the rules that apply to it, grouped for the hot path.

A device's binding is built once from the ``RuleIndex`` (and rebuilt when the index or the
device's site or sensor type changes). Plain threshold rules on one measure form a group
with a *quiet interval*: the open range of values for which none of the group's rules can
raise (below every ``gt``/``ge`` threshold, above every ``lt``/``le`` one, inside every
``outside`` band). While none of the group's alerts is raised, a value inside that interval
settles the whole group with two comparisons, however many rules it holds.
"""

from __future__ import annotations

import math

from smdh.domain.alerts.evaluation_state import EvaluationState, RuleDeviceState, RuleKey
from smdh.domain.alerts.rule_index import CompiledRule, RuleIndex
from smdh.domain.alerts.rules import Comparison
from smdh.domain.telemetry import DeviceSample

Item = tuple[CompiledRule, RuleDeviceState, RuleKey]


def quiet_interval(rule: CompiledRule) -> tuple[float, float] | None:
    """Open interval of values that cannot raise ``rule``; None if it is not a range."""
    d = rule.definition
    if not rule.fast or isinstance(d.threshold, str):
        return None
    threshold = float(d.threshold)
    match d.comparison:
        case Comparison.GT | Comparison.GE:
            return (-math.inf, threshold)
        case Comparison.LT | Comparison.LE:
            return (threshold, math.inf)
        case Comparison.OUTSIDE if d.threshold_high is not None:
            return (threshold, d.threshold_high)
    return None


class Group:
    __slots__ = ("active", "high", "items", "low", "measure")

    def __init__(self, measure: str) -> None:
        self.measure = measure
        self.low = -math.inf
        self.high = math.inf
        self.items: list[Item] = []
        self.active = 0  # how many of the group's (rule, device) alerts are raised


class Binding:
    __slots__ = ("generation", "groups", "others", "sensor_type", "site_id")

    def __init__(self, generation: int, site_id: str, sensor_type: str) -> None:
        self.generation = generation
        self.site_id = site_id
        self.sensor_type = sensor_type
        self.groups: list[Group] = []
        self.others: list[Item] = []  # stateful kinds, text states, durations


def bind(index: RuleIndex, state: EvaluationState, s: DeviceSample) -> Binding:
    binding = Binding(index.generation, s.site_id, s.sensor_type)
    groups: dict[str, Group] = {}
    for rule in index.candidates(s.tenant_id, s.sensor_type, s.site_id, s.device_id):
        key = (s.tenant_id, rule.rule_id, s.device_id)
        item = (rule, state.get(key), key)
        interval = quiet_interval(rule)
        if interval is None:
            binding.others.append(item)
            continue
        group = groups.get(rule.measure)
        if group is None:
            group = groups[rule.measure] = Group(rule.measure)
            binding.groups.append(group)
        group.low = max(group.low, interval[0])
        group.high = min(group.high, interval[1])
        group.items.append(item)
        group.active += item[1].active
    return binding
