"""Planned time: a site's shift calendar as UTC intervals, interval algebra, local buckets.

Times are epoch seconds (UTC) and intervals are half-open ``(start, end)`` tuples. Shifts
are defined in the site's local time (``Shift.start``/``end`` "HH:MM", ``end`` before
``start`` means the shift ends the next day); each occurrence is converted to UTC with
``zoneinfo``, so a 22:00-06:00 shift lasts 7 hours on the night clocks spring forward and
9 hours on the night they fall back (Europe/Berlin, America/Chicago, ...).

Local times that do not exist (inside a spring-forward gap) resolve with ``fold=0``, i.e. to
the instant of the transition or after it; ambiguous local times (fall-back) resolve to
their first occurrence. Both are the documented behaviour of PEP 495 / ``zoneinfo``.

Everything here is pure: no clock reads; ``start``/``end`` are values passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import attrs

from smdh.domain.tenancy.site import Shift

Interval = tuple[float, float]
BucketUnit = Literal["hour", "day", "month"]


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def local_instant(day: date, at: time, tz: ZoneInfo) -> float:
    """The UTC epoch of the site-local wall-clock time ``at`` on ``day``."""
    return datetime.combine(day, at, tzinfo=tz).timestamp()


def local_date(timestamp: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(timestamp, tz).date()


# -- interval algebra (inputs need not be sorted; outputs are sorted, merged, non-empty) --


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and merge overlapping or touching intervals; drop empty ones."""
    result: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if result and start <= result[-1][1]:
            if end > result[-1][1]:
                result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return result


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """Time that lies in both sets (linear sweep over the merged inputs)."""
    left, right = merge(a), merge(b)
    result: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if end > start:
            result.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return result


def subtract(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """Time in ``a`` that is not in ``b``."""
    removed = merge(b)
    result: list[Interval] = []
    j = 0
    for start, end in merge(a):
        cursor = start
        while j < len(removed) and removed[j][1] <= cursor:
            j += 1
        k = j
        while k < len(removed) and removed[k][0] < end:
            if removed[k][0] > cursor:
                result.append((cursor, removed[k][0]))
            cursor = max(cursor, removed[k][1])
            k += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def total_seconds(intervals: Iterable[Interval]) -> float:
    return sum(end - start for start, end in merge(intervals))


# -- shift calendar --


@attrs.frozen
class ShiftInstance:
    """One occurrence of a shift: ``day`` is the site-local date on which it starts."""

    name: str
    day: date
    start: float
    end: float

    @property
    def label(self) -> str:
        return f"{self.day.isoformat()}/{self.name}"

    @property
    def interval(self) -> Interval:
        return (self.start, self.end)


def shift_instances(
    shifts: Sequence[Shift], timezone: str, start: float, end: float
) -> list[ShiftInstance]:
    """Every shift occurrence overlapping ``[start, end)``, unclipped, sorted by start."""
    tz = zone(timezone)
    first = local_date(start, tz) - timedelta(days=1)  # an overnight shift from yesterday
    last = local_date(end, tz)
    parsed = [(s, _hhmm(s.start), _hhmm(s.end)) for s in shifts]
    result: list[ShiftInstance] = []
    day = first
    while day <= last:
        for shift, begin, finish in parsed:
            if day.weekday() not in shift.weekdays:
                continue
            s = local_instant(day, begin, tz)
            e = local_instant(day + timedelta(days=1) if finish <= begin else day, finish, tz)
            if e > start and s < end and e > s:
                result.append(ShiftInstance(shift.name, day, s, e))
        day += timedelta(days=1)
    result.sort(key=lambda i: (i.start, i.name))
    return result


def planned_intervals(
    shifts: Sequence[Shift],
    timezone: str,
    start: float,
    end: float,
    planned_downtime: Iterable[Interval] = (),
) -> list[Interval]:
    """Planned busy time in ``[start, end)``: shift time minus planned downtime, in UTC.

    Planned downtime (breaks, meals, planned maintenance, no orders) comes in as UTC
    intervals; time outside every shift is not planned at all.
    """
    shift_time = [i.interval for i in shift_instances(shifts, timezone, start, end)]
    clipped = intersect(shift_time, [(start, end)])
    return subtract(clipped, planned_downtime)


def shift_at(shifts: Sequence[Shift], timezone: str, moment: float) -> ShiftInstance | None:
    """The shift occurrence ``moment`` belongs to (the earliest-starting if shifts overlap)."""
    for instance in shift_instances(shifts, timezone, moment, moment + 1e-6):
        if instance.start <= moment < instance.end:
            return instance
    return None


# -- local calendar buckets (a DST day has 23 or 25 hours; a local hour is always 3600 s) --


@attrs.frozen
class TimeBucket:
    label: str  # site-local: "2024-03-31T02:00+01:00", "2024-03-31", "2024-03"
    start: float
    end: float


def _hour_buckets(tz: ZoneInfo, start: float, end: float) -> list[TimeBucket]:
    local = datetime.fromtimestamp(start, tz).replace(minute=0, second=0, microsecond=0)
    cursor = local.timestamp()
    result: list[TimeBucket] = []
    while cursor < end:
        here = datetime.fromtimestamp(cursor, tz)
        following = datetime.fromtimestamp(cursor + 3600, tz)
        stop = following.replace(minute=0, second=0, microsecond=0).timestamp()
        if stop <= cursor:  # an offset change that is not a whole hour
            stop = cursor + 3600
        result.append(TimeBucket(here.isoformat(timespec="minutes"), cursor, stop))
        cursor = stop
    return result


def local_buckets(timezone: str, start: float, end: float, unit: BucketUnit) -> list[TimeBucket]:
    """Site-local hours, days or months covering ``[start, end)`` (not clipped)."""
    tz = zone(timezone)
    if unit == "hour":
        return _hour_buckets(tz, start, end)
    day = local_date(start, tz)
    if unit == "month":
        day = day.replace(day=1)
    result: list[TimeBucket] = []
    midnight = time(0, 0)
    while True:
        if unit == "day":
            following = day + timedelta(days=1)
            label = day.isoformat()
        else:
            following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
            label = day.strftime("%Y-%m")
        s = local_instant(day, midnight, tz)
        if s >= end:
            break
        result.append(TimeBucket(label, s, local_instant(following, midnight, tz)))
        day = following
    return result
