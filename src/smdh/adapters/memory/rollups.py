"""Rollups: the statistics both adapters share, and the in-memory ``RollupStore``.

The statistics of a bucket (``RollupBucket``, ``StateBucket``) are computed from raw samples
by ``numeric_bucket`` and ``state_bucket`` and combined exactly by ``merge_numeric`` and
``merge_states``: a 1-hour bucket built from its 1-minute buckets equals the 1-hour bucket
built from the samples. The embedded store keeps the buckets in tables; this in-memory store
computes them on demand from the telemetry store, so both answer the same.

``split_range`` cuts a query range into whole buckets of one width and the partial edges,
which the next finer width (and below 1 minute, the raw samples) answers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from smdh.application.ports import (
    ROLLUP_WIDTHS,
    BucketMeans,
    RollupBucket,
    StateBucket,
    TelemetryStore,
)
from smdh.domain.sensors.base import SensorType
from smdh.domain.sensors.registry import SensorRegistry
from smdh.domain.telemetry import DeviceSample

DEFAULT_HOLD_S = 60.0  # a state sample holds until the next one, at most this long
PAGE = 50_000
Point = tuple[float, Any]  # (timestamp, value)


def check_width(width: int) -> int:
    if width not in ROLLUP_WIDTHS:
        raise ValueError(f"rollup width must be one of {ROLLUP_WIDTHS}, got {width!r}")
    return width


def finer(width: int) -> int | None:
    """The next finer rollup width; None below one minute (raw samples)."""
    index = ROLLUP_WIDTHS.index(width)
    return ROLLUP_WIDTHS[index - 1] if index else None


def bucket_of(timestamp: float, width: int) -> float:
    return float(math.floor(timestamp / width) * width)


def split_range(
    start: float, end: float, width: int
) -> tuple[tuple[float, float] | None, list[tuple[float, float]]]:
    """``[start, end)`` as the whole buckets of ``width`` it holds (``None``: none) and the
    partial edges (at most two ranges, each inside one bucket)."""
    first = math.ceil(start / width) * width
    last = math.floor(end / width) * width
    if first >= last:
        return None, [(start, end)] if end > start else []
    edges = [(s, e) for s, e in ((start, float(first)), (float(last), end)) if e > s]
    return (float(first), float(last)), edges


def increase(previous: float, value: float) -> float:
    """Growth of a cumulative counter from ``previous`` to ``value``; a drop is a restart."""
    return value - previous if value >= previous else value


def numeric_bucket(start: float, points: Sequence[Point]) -> RollupBucket | None:
    """Statistics of time-ordered (timestamp, number) points; None when there are none."""
    if not points:
        return None
    values = [float(v) for _, v in points]
    grown = sum(increase(a, b) for a, b in itertools.pairwise(values))
    return RollupBucket(
        start=start,
        count=len(values),
        minimum=min(values),
        maximum=max(values),
        total=math.fsum(values),
        first=values[0],
        last=values[-1],
        first_at=points[0][0],
        last_at=points[-1][0],
        increase=grown,
    )


def merge_numeric(start: float, parts: Iterable[RollupBucket]) -> RollupBucket | None:
    """Buckets of one series combined into one starting at ``start`` (exact)."""
    ordered = sorted(parts, key=lambda b: b.first_at)
    if not ordered:
        return None
    grown = ordered[0].increase
    for before, after in itertools.pairwise(ordered):
        grown += increase(before.last, after.first) + after.increase
    return RollupBucket(
        start=start,
        count=sum(b.count for b in ordered),
        minimum=min(b.minimum for b in ordered),
        maximum=max(b.maximum for b in ordered),
        total=math.fsum(b.total for b in ordered),
        first=ordered[0].first,
        last=max(ordered, key=lambda b: b.last_at).last,
        first_at=ordered[0].first_at,
        last_at=max(b.last_at for b in ordered),
        increase=grown,
    )


def state_bucket(
    start: float, end: float, points: Sequence[Point], hold_s: float, *, bucket: float
) -> StateBucket | None:
    """Samples per value in ``[start, end)`` and seconds each value held there. ``points``
    are time-ordered and must include the samples from ``start - hold_s`` to the first one at
    or after ``end`` (they decide how long the samples before and in the range hold)."""
    counts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for i, (ts, value) in enumerate(points):
        if ts >= end:
            break
        key = str(value)
        if ts >= start:
            counts[key] = counts.get(key, 0) + 1
        stop = ts + hold_s
        if i + 1 < len(points):
            stop = min(stop, points[i + 1][0])
        held = min(stop, end) - max(ts, start)
        if held > 0:
            seconds[key] = seconds.get(key, 0.0) + held
    if not counts and not seconds:
        return None
    return StateBucket(bucket, counts, seconds)


def merge_states(start: float, parts: Iterable[StateBucket]) -> StateBucket | None:
    counts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    seen = False
    for part in parts:
        seen = True
        for key, n in part.counts.items():
            counts[key] = counts.get(key, 0) + n
        for key, s in part.seconds.items():
            seconds[key] = seconds.get(key, 0.0) + s
    return StateBucket(start, counts, seconds) if seen else None


def group_numeric(width: int, parts: Iterable[RollupBucket]) -> list[RollupBucket]:
    """Finer buckets regrouped into buckets of ``width`` (time-ordered)."""
    groups: dict[float, list[RollupBucket]] = {}
    for part in parts:
        groups.setdefault(bucket_of(part.start, width), []).append(part)
    merged = (merge_numeric(start, group) for start, group in sorted(groups.items()))
    return [b for b in merged if b is not None]


def group_states(width: int, parts: Iterable[StateBucket]) -> list[StateBucket]:
    groups: dict[float, list[StateBucket]] = {}
    for part in parts:
        groups.setdefault(bucket_of(part.start, width), []).append(part)
    merged = (merge_states(start, group) for start, group in sorted(groups.items()))
    return [b for b in merged if b is not None]


def numeric_from_points(width: int, points: Sequence[Point]) -> list[RollupBucket]:
    """Buckets of ``width`` straight from time-ordered points."""
    groups: dict[float, list[Point]] = {}
    for point in points:
        groups.setdefault(bucket_of(point[0], width), []).append(point)
    made = (numeric_bucket(start, group) for start, group in sorted(groups.items()))
    return [b for b in made if b is not None]


def states_from_points(
    width: int, start: float, end: float, points: Sequence[Point], hold_s: float
) -> list[StateBucket]:
    """State buckets of ``width`` over ``[start, end)`` from points spanning the hold."""
    result: list[StateBucket] = []
    cursor = bucket_of(start, width)
    while cursor < end:
        lo, hi = max(cursor, start), min(cursor + width, end)
        made = state_bucket(lo, hi, points, hold_s, bucket=cursor)
        if made is not None:
            result.append(made)
        cursor += width
    return result


def means_of(
    buckets: Callable[[str], list[RollupBucket]], measures: Sequence[str]
) -> dict[str, BucketMeans]:
    """``RollupStore.means`` from a store's ``buckets`` (one call per measure)."""
    out: dict[str, BucketMeans] = {}
    for m in measures:
        found = buckets(m)
        starts, counts = [b.start for b in found], [b.count for b in found]
        out[m] = BucketMeans(starts, [b.average for b in found], counts)
    return out


def runs(minutes: list[int], gap: int = 3) -> Iterator[list[int]]:
    """Sorted minutes cut into runs; a run spans small gaps (one read covers them)."""
    run: list[int] = []
    for minute in minutes:
        if run and minute - run[-1] > gap:
            yield run
            run = []
        if run and minute - run[-1] > 1:
            run.extend(range(run[-1] + 1, minute))
        run.append(minute)
    if run:
        yield run


def enum_measure(sensor_type: SensorType | None, measure: str) -> bool:
    spec = None if sensor_type is None else sensor_type.measure(measure)
    return spec is not None and spec.kind == "enum"


def raw_points(
    telemetry: TelemetryStore,
    tenant_id: str,
    device_id: str,
    measure: str,
    start: float,
    end: float,
) -> list[Point]:
    """One measure's (timestamp, value) points of a device in ``[start, end)``, paged."""
    points: list[Point] = []
    cursor = start
    while cursor < end:
        page = telemetry.query_range(tenant_id, device_id, cursor, end, [measure], PAGE)
        points.extend((s.timestamp, s.values[measure]) for s in page if measure in s.values)
        if len(page) < PAGE:
            break
        cursor = math.nextafter(page[-1].timestamp, math.inf)
    return points


class InMemoryRollupStore:
    """Rollups computed on demand from the telemetry store (tests, offline use)."""

    def __init__(
        self, telemetry: TelemetryStore, registry: SensorRegistry, hold_s: float = DEFAULT_HOLD_S
    ) -> None:
        self._telemetry = telemetry
        self._registry = registry
        self.hold_s = hold_s

    def on_stored(self, samples: Sequence[DeviceSample]) -> None:
        """Nothing to maintain: buckets are computed from the samples when asked."""

    def flush(self) -> int:
        return 0

    def buckets(
        self, tenant_id: str, device_id: str, measure: str, start: float, end: float, width: int
    ) -> list[RollupBucket]:
        check_width(width)
        points = raw_points(self._telemetry, tenant_id, device_id, measure, start, end)
        numeric = [(ts, v) for ts, v in points if isinstance(v, int | float)]
        return numeric_from_points(width, numeric)

    def state_buckets(
        self, tenant_id: str, device_id: str, measure: str, start: float, end: float, width: int
    ) -> list[StateBucket]:
        check_width(width)
        points: list[Point] = raw_points(
            self._telemetry, tenant_id, device_id, measure, start - self.hold_s, end
        )
        after = self._telemetry.query_range(tenant_id, device_id, end, math.inf, [measure], 1)
        points.extend((s.timestamp, s.values[measure]) for s in after)
        return states_from_points(width, start, end, points, self.hold_s)

    def means(
        self,
        tenant_id: str,
        device_id: str,
        measures: Sequence[str],
        start: float,
        end: float,
        width: int,
    ) -> dict[str, BucketMeans]:
        return means_of(
            lambda m: self.buckets(tenant_id, device_id, m, start, end, width), measures
        )
