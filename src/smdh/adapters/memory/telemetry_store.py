"""In-memory ``TelemetryStore``: the fast fake for unit tests and offline use.

Semantics are the embedded store's (``smdh.adapters.embedded.telemetry_store``), and both
pass ``tests/contract/telemetry_store_contract.py``:

* Samples are kept per series: (tenant, device, sensor type). A device has one sensor type in
  practice; should it change, the old series stays readable and queries merge both.
* ``write`` is all or nothing and idempotent: a sample with the same (tenant, device, sensor
  type, timestamp) replaces the measures it carries and keeps the others. A sample without
  measures stores nothing. Values are normalized to their measure's kind (``float``
  measures come back as ``float`` even when written as ``int``).
* ``latest`` gives each measure's value at its greatest timestamp (a late, older sample does
  not replace it; a rewrite at the same timestamp does), sorted by measure name.
* ``query_range``: start <= timestamp < end, oldest first, at most ``limit`` samples; with
  ``measures`` only those measures, and only samples carrying at least one of them.
* ``aggregate``: buckets ``[k * width, (k + 1) * width)``, k = floor(timestamp / width), over
  the samples carrying the measure; no empty buckets; ``first``/``last`` are the values at
  the smallest/greatest timestamp of the bucket.
* Bad requests (unknown sensor type or measure, non-numeric aggregate, limit < 1, ...)
  raise ``InvalidTelemetryRequest``: a ``ValueError`` and a domain ``ValidationError``.
"""

from __future__ import annotations

import bisect
import heapq
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import NoReturn

import attrs

from smdh.domain.sensors.base import MeasureKind, MeasureValue, SensorType
from smdh.domain.sensors.registry import SensorRegistry
from smdh.domain.shared.errors import ValidationError
from smdh.domain.telemetry import Bucket, DeviceSample, MeasurePoint

NUMERIC_KINDS = frozenset({"float", "int"})


class InvalidTelemetryRequest(ValidationError, ValueError):
    """A write or query the telemetry store cannot serve as asked."""

    code = "invalid-telemetry-request"


def unknown_sensor_type(registry: SensorRegistry, name: str) -> NoReturn:
    raise InvalidTelemetryRequest(
        f"unknown sensor type {name!r}; known types: {', '.join(registry.names())}"
    )


def sensor_type_of(registry: SensorRegistry, name: str) -> SensorType:
    found = registry.find(name)
    if found is None:
        unknown_sensor_type(registry, name)
    return found


def check_sample(
    sample: DeviceSample, sensor_type: SensorType
) -> tuple[float, dict[str, MeasureValue]]:
    """The sample's timestamp as a float and its values normalized to their kinds (``None``
    values left out); raises if the timestamp is negative or not finite, or if a measure is
    unknown (it would otherwise be dropped silently)."""
    timestamp = float(sample.timestamp)
    if not 0.0 <= timestamp < math.inf:
        raise InvalidTelemetryRequest(
            f"timestamp {sample.timestamp!r} is not a finite number of seconds since 1970"
        )
    values: dict[str, MeasureValue] = {}
    for name, value in sample.values.items():
        spec = sensor_type.measure(name)
        if spec is None:
            raise InvalidTelemetryRequest(
                f"sensor type {sensor_type.name!r} has no measure {name!r}"
                f" (device {sample.device_id!r})"
            )
        if value is not None:
            values[name] = normalize(spec.kind, value)
    return timestamp, values


def normalize(kind: MeasureKind, value: MeasureValue) -> MeasureValue:
    """A value as its measure's kind stores it."""
    if kind == "float":
        return float(value)
    if kind == "int":
        return int(value)
    return str(value)


def kind_of(sensor_type: SensorType | None, measure: str) -> MeasureKind | None:
    spec = None if sensor_type is None else sensor_type.measure(measure)
    return None if spec is None else spec.kind


def check_measures(registry: SensorRegistry, measures: Sequence[str] | None) -> frozenset[str]:
    """The requested measure names; each must be a measure of some registered type."""
    if measures is None:
        return frozenset()
    names = frozenset(measures)
    known = {name for sensor_type in registry for name in sensor_type.measure_names()}
    unknown = sorted(names - known)
    if unknown:
        raise InvalidTelemetryRequest(f"unknown measures: {', '.join(unknown)}")
    return names


def check_window(start: float, end: float) -> None:
    if math.isnan(start) or math.isnan(end):
        raise InvalidTelemetryRequest(f"start and end must be numbers, got {start!r}, {end!r}")


def check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidTelemetryRequest(f"limit must be a positive integer, got {limit!r}")


def check_aggregate(registry: SensorRegistry, measure: str, bucket_seconds: int) -> None:
    """Raise unless ``measure`` is numeric in some registered type and the width is >= 1 s."""
    if (
        isinstance(bucket_seconds, bool)
        or not isinstance(bucket_seconds, int)
        or bucket_seconds < 1
    ):
        raise InvalidTelemetryRequest(
            f"bucket_seconds must be a positive integer, got {bucket_seconds!r}"
        )
    kinds = {kind_of(t, measure) for t in registry} - {None}
    if not kinds:
        raise InvalidTelemetryRequest(f"unknown measure {measure!r}")
    if not kinds & NUMERIC_KINDS:
        raise InvalidTelemetryRequest(
            f"measure {measure!r} is not numeric ({', '.join(sorted(map(str, kinds)))}):"
            " it cannot be aggregated"
        )


def aggregates_measure(sensor_type: SensorType | None, measure: str) -> bool:
    return kind_of(sensor_type, measure) in NUMERIC_KINDS


@attrs.define(slots=True)
class PartialBucket:
    """A bucket being built, with the timestamps of its first and last values."""

    index: int
    count: int
    minimum: float
    maximum: float
    total: float
    first_at: float
    first: float
    last_at: float
    last: float


def newest_points(
    entries: Sequence[tuple[float, Mapping[str, MeasureValue]]],
) -> list[tuple[str, float, MeasureValue]]:
    """Each measure's (timestamp, value) at its greatest timestamp in a batch of one series;
    at equal timestamps the later sample wins, as when applied one by one. Walks newest
    first, so a sample holding only measures already found costs one key-set comparison."""
    found: dict[str, tuple[float, MeasureValue]] = {}
    for timestamp, values in reversed(sorted(entries, key=itemgetter(0))):  # stable sort
        if values.keys() <= found.keys():
            continue
        for name, value in values.items():
            if name not in found:
                found[name] = (timestamp, value)
    return [(name, ts, value) for name, (ts, value) in found.items()]


def latest_points(
    rows: Iterable[tuple[SensorType | None, str, float, MeasureValue]],
) -> list[MeasurePoint]:
    """The latest point of each measure of one device from its series' latest points (in
    series creation order; on a tie the earlier series wins), by measure name."""
    best: dict[str, tuple[float, MeasureValue]] = {}
    for sensor_type, measure, timestamp, value in rows:
        seen = best.get(measure)
        if seen is None or timestamp > seen[0]:
            kind = kind_of(sensor_type, measure)
            best[measure] = (timestamp, value if kind is None else normalize(kind, value))
    return [MeasurePoint(name, ts, value) for name, (ts, value) in sorted(best.items())]


def merge_buckets(width: int, per_series: Iterable[Iterable[PartialBucket]]) -> list[Bucket]:
    """Buckets of several series of one device combined, in time order.

    Ties on the first/last timestamp keep the earlier series' value (series in creation
    order), the same rule in every adapter.
    """
    merged: dict[int, PartialBucket] = {}
    for buckets in per_series:
        for part in buckets:
            seen = merged.get(part.index)
            if seen is None:
                merged[part.index] = attrs.evolve(part)
                continue
            seen.count += part.count
            seen.minimum = min(seen.minimum, part.minimum)
            seen.maximum = max(seen.maximum, part.maximum)
            seen.total += part.total
            if part.first_at < seen.first_at:
                seen.first_at, seen.first = part.first_at, part.first
            if part.last_at > seen.last_at:
                seen.last_at, seen.last = part.last_at, part.last
    return [
        Bucket(
            start=float(b.index * width),
            count=b.count,
            minimum=float(b.minimum),
            maximum=float(b.maximum),
            total=float(b.total),
            first=float(b.first),
            last=float(b.last),
        )
        for _, b in sorted(merged.items())
    ]


def merge_ranges(runs: list[list[DeviceSample]], limit: int) -> list[DeviceSample]:
    """Time-ordered runs of several series merged, oldest first, at most ``limit``."""
    if len(runs) == 1:
        return runs[0][:limit]
    merged = heapq.merge(*runs, key=lambda sample: sample.timestamp)
    return [sample for _, sample in zip(range(limit), merged, strict=False)]


class _Series:
    __slots__ = ("latest", "points", "site_id", "times")

    def __init__(self, site_id: str) -> None:
        self.site_id = site_id
        self.times: list[float] = []  # sorted
        self.points: dict[float, dict[str, MeasureValue]] = {}
        self.latest: dict[str, tuple[float, MeasureValue]] = {}


class InMemoryTelemetryStore:
    """Thread-safe dict-and-list telemetry store; see the module docstring."""

    def __init__(self, registry: SensorRegistry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        # (tenant, device) -> sensor type -> series, in creation order
        self._devices: dict[tuple[str, str], dict[str, _Series]] = {}

    def close(self) -> None:
        """Nothing to release; here for symmetry with the embedded store."""

    def write(self, samples: Sequence[DeviceSample]) -> None:
        checked: list[tuple[DeviceSample, float, dict[str, MeasureValue]]] = []
        for sample in samples:
            sensor_type = sensor_type_of(self._registry, sample.sensor_type)
            timestamp, values = check_sample(sample, sensor_type)
            if values:
                checked.append((sample, timestamp, values))
        with self._lock:
            for sample, timestamp, values in checked:
                self._write_one(sample, timestamp, values)

    def _write_one(
        self, sample: DeviceSample, timestamp: float, values: dict[str, MeasureValue]
    ) -> None:
        by_type = self._devices.setdefault((sample.tenant_id, sample.device_id), {})
        series = by_type.get(sample.sensor_type)
        if series is None:
            series = by_type[sample.sensor_type] = _Series(sample.site_id)
        series.site_id = sample.site_id
        stored = series.points.get(timestamp)
        if stored is None:
            series.points[timestamp] = dict(values)
            if not series.times or timestamp > series.times[-1]:
                series.times.append(timestamp)
            else:
                bisect.insort(series.times, timestamp)
        else:
            stored.update(values)
        for name, value in values.items():
            seen = series.latest.get(name)
            if seen is None or timestamp >= seen[0]:
                series.latest[name] = (timestamp, value)

    def _series(self, tenant_id: str, device_id: str) -> list[tuple[str, _Series]]:
        return list(self._devices.get((tenant_id, device_id), {}).items())

    def latest(self, tenant_id: str, device_id: str) -> list[MeasurePoint]:
        with self._lock:
            rows = [
                (self._registry.find(type_name), name, timestamp, value)
                for type_name, series in self._series(tenant_id, device_id)
                for name, (timestamp, value) in series.latest.items()
            ]
        return latest_points(rows)

    def query_range(
        self,
        tenant_id: str,
        device_id: str,
        start: float,
        end: float,
        measures: Sequence[str] | None = None,
        limit: int = 1000,
    ) -> list[DeviceSample]:
        check_window(start, end)
        check_limit(limit)
        wanted = check_measures(self._registry, measures)
        runs: list[list[DeviceSample]] = []
        with self._lock:
            for sensor_type, series in self._series(tenant_id, device_id):
                run: list[DeviceSample] = []
                first = bisect.bisect_left(series.times, start)
                for timestamp in series.times[first:]:
                    if timestamp >= end or len(run) == limit:
                        break
                    values = series.points[timestamp]
                    if measures is not None:
                        values = {k: v for k, v in values.items() if k in wanted}
                        if not values:
                            continue
                    run.append(
                        DeviceSample(
                            tenant_id,
                            series.site_id,
                            device_id,
                            sensor_type,
                            timestamp,
                            dict(values),
                        )
                    )
                runs.append(run)
        return merge_ranges(runs, limit) if runs else []

    def aggregate(
        self,
        tenant_id: str,
        device_id: str,
        measure: str,
        start: float,
        end: float,
        bucket_seconds: int,
    ) -> list[Bucket]:
        check_window(start, end)
        check_aggregate(self._registry, measure, bucket_seconds)
        per_series: list[list[PartialBucket]] = []
        with self._lock:
            for sensor_type, series in self._series(tenant_id, device_id):
                if aggregates_measure(self._registry.find(sensor_type), measure):
                    per_series.append(_buckets(series, measure, start, end, bucket_seconds))
        return merge_buckets(bucket_seconds, per_series)


def _buckets(
    series: _Series, measure: str, start: float, end: float, width: int
) -> list[PartialBucket]:
    out: dict[int, PartialBucket] = {}
    first = bisect.bisect_left(series.times, start)
    for timestamp in series.times[first:]:
        if timestamp >= end:
            break
        raw = series.points[timestamp].get(measure)
        if raw is None:
            continue
        value = float(raw)
        index = math.floor(timestamp / width)
        bucket = out.get(index)
        if bucket is None:
            out[index] = PartialBucket(
                index, 1, value, value, value, timestamp, value, timestamp, value
            )
            continue
        bucket.count += 1
        bucket.minimum = min(bucket.minimum, value)
        bucket.maximum = max(bucket.maximum, value)
        bucket.total += value
        bucket.last_at, bucket.last = timestamp, value  # times are ascending
    return list(out.values())
