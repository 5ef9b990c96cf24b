"""The generic payload parser every sensor type shares.

Each ``MeasureSpec`` is compiled once into a small checking closure, so the per-sample path
is a walk over the sample's keys with no regex and no objects beyond the stored values.

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

Every rejection is an ``InvalidPayload`` whose ``reason_code`` is one of ``REASON_CODES``:
stable, machine-readable, and what the ingest pipeline files dead letters under.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from smdh.domain.shared.errors import InvalidPayload

if TYPE_CHECKING:
    from smdh.domain.sensors.base import MeasureSpec, MeasureValue

# Returns the storable form of one raw payload value, or raises InvalidPayload.
Checker = Callable[[object], "MeasureValue"]

MAX_SAMPLES_PER_PAYLOAD = 1000
MAX_FUTURE_SKEW_S = 900.0
EARLIEST_TIMESTAMP = 946_684_800.0  # 2000-01-01T00:00:00Z
EPOCH_MS_THRESHOLD = 1e11
ENVELOPE_KEYS = frozenset({"type", "device_id", "tenant_id", "site_id", "seq", "message_id"})
RESERVED_NAMES = ENVELOPE_KEYS | {"timestamp", "samples"}
MAX_FIELD_NAME = 128  # an unknown key is echoed back in ``field``; keep it bounded
_MAX_TIMESTAMP_TEXT = 64

REASON_CODES = frozenset(
    {
        # the payload as a whole
        "bad-shape",  # not an object or array, or "samples" is not an array
        "no-samples",
        "too-many-samples",
        # one sample
        "not-a-sample",  # a sample that is not a JSON object
        "unknown-field",
        "derived-field",  # a measure SMDH computes itself
        "no-measures",
        "missing-measure",  # a required measure is absent
        "timestamp-missing",
        "timestamp-invalid",  # unparseable, naive, not finite or not a number/string
        "timestamp-too-old",  # before 2000-01-01
        "timestamp-in-future",  # more than 15 minutes ahead of the server clock
        # one value
        "wrong-type",  # a string for a number, true/false as a number, 3.5 for an int
        "not-finite",  # NaN or an infinity
        "out-of-range",
        "not-allowed-value",  # not one of the declared choices
        "too-long",
        "invalid-value",  # rejected by the measure's converter (identifiers, metadata)
    }
)


def unwrap(payload: object) -> list[object] | InvalidPayload:
    """The payload's samples, whichever of the three shapes it has."""
    samples: list[object] | InvalidPayload
    if type(payload) is dict:
        samples = _batch_samples(payload) if "samples" in payload else [payload]
    elif type(payload) is list:
        samples = payload
    else:
        samples = InvalidPayload(
            'payload must be a JSON object (one sample or {"samples": [...]}) or an array '
            f"of samples, got {json_type(payload)}",
            reason_code="bad-shape",
        )
    if isinstance(samples, InvalidPayload):
        return samples
    if not samples:
        return InvalidPayload(
            "payload contains no samples", field="samples", reason_code="no-samples"
        )
    if len(samples) > MAX_SAMPLES_PER_PAYLOAD:
        return InvalidPayload(
            f"payload has {len(samples)} samples; the limit is {MAX_SAMPLES_PER_PAYLOAD} "
            "per payload, split it",
            field="samples",
            reason_code="too-many-samples",
        )
    return samples


def _batch_samples(batch: dict[object, object]) -> list[object] | InvalidPayload:
    extra = [key for key in batch if key != "samples" and key not in ENVELOPE_KEYS]
    if extra:
        return InvalidPayload(
            f"unknown field {describe(extra[0])} in a batch; a batch is "
            '{"samples": [...]} plus optional envelope fields',
            field=str(extra[0])[:MAX_FIELD_NAME],
            reason_code="unknown-field",
        )
    samples = batch["samples"]
    if type(samples) is not list:
        return InvalidPayload(
            f"samples must be a JSON array, got {json_type(samples)}",
            field="samples",
            reason_code="bad-shape",
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
        raise _bad_timestamp(
            f"timestamp {describe(raw)} is before 2000-01-01T00:00:00Z", "timestamp-too-old"
        )
    if seconds > now + MAX_FUTURE_SKEW_S:
        raise _bad_timestamp(
            f"timestamp {describe(raw)} is more than 15 minutes in the future",
            "timestamp-in-future",
        )
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


def _bad_timestamp(reason: str, reason_code: str = "timestamp-invalid") -> InvalidPayload:
    return InvalidPayload(reason, field="timestamp", reason_code=reason_code)


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
    return InvalidPayload(reason, field=spec.name, reason_code="out-of-range")


def compile_checker(spec: MeasureSpec) -> Checker:
    """A closure returning the storable form of one raw value, or raising InvalidPayload."""
    check = _CHECKER_FACTORIES[spec.kind](spec)
    convert, name = spec.convert, spec.name
    if convert is None:
        return check

    def convert_then_check(raw: object) -> MeasureValue:
        try:
            converted = convert(raw)
        except ValueError as error:
            raise InvalidPayload(str(error), field=name, reason_code="invalid-value") from None
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
                raise InvalidPayload(
                    f"{name} {describe(raw)} is not a finite number",
                    field=name,
                    reason_code="not-finite",
                )
            if as_int and not raw.is_integer():
                raise InvalidPayload(
                    f"{name} {describe(raw)} is not a whole number",
                    field=name,
                    reason_code="wrong-type",
                )
        elif type(raw) is not int:
            hint = " (true/false is not a number)" if type(raw) is bool else ""
            raise InvalidPayload(
                f"{name} must be a number, got {json_type(raw)}{hint}",
                field=name,
                reason_code="wrong-type",
            )
        if not low <= raw <= high:
            raise _out_of_range(spec, raw)
        if not as_int:
            return float(raw)  # within the bounds, so it fits
        value = int(raw)
        if choices and value not in choices:
            raise InvalidPayload(
                f"{name} {describe(raw)} is not one of: {choice_text}",
                field=name,
                reason_code="not-allowed-value",
            )
        return value

    # The common value first: a number of the measure's own type within its bounds (NaN
    # and infinities fail the comparison), returned as is, as ``check`` would return it.
    # Anything else takes ``check``, which gives the reason.
    if as_int:

        def check_int(raw: object) -> MeasureValue:
            if type(raw) is int and low <= raw <= high and (not choices or raw in choices):
                return raw
            return check(raw)

        return check_int

    def check_float(raw: object) -> MeasureValue:
        if type(raw) is float and low <= raw <= high:
            return raw
        return check(raw)

    return check_float


def _text_checker(spec: MeasureSpec) -> Checker:
    name, max_length = spec.name, spec.max_length

    def check(raw: object) -> MeasureValue:
        if type(raw) is not str:
            raise InvalidPayload(
                f"{name} must be a string, got {json_type(raw)}",
                field=name,
                reason_code="wrong-type",
            )
        if max_length is not None and len(raw) > max_length:
            raise InvalidPayload(
                f"{name} is {len(raw)} characters long; the limit is {max_length}",
                field=name,
                reason_code="too-long",
            )
        return raw

    return check


def _enum_checker(spec: MeasureSpec) -> Checker:
    name, choices = spec.name, frozenset(spec.choices)
    choice_text = ", ".join(map(str, spec.choices))

    def check(raw: object) -> MeasureValue:
        if type(raw) is str and raw in choices:
            return raw
        if type(raw) is str:
            shown, reason_code = describe(raw), "not-allowed-value"
        else:
            shown, reason_code = f"(a JSON {json_type(raw)})", "wrong-type"
        raise InvalidPayload(
            f"{name} {shown} is not one of: {choice_text}", field=name, reason_code=reason_code
        )

    return check


_CHECKER_FACTORIES: dict[str, Callable[[MeasureSpec], Checker]] = {
    "float": _number_checker,
    "int": _number_checker,
    "str": _text_checker,
    "enum": _enum_checker,
}
