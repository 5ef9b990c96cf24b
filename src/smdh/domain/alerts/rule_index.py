"""Alert rules compiled for the hot path and indexed so that rules which cannot match cost
nothing.

``RuleIndex`` groups the enabled rules by (tenant, sensor type) and, inside, by scope: rules
for the whole tenant or sensor type, rules per site, rules per device. The evaluator asks
for a device's candidates once and caches them (see ``evaluator``), so per sample only the
rules that apply to that device are looked at; a tenant's other 9,999 rules are never
touched. Rules without a sensor type (a whole site or tenant, one measure) live under the
sensor type ``None`` and are looked at for every type.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from smdh.domain.alerts.rules import Comparison, RuleDefinition, RuleKind

Test = Callable[[Any], bool]

_generations = itertools.count(1)


class RuleSource(Protocol):
    """What the index needs of a rule (the tenant directory's ``RuleEntry`` fits)."""

    @property
    def tenant_id(self) -> str: ...

    @property
    def rule_id(self) -> str: ...

    @property
    def definition(self) -> RuleDefinition: ...

    @property
    def enabled(self) -> bool: ...


def compare(comparison: Comparison, threshold: object, high: object | None) -> Test:
    low: Any = threshold
    top: Any = high
    match comparison:
        case Comparison.OUTSIDE:
            return lambda v: bool(v < low or v > top)
        case Comparison.EQ:
            return lambda v: bool(v == low)
        case Comparison.NE:
            return lambda v: bool(v != low)
    op: Callable[[Any, Any], Any] = {
        Comparison.GT: operator.gt,
        Comparison.GE: operator.ge,
        Comparison.LT: operator.lt,
        Comparison.LE: operator.le,
    }[comparison]
    return lambda v: bool(op(v, low))


def _anomaly_test(comparison: Comparison, z_threshold: float) -> Test:
    if comparison in (Comparison.GT, Comparison.GE):
        return lambda z: bool(z > z_threshold)
    if comparison in (Comparison.LT, Comparison.LE):
        return lambda z: bool(z < -z_threshold)
    return lambda z: bool(abs(z) > z_threshold)


def _quiet(d: RuleDefinition) -> tuple[float, float] | None:
    """Open interval of values that cannot raise a numeric threshold rule (plain or
    sustained); None for other kinds and comparisons."""
    if d.kind is not RuleKind.THRESHOLD or isinstance(d.threshold, str):
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


class CompiledRule:
    """One enabled rule, ready to test values. ``cond`` decides raising, ``hold`` whether a
    raised alert stays raised (the hysteresis band); without ``clear_threshold`` they are
    the same test."""

    __slots__ = (
        "cond",
        "definition",
        "device_id",
        "duration",
        "fast",
        "hold",
        "kind",
        "measure",
        "quiet",
        "rule_id",
        "sensor_type",
        "site_id",
        "tenant_id",
    )

    def __init__(self, tenant_id: str, rule_id: str, definition: RuleDefinition) -> None:
        d = definition
        self.tenant_id = tenant_id
        self.rule_id = rule_id
        self.definition = d
        self.kind = d.kind
        self.measure = d.measure
        self.duration = float(d.duration_s)
        self.site_id = d.scope.site_id
        self.device_id = d.scope.device_id
        self.sensor_type = d.scope.sensor_type
        if d.kind is RuleKind.ANOMALY:
            self.cond = _anomaly_test(d.comparison, d.z_threshold)
        else:
            self.cond = compare(d.comparison, d.threshold, d.threshold_high)
        self.hold = self.cond
        if d.clear_threshold is not None:
            if d.comparison in (Comparison.GT, Comparison.GE):
                self.hold = compare(Comparison.GE, d.clear_threshold, None)
            else:
                self.hold = compare(Comparison.LE, d.clear_threshold, None)
        # the common case, inlined by the evaluator: a plain threshold, no duration
        self.fast = d.kind is RuleKind.THRESHOLD and d.duration_s == 0
        self.quiet = _quiet(d)  # the values that cannot raise it (see ``bindings``)

    def matches(self, site_id: str, sensor_type: str, device_id: str) -> bool:
        return (
            (self.site_id is None or self.site_id == site_id)
            and (self.sensor_type is None or self.sensor_type == sensor_type)
            and (self.device_id is None or self.device_id == device_id)
        )

    def __repr__(self) -> str:
        return f"CompiledRule({self.tenant_id}/{self.rule_id} {self.kind} {self.measure})"


class _Bucket:
    __slots__ = ("by_device", "by_site", "general")

    def __init__(self) -> None:
        self.general: list[CompiledRule] = []
        self.by_site: dict[str, list[CompiledRule]] = {}
        self.by_device: dict[str, list[CompiledRule]] = {}

    def add(self, rule: CompiledRule) -> None:
        if rule.device_id is not None:
            self.by_device.setdefault(rule.device_id, []).append(rule)
        elif rule.site_id is not None:
            self.by_site.setdefault(rule.site_id, []).append(rule)
        else:
            self.general.append(rule)


class RuleIndex:
    """Enabled rules by (tenant, sensor type) and scope; absence rules by tenant."""

    def __init__(self, rules: Iterable[CompiledRule] = ()) -> None:
        self.generation = next(_generations)
        self._buckets: dict[tuple[str, str | None], _Bucket] = {}
        self._by_id: dict[tuple[str, str], CompiledRule] = {}
        self._by_measure: dict[tuple[str, str | None, str], list[CompiledRule]] = {}
        self.absence: dict[str, list[CompiledRule]] = {}
        for rule in rules:
            self._by_id[(rule.tenant_id, rule.rule_id)] = rule
            if rule.kind is RuleKind.ABSENCE:
                self.absence.setdefault(rule.tenant_id, []).append(rule)
                continue
            bucket_key = (rule.tenant_id, rule.sensor_type)
            bucket = self._buckets.get(bucket_key)
            if bucket is None:
                bucket = self._buckets[bucket_key] = _Bucket()
            bucket.add(rule)
            measure_key = (rule.tenant_id, rule.sensor_type, rule.measure)
            self._by_measure.setdefault(measure_key, []).append(rule)

    @classmethod
    def build(cls, sources: Iterable[RuleSource]) -> RuleIndex:
        return cls(CompiledRule(s.tenant_id, s.rule_id, s.definition) for s in sources if s.enabled)

    def __len__(self) -> int:
        return len(self._by_id)

    def rule(self, tenant_id: str, rule_id: str) -> CompiledRule | None:
        return self._by_id.get((tenant_id, rule_id))

    def rules(self) -> Iterable[CompiledRule]:
        return self._by_id.values()

    def rules_for(self, tenant_id: str, sensor_type: str, measure: str) -> list[CompiledRule]:
        """Rules on one measure of a type, including those for any type (any scope)."""
        return self._by_measure.get((tenant_id, sensor_type, measure), []) + (
            self._by_measure.get((tenant_id, None, measure), [])
        )

    def candidates(
        self, tenant_id: str, sensor_type: str, site_id: str, device_id: str
    ) -> list[CompiledRule]:
        """Every non-absence rule that applies to this device (any measure)."""
        found: list[CompiledRule] = []
        for type_key in (sensor_type, None):
            bucket = self._buckets.get((tenant_id, type_key))
            if bucket is None:
                continue
            found.extend(bucket.general)  # these match by construction
            found.extend(bucket.by_site.get(site_id, ()))
            found.extend(
                r
                for r in bucket.by_device.get(device_id, ())
                if r.site_id is None or r.site_id == site_id
            )
        return found
