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
    name: str
    scope: RuleScope
    measure: str
    comparison: Comparison
    threshold: float | str
    threshold_high: float | None = None
    duration_s: int = 0
    severity: Severity = Severity.WARNING
    channels: tuple[Channel, ...] = (Channel.IN_APP,)

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
    ) -> RuleDefinition:
        try:
            comp = Comparison(comparison)
            sev = Severity(severity)
            chans = tuple(dict.fromkeys(Channel(c) for c in channels))
        except ValueError as exc:
            raise ValidationError(
                f"{exc}; comparisons: {', '.join(Comparison)}; severities: "
                f"{', '.join(Severity)}; channels: {', '.join(Channel)}"
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
        )


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
