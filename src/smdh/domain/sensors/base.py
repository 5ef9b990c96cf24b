"""The vocabulary of sensor types: measures, readings, default rules, dashboards.

A sensor type is data: its measures (name, unit, kind, plausible range), the measures SMDH
derives from them, default alert rules and a dashboard. Parsing is generic and lives in
``parsing``; ``SensorType`` compiles its measures into checkers once and walks each sample.
The payload shapes and sample rules are described there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal, get_args

import attrs
from returns.result import Failure, Result, Success

from smdh.domain.sensors.parsing import (
    EARLIEST_TIMESTAMP,
    ENVELOPE_KEYS,
    EPOCH_MS_THRESHOLD,
    MAX_FIELD_NAME,
    MAX_FUTURE_SKEW_S,
    MAX_SAMPLES_PER_PAYLOAD,
    RESERVED_NAMES,
    Checker,
    compile_checker,
    describe,
    json_type,
    parse_timestamp,
    unwrap,
)
from smdh.domain.shared.errors import InvalidPayload

__all__ = [
    "EARLIEST_TIMESTAMP",
    "ENVELOPE_KEYS",
    "EPOCH_MS_THRESHOLD",
    "MAX_FUTURE_SKEW_S",
    "MAX_SAMPLES_PER_PAYLOAD",
    "Checker",
    "Comparison",
    "Converter",
    "DashboardPanel",
    "DashboardSpec",
    "DefaultRule",
    "Derive",
    "MeasureKind",
    "MeasureSpec",
    "MeasureValue",
    "PanelKind",
    "Reading",
    "SensorType",
    "Severity",
    "TopicKind",
    "describe",
    "json_type",
    "parse_timestamp",
]

MeasureValue = float | int | str | bool
MeasureKind = Literal["float", "int", "str", "enum"]
Comparison = Literal["gt", "ge", "lt", "le", "eq", "ne", "outside"]
Severity = Literal["info", "warning", "critical"]
PanelKind = Literal["timeseries", "stat", "gauge", "table", "state-timeline"]
TopicKind = Literal["telemetry", "scan"]
# Computes the derived measures of one sample from its validated values.
Derive = Callable[[dict[str, MeasureValue]], dict[str, MeasureValue]]
# Turns a raw payload value into a storable one; raises ValueError whose text is the reason.
Converter = Callable[[object], MeasureValue]


@attrs.frozen(slots=True)
class Reading:
    """One timestamped sample with several measures (a multi-measure record).

    ``values`` is a plain dict for speed; treat it as read-only.
    """

    timestamp: float  # epoch seconds, UTC
    values: Mapping[str, MeasureValue]


def _optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


@attrs.frozen(kw_only=True)
class MeasureSpec:
    """One measure of a sensor type and what makes a value of it plausible."""

    name: str = attrs.field(kw_only=False)
    unit: str = ""
    kind: MeasureKind = attrs.field(
        default="float", validator=attrs.validators.in_(get_args(MeasureKind))
    )
    minimum: float | None = attrs.field(default=None, converter=_optional_float)
    maximum: float | None = attrs.field(default=None, converter=_optional_float)
    # enum: the accepted strings (case-sensitive); int: the accepted values, if restricted
    choices: tuple[str | int, ...] = ()
    max_length: int | None = None
    required: bool = False
    derived: bool = False  # computed by SMDH, never accepted from a payload
    convert: Converter | None = None  # runs before the kind checks (ids, JSON metadata)
    # a valid payload value for simulators and the every-type test, when the spec alone
    # cannot produce one (converted values)
    example: object = attrs.field(default=None, eq=False)
    description: str = ""

    def __attrs_post_init__(self) -> None:
        if self.kind == "enum" and not all(isinstance(c, str) for c in self.choices or (0,)):
            raise ValueError(f"enum measure {self.name} needs string choices")
        if self.kind == "int" and any(type(c) is not int for c in self.choices):
            raise ValueError(f"int measure {self.name} can only have int choices")
        if self.kind in ("float", "str") and self.choices:
            raise ValueError(f"{self.kind} measure {self.name} cannot have choices")
        if self.max_length is not None and self.kind != "str":
            raise ValueError(f"only str measures have a max_length ({self.name})")
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and low > high:
            raise ValueError(f"measure {self.name}: minimum {low} is above maximum {high}")


@attrs.frozen(kw_only=True)
class DefaultRule:
    """An alert rule a tenant can switch on for devices of this type; plain data."""

    name: str
    measure: str
    comparison: Comparison = attrs.field(validator=attrs.validators.in_(get_args(Comparison)))
    threshold: float | str
    threshold_high: float | None = None  # the upper bound of "outside"
    duration_s: int = 0  # how long the condition must hold; 0 = immediately
    severity: Severity = attrs.field(
        default="warning", validator=attrs.validators.in_(get_args(Severity))
    )
    description: str = ""

    def __attrs_post_init__(self) -> None:
        if (self.comparison == "outside") != (self.threshold_high is not None):
            raise ValueError(f"rule {self.name}: threshold_high goes with 'outside' only")
        if self.duration_s < 0:
            raise ValueError(f"rule {self.name}: duration_s cannot be negative")


@attrs.frozen
class DashboardPanel:
    title: str
    measures: tuple[str, ...]
    kind: PanelKind = attrs.field(
        default="timeseries", validator=attrs.validators.in_(get_args(PanelKind))
    )
    unit: str = ""


@attrs.frozen
class DashboardSpec:
    title: str
    panels: tuple[DashboardPanel, ...]


@attrs.frozen(kw_only=True)
class SensorType:
    """A kind of sensor: what it measures, how its payloads parse, what it alerts on."""

    name: str
    description: str
    topic_kind: TopicKind = attrs.field(validator=attrs.validators.in_(get_args(TopicKind)))
    measures: tuple[MeasureSpec, ...]
    default_rules: tuple[DefaultRule, ...] = ()
    dashboard: DashboardSpec
    derive: Derive | None = None

    # lookups built once so the per-sample path does no searching
    _by_name: dict[str, MeasureSpec] = attrs.field(init=False, repr=False, eq=False)
    _checkers: dict[str, Checker] = attrs.field(init=False, repr=False, eq=False)
    _derived: frozenset[str] = attrs.field(init=False, repr=False, eq=False)
    _required: tuple[str, ...] = attrs.field(init=False, repr=False, eq=False)
    _accepted: str = attrs.field(init=False, repr=False, eq=False)
    # the keys of the common sample: measures it accepts and the timestamp (the fast path)
    _plain_keys: frozenset[str] = attrs.field(init=False, repr=False, eq=False)
    _required_set: frozenset[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        by_name: dict[str, MeasureSpec] = {}
        for spec in self.measures:
            if spec.name in by_name or spec.name in RESERVED_NAMES:
                raise ValueError(f"sensor type {self.name}: measure name {spec.name} is taken")
            by_name[spec.name] = spec
        derived = frozenset(s.name for s in self.measures if s.derived)
        if derived and self.derive is None:
            raise ValueError(f"sensor type {self.name} declares derived measures but no derive")
        named = [r.measure for r in self.default_rules]
        named += [m for panel in self.dashboard.panels for m in panel.measures]
        unknown = sorted(set(named) - by_name.keys())
        if unknown:
            raise ValueError(f"sensor type {self.name}: rules or panels name {unknown}")
        accepted = [s for s in self.measures if not s.derived]
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_checkers", {s.name: compile_checker(s) for s in accepted})
        object.__setattr__(self, "_derived", derived)
        object.__setattr__(self, "_required", tuple(s.name for s in accepted if s.required))
        object.__setattr__(self, "_accepted", ", ".join(s.name for s in accepted))
        object.__setattr__(self, "_required_set", frozenset(self._required))
        object.__setattr__(self, "_plain_keys", frozenset(s.name for s in accepted) | {"timestamp"})

    def measure(self, name: str) -> MeasureSpec | None:
        return self._by_name.get(name)

    def measure_names(self) -> tuple[str, ...]:
        """Every measure name, derived ones included, in declaration order."""
        return tuple(self._by_name)

    def parse_samples(
        self, payload: object, *, now: float
    ) -> list[Result[Reading, InvalidPayload]]:
        """One result per sample, so one bad sample costs only itself.

        A payload whose shape is wrong as a whole gives one failure with no index.
        """
        return [
            Failure(outcome) if isinstance(outcome, InvalidPayload) else Success(Reading(*outcome))
            for outcome in self._outcomes(payload, now)
        ]

    def parse(self, payload: object, *, now: float) -> Result[list[Reading], InvalidPayload]:
        """All the payload's readings, or its first failure."""
        readings, rejected = self.partition(payload, now=now)
        return Failure(rejected[0]) if rejected else Success(readings)

    def partition(
        self, payload: object, *, now: float
    ) -> tuple[list[Reading], list[InvalidPayload]]:
        """``parse_samples`` without a Result object per sample."""
        readings: list[Reading] = []
        rejected: list[InvalidPayload] = []
        for outcome in self._outcomes(payload, now):
            if type(outcome) is tuple:
                readings.append(Reading(*outcome))
            else:
                rejected.append(outcome)  # type: ignore[arg-type]  # the other member
        return readings, rejected

    def partition_values(
        self, payload: object, *, now: float
    ) -> tuple[list[tuple[int, float, dict[str, MeasureValue]]], list[InvalidPayload]]:
        """The ingest hot path: ``partition`` as (index in the payload, timestamp, values)
        of each valid sample, with no ``Reading`` object; rejections as ``partition``."""
        samples = unwrap(payload)
        if isinstance(samples, InvalidPayload):
            return [], [samples]
        valid: list[tuple[int, float, dict[str, MeasureValue]]] = []
        rejected: list[InvalidPayload] = []
        parse_sample = self._parse_sample
        for index, sample in enumerate(samples):
            outcome = parse_sample(sample, index, now)
            if type(outcome) is tuple:
                valid.append((index, outcome[0], outcome[1]))
            else:
                rejected.append(outcome)  # type: ignore[arg-type]  # the other member
        return valid, rejected

    def _outcomes(
        self, payload: object, now: float
    ) -> list[tuple[float, dict[str, MeasureValue]] | InvalidPayload]:
        samples = unwrap(payload)
        if isinstance(samples, InvalidPayload):
            return [samples]
        parse_sample = self._parse_sample
        return [parse_sample(sample, index, now) for index, sample in enumerate(samples)]

    def _parse_sample(
        self, sample: object, index: int, now: float
    ) -> tuple[float, dict[str, MeasureValue]] | InvalidPayload:
        if type(sample) is not dict:
            return InvalidPayload(
                f"sample {index} must be a JSON object, got {json_type(sample)}",
                index=index,
                reason_code="not-a-sample",
            )
        if sample.keys() <= self._plain_keys and sample.get("timestamp") is not None:
            # The common sample: known measures and a timestamp. Any rejection takes the
            # general walk below, so reasons and their order stay exactly the same.
            checkers = self._checkers
            try:
                values: dict[str, MeasureValue] = {
                    key: checkers[key](raw)
                    for key, raw in sample.items()
                    if raw is not None and key != "timestamp"
                }
                plain: tuple[float, dict[str, MeasureValue]] | None = (
                    parse_timestamp(sample["timestamp"], now=now),
                    values,
                )
            except InvalidPayload:
                plain = None
            required = self._required_set
            if plain is not None and values and (not required or values.keys() >= required):
                if self.derive is not None:
                    values.update(self.derive(values))
                return plain
        try:
            timestamp, values = self._check_fields(sample, now)
        except InvalidPayload as error:
            error.index = index
            return error
        if timestamp is None:
            return InvalidPayload(
                "timestamp is required",
                field="timestamp",
                index=index,
                reason_code="timestamp-missing",
            )
        for name in self._required:
            if name not in values:
                return InvalidPayload(
                    f"{name} is required", field=name, index=index, reason_code="missing-measure"
                )
        if not values:
            return InvalidPayload(
                f"sample has no measures; send at least one of: {self._accepted}",
                index=index,
                reason_code="no-measures",
            )
        if self.derive is not None:
            values.update(self.derive(values))
        return timestamp, values

    def _check_fields(
        self, sample: dict[object, object], now: float
    ) -> tuple[float | None, dict[str, MeasureValue]]:
        checkers = self._checkers
        values: dict[str, MeasureValue] = {}
        timestamp: float | None = None
        for key, raw in sample.items():
            checker = checkers.get(key)  # type: ignore[call-overload]  # any key may be sent
            if checker is not None:
                if raw is not None:
                    values[key] = checker(raw)  # type: ignore[index]  # a checker key is a str
            elif key == "timestamp":
                if raw is not None:
                    timestamp = parse_timestamp(raw, now=now)
            elif key not in ENVELOPE_KEYS:
                raise self._unexpected_field(key)
        return timestamp, values

    def _unexpected_field(self, key: object) -> InvalidPayload:
        field = (key if isinstance(key, str) else repr(key))[:MAX_FIELD_NAME]
        if key in self._derived:
            return InvalidPayload(
                f"{key} is computed by SMDH and cannot be sent",
                field=field,
                reason_code="derived-field",
            )
        return InvalidPayload(
            f"unknown field {describe(key)}; {self.name} accepts timestamp, {self._accepted}",
            field=field,
            reason_code="unknown-field",
        )
