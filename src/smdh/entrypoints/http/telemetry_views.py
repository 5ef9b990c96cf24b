"""Telemetry shapes of the API: instants, latest values, readings, buckets, dead letters and
ingest results.

Instants: every time the API returns is an ISO 8601 UTC string ending in ``Z``
(``2026-01-05T08:00:00Z``, microseconds when there are any); readings and latest values
also carry ``epoch`` (seconds since 1970, a float) for charting. Query parameters ``from``
and ``to`` take either form: ISO 8601 *with* an offset, or epoch seconds.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

import attrs

from smdh.entrypoints.http.core import ApiProblem
from smdh.entrypoints.http.schema import spec

Scalar = str | int | float | bool
_EPOCH = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
# "+01:00" arrives as " 01:00" when a client forgot to percent-encode the plus sign
_SPACED_OFFSET = re.compile(r"(?<=[0-9]) ([0-9]{2}(?::?[0-9]{2})?)$")
MAX_EPOCH = 253402300799.0  # 9999-12-31T23:59:59Z
INSTANT_PATTERN = "^[0-9][0-9T:.+Z -]{0,39}$"


def iso(epoch: float) -> str:
    """Epoch seconds as ISO 8601 UTC with ``Z``."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def parse_instant(name: str, value: str) -> float:
    """``from``/``to``: epoch seconds, or ISO 8601 with a UTC offset (naive times are 400)."""
    text = value.strip()
    if _EPOCH.fullmatch(text):
        epoch = float(text)
        if epoch > MAX_EPOCH:
            raise ApiProblem(400, "invalid-query", f"{name} is after the year 9999")
        return epoch
    if "T" in text:
        text = _SPACED_OFFSET.sub(r"+\1", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiProblem(
            400,
            "invalid-query",
            f"{name} must be ISO 8601 with a UTC offset (2026-01-05T08:00:00Z) or epoch seconds",
        ) from None
    if moment.tzinfo is None:
        raise ApiProblem(
            400,
            "invalid-query",
            f"{name} has no UTC offset; add one such as Z or +02:00 (URL-encode + as %2B)",
        )
    try:
        epoch = moment.timestamp()
    except (OverflowError, ValueError, OSError):
        raise ApiProblem(400, "invalid-query", f"{name} is out of range") from None
    if not math.isfinite(epoch) or epoch < 0:
        raise ApiProblem(400, "invalid-query", f"{name} is before 1970")
    return epoch


@attrs.frozen(kw_only=True)
class PointView:
    """The latest value of one measure."""

    value: Scalar
    timestamp: str = attrs.field(metadata=spec("ISO 8601 UTC", format="date-time"))
    epoch: float = attrs.field(metadata=spec("the same instant in epoch seconds"))


@attrs.frozen(kw_only=True)
class LatestView:
    """Each measure's most recent value; ``timestamp`` is the newest of them (null: no data)."""

    device_id: str
    site_id: str
    sensor_type: str
    values: dict[str, PointView]
    timestamp: str | None = attrs.field(metadata=spec("ISO 8601 UTC", format="date-time"))
    epoch: float | None


@attrs.frozen(kw_only=True)
class RejectionView:
    """One refused sample (``index`` its position), or the whole message (``index`` null)."""

    index: int | None
    code: str = attrs.field(metadata=spec("stable reason code, e.g. out-of-range"))
    reason: str


@attrs.frozen(kw_only=True)
class IngestResultView:
    """What happened to the message: stored samples and rejected ones with reasons."""

    accepted: int
    rejected: tuple[RejectionView, ...]


@attrs.frozen(kw_only=True)
class DeadLetterView:
    """A record SMDH refused, with why; ``index`` is the sample's position (null: all)."""

    id: int = attrs.field(metadata=spec("increasing; resume with ?after=<id>"))
    device_id: str
    source: str = attrs.field(metadata=spec("http, mqtt, ..."))
    received_at: str = attrs.field(metadata=spec("ISO 8601 UTC", format="date-time"))
    reason_code: str
    reason: str
    index: int | None
    payload: str = attrs.field(metadata=spec("the message as received, capped at 4 KiB"))


_INSTANT: dict[str, Any] = {"type": "string", "format": "date-time"}
_VALUES: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": ["string", "number", "boolean"]},
}
_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["timestamp", "epoch", "values"],
    "additionalProperties": False,
    "properties": {"timestamp": _INSTANT, "epoch": {"type": "number"}, "values": _VALUES},
}
_BUCKET: dict[str, Any] = {
    "type": "object",
    "required": ["start", "start_epoch", "count", "min", "max", "avg", "sum", "first", "last"],
    "additionalProperties": False,
    "properties": {
        "start": _INSTANT,
        "start_epoch": {"type": "number"},
        "count": {"type": "integer"},
        **{k: {"type": "number"} for k in ("min", "max", "avg", "sum", "first", "last")},
    },
}
READINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Raw samples (`items`) or, with `bucket`, aggregates of one measure "
    "(`buckets`); `truncated` says the limit cut the answer short.",
    "required": ["device_id", "sensor_type", "from", "to", "truncated"],
    "additionalProperties": False,
    "properties": {
        "device_id": {"type": "string"},
        "sensor_type": {"type": "string"},
        "from": _INSTANT,
        "to": _INSTANT,
        "measure": {"type": "string"},
        "bucket": {"type": "string", "enum": ["1m", "1h", "1d"]},
        "items": {"type": "array", "items": _ITEM},
        "buckets": {"type": "array", "items": _BUCKET},
        "truncated": {"type": "boolean"},
    },
}
INGEST_BODY_SCHEMA: dict[str, Any] = {
    "description": "Exactly what the device would publish on MQTT: one sample "
    '`{"timestamp": ..., "<measure>": ...}`, a batch `{"samples": [...]}` or an array of '
    "samples. Timestamps: epoch seconds or ISO 8601 with a UTC offset.",
    "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
}
