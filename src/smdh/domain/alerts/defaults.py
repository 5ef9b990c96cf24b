"""Default alert rules of a sensor type, as rule definitions a tenant can switch on.

They come from each sensor module's ``default_rules`` (plain data), with three additions:

* a text state held for a duration ("machine offline for more than 15 minutes") becomes a
  ``state_duration`` rule, evaluated by the scheduler tick so it fires on time even when
  the machine stops reporting;
* numeric gt/ge/lt/le defaults get a 5 % hysteresis band (``clear_threshold``), so a value
  hovering at the threshold does not flap;
* rules that need a kind the sensor modules cannot declare yet (``EXTRA_DEFAULTS``): the
  OSHA 8-hour CO2 average and a PM2.5 window average standing in for the EPA NowCast
  (a 3-hour average tracks NowCast when concentrations change, which is when it matters).
"""

from __future__ import annotations

from smdh.domain.alerts.rules import RuleDefinition, RuleScope
from smdh.domain.sensors.base import DefaultRule, SensorType

HYSTERESIS = 0.05

EXTRA_DEFAULTS: dict[str, tuple[RuleDefinition, ...]] = {
    "air_quality": (
        RuleDefinition.create(
            "co2-8h-average",
            RuleScope(sensor_type="air_quality"),
            "co2_ppm",
            "ge",
            5000.0,
            severity="critical",
            kind="window_average",
            window_s=8 * 3600,
        ),
        RuleDefinition.create(
            "pm25-nowcast-high",
            RuleScope(sensor_type="air_quality"),
            "pm25_ugm3",
            "ge",
            35.5,
            severity="warning",
            kind="window_average",
            window_s=3 * 3600,
            clear_threshold=33.7,
        ),
    ),
}


def definition_of(sensor_type: str, rule: DefaultRule) -> RuleDefinition:
    kind = "threshold"
    clear: float | None = None
    if isinstance(rule.threshold, str) and rule.duration_s > 0:
        kind = "state_duration"
    elif not isinstance(rule.threshold, str) and rule.comparison in ("gt", "ge"):
        clear = rule.threshold - abs(rule.threshold) * HYSTERESIS
    elif not isinstance(rule.threshold, str) and rule.comparison in ("lt", "le"):
        clear = rule.threshold + abs(rule.threshold) * HYSTERESIS
    return RuleDefinition.create(
        rule.name,
        RuleScope(sensor_type=sensor_type),
        rule.measure,
        rule.comparison,
        rule.threshold,
        rule.threshold_high,
        rule.duration_s,
        rule.severity,
        kind=kind,
        clear_threshold=clear,
    )


def default_rules_for(sensor_type: SensorType) -> list[RuleDefinition]:
    """The type's default rules; rule ids are ``default_rule_id(type, definition)``."""
    rules = [definition_of(sensor_type.name, r) for r in sensor_type.default_rules]
    known = {r.name for r in rules}
    rules += [r for r in EXTRA_DEFAULTS.get(sensor_type.name, ()) if r.name not in known]
    return rules


def default_rule_id(sensor_type: str, definition: RuleDefinition) -> str:
    return f"default-{sensor_type}-{definition.name}"
