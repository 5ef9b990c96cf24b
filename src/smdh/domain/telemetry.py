"""Telemetry as it is stored: enriched samples, aggregate buckets, dead letters.

Readings are not aggregate events: they are high-volume values that flow in batches through
the ``TelemetryStore`` port. A ``DeviceSample`` is one validated reading enriched with the
identity the registry gave its device (tenant, site, sensor type). The same (tenant, device,
timestamp, measure) is the same point: storing it twice keeps one.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from smdh.domain.sensors.base import MeasureValue


@attrs.frozen(slots=True)
class DeviceSample:
    tenant_id: str
    site_id: str
    device_id: str
    sensor_type: str
    timestamp: float  # epoch seconds, UTC
    values: Mapping[str, MeasureValue]


@attrs.frozen(slots=True)
class MeasurePoint:
    """The latest value of one measure of one device."""

    measure: str
    timestamp: float
    value: MeasureValue


@attrs.frozen(slots=True)
class Bucket:
    """Aggregates of one numeric measure over [start, start + width)."""

    start: float
    count: int
    minimum: float
    maximum: float
    total: float
    first: float
    last: float

    @property
    def average(self) -> float:
        return self.total / self.count if self.count else 0.0


@attrs.frozen(slots=True)
class DeadLetter:
    """A record SMDH refused, with why, so nothing is dropped silently."""

    tenant_id: str  # "" when the sender could not be attributed to a tenant
    device_id: str
    source: str  # "mqtt", "http", "kinesis", ...
    received_at: float
    reason_code: str
    reason: str
    payload: str  # the raw record, capped (see MAX_DEAD_LETTER_PAYLOAD)
    index: int | None = None


MAX_DEAD_LETTER_PAYLOAD = 4096


def capped(raw: bytes | str, limit: int = MAX_DEAD_LETTER_PAYLOAD) -> str:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text if len(text) <= limit else text[:limit] + f"...[{len(text) - limit} more]"
