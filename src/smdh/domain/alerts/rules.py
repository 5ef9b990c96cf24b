"""The AlertRule aggregate: what a tenant wants to be told about.

The evaluator comes with the alerting work; here are the rule's shape and invariants. A
rule's measure is checked against the sensor registry by the application handler (the
registry is domain data, but which types exist is a deployment fact).
"""

from __future__ import annotations

import math
from enum import StrEnum

import attrs

from smdh.domain.shared.aggregate import Aggregate
from smdh.domain.shared.errors import InvariantViolation, ValidationError
from smdh.domain.shared.events import DomainEvent, EventContext
from smdh.domain.shared.ids import DeviceId, RuleId, SiteId, TenantId
from smdh.domain.shared.values import bounded_text


class Comparison(StrEnum):
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    EQ = "eq"
    NE = "ne"
    OUTSIDE = "outside"  # below threshold or above threshold_high


class RuleKind(StrEnum):
    """How a rule reads the data; see ``smdh.domain.alerts.evaluator``."""

    THRESHOLD = "threshold"  # value vs threshold, optionally sustained for duration_s
    STATE_DURATION = "state_duration"  # eq on a text state held for duration_s (tick-checked)
    ABSENCE = "absence"  # no data from the device for duration_s
    RATE_OF_CHANGE = "rate_of_change"  # units per second over window_s vs threshold
    ANOMALY = "anomaly"  # |z-score| vs the device's own recent mean and variance
    WINDOW_AVERAGE = "window_average"  # average over window_s vs threshold


ANY_MEASURE = "*"  # absence rules: any data at all counts


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    SLACK = "slack"
    WEBHOOK = "webhook"
    IN_APP = "in_app"


MAX_DURATION_S = 7 * 24 * 3600


def _check_thresholds(comp: Comparison, threshold: object, threshold_high: object | None) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | str):
        raise ValidationError("threshold must be a number or, for eq/ne, text")
    if isinstance(threshold, str) and comp not in (Comparison.EQ, Comparison.NE):
        raise ValidationError("a text threshold only works with eq or ne")
    if not isinstance(threshold, str) and not _finite(threshold):
        raise ValidationError("threshold must be a finite number")
    if threshold_high is not None and not _finite(threshold_high):
        raise ValidationError("threshold_high must be a finite number")
    if comp is Comparison.OUTSIDE:
        if threshold_high is None or isinstance(threshold, str):
            raise ValidationError("'outside' needs a numeric threshold and threshold_high")
        if not float(threshold_high) > float(threshold):  # type: ignore[arg-type]
            raise ValidationError("threshold_high must be greater than threshold")
    elif threshold_high is not None:
        raise ValidationError("threshold_high is only used with 'outside'")


def _finite(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value)) and abs(float(value)) < 1e300
    except OverflowError:
        return False


@attrs.frozen
class RuleScope:
    """Which devices a rule watches: the whole tenant, a site, a sensor type or one device."""

    site_id: SiteId | None = None
    sensor_type: str | None = None
    device_id: DeviceId | None = None


@attrs.frozen
class RuleDefinition:
    """What a rule checks. Fields after ``channels`` came with the alerting work; their
    defaults keep rules stored before them loading unchanged (a plain threshold rule that
    clears when its condition is false, not latched, no escalation, no reminders)."""

    name: str
    scope: RuleScope
    measure: str
    comparison: Comparison
    threshold: float | str
    threshold_high: float | None = None
    duration_s: int = 0
    severity: Severity = Severity.WARNING
    channels: tuple[Channel, ...] = (Channel.IN_APP,)
    kind: RuleKind = RuleKind.THRESHOLD
    # hysteresis: once raised, a gt/ge rule clears only below this, a lt/le rule only above
    clear_threshold: float | None = None
    latched: bool = False  # stays active until acknowledged even after the condition clears
    escalate_after_s: int = 0  # 0 = never; otherwise one severity step per period unacked
    remind_every_s: int = 0  # 0 = never
    window_s: int = 0  # rate_of_change (0 = between consecutive samples), window_average
    window: int = 0  # anomaly: samples of memory (exponential forgetting); 0 = all history
    warmup: int = 30  # anomaly: samples before the first verdict
    z_threshold: float = 3.0  # anomaly

    @classmethod
    def create(
        cls,
        name: str,
        scope: RuleScope,
        measure: str,
        comparison: str,
        threshold: float | str,
        threshold_high: float | None = None,
        duration_s: int = 0,
        severity: str = "warning",
        channels: tuple[str, ...] = ("in_app",),
        *,
        kind: str = "threshold",
        clear_threshold: float | None = None,
        latched: bool = False,
        escalate_after_s: int = 0,
        remind_every_s: int = 0,
        window_s: int = 0,
        window: int = 0,
        warmup: int = 30,
        z_threshold: float = 3.0,
    ) -> RuleDefinition:
        try:
            comp = Comparison(comparison)
            sev = Severity(severity)
            rule_kind = RuleKind(kind)
            chans = tuple(dict.fromkeys(Channel(c) for c in channels))
        except ValueError as exc:
            raise ValidationError(
                f"{exc}; comparisons: {', '.join(Comparison)}; severities: "
                f"{', '.join(Severity)}; channels: {', '.join(Channel)}; "
                f"kinds: {', '.join(RuleKind)}"
            ) from None
        if not chans:
            raise ValidationError("a rule needs at least one channel")
        _check_thresholds(comp, threshold, threshold_high)
        if isinstance(duration_s, bool) or not isinstance(duration_s, int):
            raise ValidationError("duration_s must be a whole number of seconds")
        if not 0 <= duration_s <= MAX_DURATION_S:
            raise ValidationError(f"duration_s must be between 0 and {MAX_DURATION_S}")
        if not measure or not isinstance(measure, str) or len(measure) > 64:
            raise ValidationError("measure must name a measure of the sensor type")
        extra = _check_kind(
            rule_kind,
            comp,
            threshold,
            duration_s,
            clear_threshold,
            {
                "escalate_after_s": escalate_after_s,
                "remind_every_s": remind_every_s,
                "window_s": window_s,
                "window": window,
                "warmup": warmup,
            },
            z_threshold,
            measure,
        )
        return cls(
            name=bounded_text(name, "name"),
            scope=scope,
            measure=measure,
            comparison=comp,
            threshold=float(threshold) if isinstance(threshold, int) else threshold,
            threshold_high=float(threshold_high) if threshold_high is not None else None,
            duration_s=duration_s,
            severity=sev,
            channels=chans,
            kind=rule_kind,
            clear_threshold=float(clear_threshold) if clear_threshold is not None else None,
            latched=bool(latched),
            z_threshold=float(z_threshold),
            **extra,
        )


def _check_kind(
    kind: RuleKind,
    comp: Comparison,
    threshold: object,
    duration_s: int,
    clear_threshold: object,
    counts: dict[str, object],
    z_threshold: object,
    measure: str,
) -> dict[str, int]:
    checked: dict[str, int] = {}
    for field, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"{field} must be a whole number")
        if not 0 <= value <= MAX_DURATION_S:
            raise ValidationError(f"{field} must be between 0 and {MAX_DURATION_S}")
        checked[field] = value
    if measure == ANY_MEASURE and kind is not RuleKind.ABSENCE:
        raise ValidationError(f"measure {ANY_MEASURE!r} is only for absence rules")
    if kind in (RuleKind.ABSENCE, RuleKind.STATE_DURATION) and duration_s <= 0:
        raise ValidationError(f"a {kind} rule needs duration_s > 0")
    if kind is RuleKind.STATE_DURATION and (
        comp not in (Comparison.EQ, Comparison.NE) or not isinstance(threshold, str)
    ):
        raise ValidationError("a state_duration rule compares a text state with eq or ne")
    numeric = (RuleKind.RATE_OF_CHANGE, RuleKind.WINDOW_AVERAGE, RuleKind.ANOMALY)
    if kind in numeric and isinstance(threshold, str):
        raise ValidationError(f"a {kind} rule needs a numeric threshold")
    if kind is RuleKind.WINDOW_AVERAGE and checked["window_s"] <= 0:
        raise ValidationError("a window_average rule needs window_s > 0")
    if kind is RuleKind.ANOMALY and (
        not _finite(z_threshold) or not 0 < float(z_threshold) <= 100  # type: ignore[arg-type]
    ):
        raise ValidationError("z_threshold must be a number in (0, 100]")
    if kind is RuleKind.ANOMALY and checked["warmup"] < 2:
        raise ValidationError("an anomaly rule needs a warmup of at least 2 samples")
    if clear_threshold is not None:
        _check_clear(kind, comp, threshold, clear_threshold)
    return checked


def _check_clear(
    kind: RuleKind, comp: Comparison, threshold: object, clear_threshold: object
) -> None:
    if kind in (RuleKind.ABSENCE, RuleKind.ANOMALY, RuleKind.STATE_DURATION):
        raise ValidationError(f"clear_threshold does not apply to {kind} rules")
    if not _finite(clear_threshold) or isinstance(threshold, str):
        raise ValidationError("clear_threshold must be a finite number, on a numeric rule")
    bound, limit = float(clear_threshold), float(threshold)  # type: ignore[arg-type]
    if comp in (Comparison.GT, Comparison.GE):
        if bound > limit:
            raise ValidationError("clear_threshold of a gt/ge rule must not be above it")
    elif comp in (Comparison.LT, Comparison.LE):
        if bound < limit:
            raise ValidationError("clear_threshold of a lt/le rule must not be below it")
    else:
        raise ValidationError("clear_threshold works with gt, ge, lt and le rules")


@attrs.frozen(kw_only=True)
class AlertRuleDefined(DomainEvent):
    rule_id: RuleId
    definition: RuleDefinition


@attrs.frozen(kw_only=True)
class AlertRuleUpdated(DomainEvent):
    definition: RuleDefinition


@attrs.frozen(kw_only=True)
class AlertRuleEnabled(DomainEvent):
    pass


@attrs.frozen(kw_only=True)
class AlertRuleDisabled(DomainEvent):
    pass


@attrs.frozen(kw_only=True)
class AlertRuleDeleted(DomainEvent):
    pass


def rule_aggregate_id(tenant_id: TenantId, rule_id: RuleId) -> str:
    return f"rule:{tenant_id}:{rule_id}"


class AlertRule(Aggregate):
    prefix = "rule"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.rule_id = RuleId("unset")
        self.definition: RuleDefinition | None = None
        self.enabled = True
        self.deleted = False

    @classmethod
    def define(
        cls, tenant_id: TenantId, rule_id: RuleId, definition: RuleDefinition, ctx: EventContext
    ) -> AlertRule:
        rule = cls(rule_aggregate_id(tenant_id, rule_id))
        rule._record(
            AlertRuleDefined, ctx, tenant_id=tenant_id, rule_id=rule_id, definition=definition
        )
        return rule

    def _ensure_not_deleted(self) -> None:
        if self.deleted:
            raise InvariantViolation(f"alert rule {self.rule_id} is deleted")

    def update(self, definition: RuleDefinition, ctx: EventContext) -> None:
        self._ensure_not_deleted()
        if definition != self.definition:
            self._record(AlertRuleUpdated, ctx, definition=definition)

    def enable(self, ctx: EventContext) -> None:
        self._ensure_not_deleted()
        if not self.enabled:
            self._record(AlertRuleEnabled, ctx)

    def disable(self, ctx: EventContext) -> None:
        self._ensure_not_deleted()
        if self.enabled:
            self._record(AlertRuleDisabled, ctx)

    def delete(self, ctx: EventContext) -> None:
        self._ensure_not_deleted()
        self._record(AlertRuleDeleted, ctx)

    def apply(self, event: DomainEvent) -> None:
        match event:
            case AlertRuleDefined():
                self.rule_id = event.rule_id
                self.definition = event.definition
            case AlertRuleUpdated():
                self.definition = event.definition
            case AlertRuleEnabled():
                self.enabled = True
            case AlertRuleDisabled():
                self.enabled = False
            case AlertRuleDeleted():
                self.deleted = True
