"""The vocabulary of sensor types, and the one payload parser they all share.

A sensor type is data: its measures (name, unit, kind, plausible range), the measures SMDH
derives from them, default alert rules and a dashboard. Parsing is generic: each
``MeasureSpec`` is compiled once into a small checking closure, so the per-sample path is
a walk over the sample's keys with no regex and no objects beyond the stored values.

Payload shapes: one sample ``{"timestamp": ..., "<measure>": ...}``, a batch
``{"samples": [...]}`` or a JSON array of samples; at most 1000 samples per payload.

Sample rules:

- ``timestamp`` is required: epoch seconds (int or float) or an ISO 8601 string with a UTC
  offset. Numbers above 1e11 are epoch *milliseconds* (1e11 s is the year 5138, so no real
  second count is that large). Not before 2000-01-01, not more than 15 minutes ahead of the
  server clock (``now``).
- Envelope keys (``type``, ``device_id``, ``tenant_id``, ``site_id``, ``seq``,
  ``message_id``) are ignored: identity comes from authentication, never from the payload.
- Any other unknown key is rejected by name, so a typo never silently drops data; so is a
  measure SMDH derives itself.
- A measure sent as JSON ``null`` means "not measured" and is left out, like an absent key.
- Numbers: JSON true/false is not a number, NaN and infinities are rejected, ``int``
  measures accept 3.0 as 3 but not 3.5, ranges are inclusive.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal, get_args

import attrs
from returns.result import Failure, Result, Success

from smdh.domain.shared.errors import InvalidPayload

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
Checker = Callable[[object], MeasureValue]

MAX_SAMPLES_PER_PAYLOAD = 1000
MAX_FUTURE_SKEW_S = 900.0
EARLIEST_TIMESTAMP = 946_684_800.0  # 2000-01-01T00:00:00Z
EPOCH_MS_THRESHOLD = 1e11
ENVELOPE_KEYS = frozenset({"type", "device_id", "tenant_id", "site_id", "seq", "message_id"})
_RESERVED_NAMES = ENVELOPE_KEYS | {"timestamp", "samples"}
_MAX_TIMESTAMP_TEXT = 64


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

    def __attrs_post_init__(self) -> None:
        by_name: dict[str, MeasureSpec] = {}
        for spec in self.measures:
            if spec.name in by_name or spec.name in _RESERVED_NAMES:
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
        object.__setattr__(self, "_checkers", {s.name: _compile(s) for s in accepted})
        object.__setattr__(self, "_derived", derived)
        object.__setattr__(self, "_required", tuple(s.name for s in accepted if s.required))
        object.__setattr__(self, "_accepted", ", ".join(s.name for s in accepted))

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
            Success(outcome) if isinstance(outcome, Reading) else Failure(outcome)
            for outcome in self._outcomes(payload, now)
        ]

    def parse(self, payload: object, *, now: float) -> Result[list[Reading], InvalidPayload]:
        """All the payload's readings, or its first failure."""
        readings, rejected = self.partition(payload, now=now)
        return Failure(rejected[0]) if rejected else Success(readings)

    def partition(
        self, payload: object, *, now: float
    ) -> tuple[list[Reading], list[InvalidPayload]]:
        """The ingest hot path: ``parse_samples`` without a Result object per sample."""
        readings: list[Reading] = []
        rejected: list[InvalidPayload] = []
        for outcome in self._outcomes(payload, now):
            if type(outcome) is Reading:
                readings.append(outcome)
            else:
                rejected.append(outcome)  # type: ignore[arg-type]  # the other member
        return readings, rejected

    def _outcomes(self, payload: object, now: float) -> list[Reading | InvalidPayload]:
        samples = _unwrap(payload)
        if isinstance(samples, InvalidPayload):
            return [samples]
        parse_sample = self._parse_sample
        return [parse_sample(sample, index, now) for index, sample in enumerate(samples)]

    def _parse_sample(self, sample: object, index: int, now: float) -> Reading | InvalidPayload:
        if type(sample) is not dict:
            return InvalidPayload(
                f"sample {index} must be a JSON object, got {json_type(sample)}", index=index
            )
        try:
            timestamp, values = self._check_fields(sample, now)
        except InvalidPayload as error:
            error.index = index
            return error
        if timestamp is None:
            return InvalidPayload("timestamp is required", field="timestamp", index=index)
        for name in self._required:
            if name not in values:
                return InvalidPayload(f"{name} is required", field=name, index=index)
        if not values:
            return InvalidPayload(
                f"sample has no measures; send at least one of: {self._accepted}", index=index
            )
        if self.derive is not None:
            values.update(self.derive(values))
        return Reading(timestamp, values)

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
        field = key if isinstance(key, str) else repr(key)
        if key in self._derived:
            return InvalidPayload(f"{key} is computed by SMDH and cannot be sent", field=field)
        return InvalidPayload(
            f"unknown field {describe(key)}; {self.name} accepts timestamp, {self._accepted}",
            field=field,
        )


def _unwrap(payload: object) -> list[object] | InvalidPayload:
    """The payload's samples, whichever of the three shapes it has."""
    samples: list[object] | InvalidPayload
    if type(payload) is dict:
        samples = _batch_samples(payload) if "samples" in payload else [payload]
    elif type(payload) is list:
        samples = payload
    else:
        samples = InvalidPayload(
            'payload must be a JSON object (one sample or {"samples": [...]}) or an array '
            f"of samples, got {json_type(payload)}"
        )
    if isinstance(samples, InvalidPayload):
        return samples
    if not samples:
        return InvalidPayload("payload contains no samples", field="samples")
    if len(samples) > MAX_SAMPLES_PER_PAYLOAD:
        return InvalidPayload(
            f"payload has {len(samples)} samples; the limit is {MAX_SAMPLES_PER_PAYLOAD} "
            "per payload, split it",
            field="samples",
        )
    return samples


def _batch_samples(batch: dict[object, object]) -> list[object] | InvalidPayload:
    extra = [key for key in batch if key != "samples" and key not in ENVELOPE_KEYS]
    if extra:
        return InvalidPayload(
            f"unknown field {describe(extra[0])} in a batch; a batch is "
            '{"samples": [...]} plus optional envelope fields',
            field=str(extra[0]),
        )
    samples = batch["samples"]
    if type(samples) is not list:
        return InvalidPayload(
            f"samples must be a JSON array, got {json_type(samples)}", field="samples"
        )
    return samples


def parse_timestamp(raw: object, *, now: float) -> float:
    """Epoch seconds from a payload timestamp; raises InvalidPayload(field="timestamp")."""
    if type(raw) is float or type(raw) is int:
        try:
            seconds = float(raw)
        except OverflowError:
            seconds = math.inf
        if not math.isfinite(seconds):
            raise _bad_timestamp(f"timestamp {describe(raw)} is not a finite number")
        if seconds > EPOCH_MS_THRESHOLD:
            seconds /= 1000.0
    elif type(raw) is str:
        seconds = _iso_seconds(raw)
    else:
        raise _bad_timestamp(
            "timestamp must be epoch seconds or an ISO 8601 string with a UTC offset, "
            f"got {json_type(raw)}"
        )
    if seconds < EARLIEST_TIMESTAMP:
        raise _bad_timestamp(f"timestamp {describe(raw)} is before 2000-01-01T00:00:00Z")
    if seconds > now + MAX_FUTURE_SKEW_S:
        raise _bad_timestamp(f"timestamp {describe(raw)} is more than 15 minutes in the future")
    return seconds


def _iso_seconds(text: str) -> float:
    try:
        if len(text) > _MAX_TIMESTAMP_TEXT:
            raise ValueError(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _bad_timestamp(f"timestamp {describe(text)} is not an ISO 8601 date-time") from None
    if moment.utcoffset() is None:
        raise _bad_timestamp(
            f"timestamp {describe(text)} has no UTC offset; add one such as Z or +02:00, "
            "a local time without it is ambiguous"
        )
    return moment.timestamp()


def _bad_timestamp(reason: str) -> InvalidPayload:
    return InvalidPayload(reason, field="timestamp")


_JSON_TYPES: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    tuple: "array",
    dict: "object",
}


def json_type(value: object) -> str:
    """The JSON name of a value's type, for reasons."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def describe(value: object) -> str:
    """A value as a reason shows it: JSON-like and at most about 40 characters."""
    if type(value) is float:
        return "NaN" if math.isnan(value) else repr(value).replace("inf", "Infinity")
    if type(value) is int:
        try:
            text = str(value)
        except ValueError:  # beyond Python's int-to-str digit limit
            return "a number with thousands of digits"
        return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} digits)"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:40]) + "..."
    if value is None or type(value) is bool:
        return "null" if value is None else str(value).lower()
    return f"a JSON {json_type(value)}"


def _bound(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


def _out_of_range(spec: MeasureSpec, raw: float) -> InvalidPayload:
    """The reason for a value outside the declared range (or outside what storage holds)."""
    unit = f" {spec.unit}" if spec.unit else ""
    low, high, shown = spec.minimum, spec.maximum, f"{spec.name} {describe(raw)}"
    if low is not None and high is not None:
        reason = f"{shown} is outside the plausible range {_bound(low)}..{_bound(high)}{unit}"
    elif low is not None and raw < low:
        reason = f"{shown} is below the minimum {_bound(low)}{unit}"
    elif high is not None and raw > high:
        reason = f"{shown} is above the maximum {_bound(high)}{unit}"
    else:
        reason = f"{shown} is too large to store"
    return InvalidPayload(reason, field=spec.name)


def _compile(spec: MeasureSpec) -> Checker:
    """A closure returning the storable form of one raw value, or raising InvalidPayload."""
    check = _CHECKER_FACTORIES[spec.kind](spec)
    convert, name = spec.convert, spec.name
    if convert is None:
        return check

    def convert_then_check(raw: object) -> MeasureValue:
        try:
            converted = convert(raw)
        except ValueError as error:
            raise InvalidPayload(str(error), field=name) from None
        return check(converted)

    return convert_then_check


def _number_checker(spec: MeasureSpec) -> Checker:
    """float and int measures; closures over locals keep the per-value path short."""
    name, as_int = spec.name, spec.kind == "int"
    # undeclared bounds are what storage holds: a 64-bit integer or a finite double
    low, high = (-(2**63), 2**63 - 1) if as_int else (-sys.float_info.max, sys.float_info.max)
    low = low if spec.minimum is None else spec.minimum
    high = high if spec.maximum is None else spec.maximum
    choices, choice_text = frozenset(spec.choices), ", ".join(map(str, spec.choices))

    def check(raw: object) -> MeasureValue:
        if type(raw) is float:
            if not math.isfinite(raw):
                raise InvalidPayload(f"{name} {describe(raw)} is not a finite number", field=name)
            if as_int and not raw.is_integer():
                raise InvalidPayload(f"{name} {describe(raw)} is not a whole number", field=name)
        elif type(raw) is not int:
            hint = " (true/false is not a number)" if type(raw) is bool else ""
            raise InvalidPayload(f"{name} must be a number, got {json_type(raw)}{hint}", field=name)
        if not low <= raw <= high:
            raise _out_of_range(spec, raw)
        if not as_int:
            return float(raw)  # within the bounds, so it fits
        value = int(raw)
        if choices and value not in choices:
            raise InvalidPayload(f"{name} {describe(raw)} is not one of: {choice_text}", field=name)
        return value

    return check


def _text_checker(spec: MeasureSpec) -> Checker:
    name, max_length = spec.name, spec.max_length

    def check(raw: object) -> MeasureValue:
        if type(raw) is not str:
            raise InvalidPayload(f"{name} must be a string, got {json_type(raw)}", field=name)
        if max_length is not None and len(raw) > max_length:
            raise InvalidPayload(
                f"{name} is {len(raw)} characters long; the limit is {max_length}", field=name
            )
        return raw

    return check


def _enum_checker(spec: MeasureSpec) -> Checker:
    name, choices = spec.name, frozenset(spec.choices)
    choice_text = ", ".join(map(str, spec.choices))

    def check(raw: object) -> MeasureValue:
        if type(raw) is str and raw in choices:
            return raw
        shown = describe(raw) if type(raw) is str else f"(a JSON {json_type(raw)})"
        raise InvalidPayload(f"{name} {shown} is not one of: {choice_text}", field=name)

    return check


_CHECKER_FACTORIES: dict[str, Callable[[MeasureSpec], Checker]] = {
    "float": _number_checker,
    "int": _number_checker,
    "str": _text_checker,
    "enum": _enum_checker,
}
