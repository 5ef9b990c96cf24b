"""Helpers of ``smdh.application.analytics``: rollups turned into the inputs of the domain
metric functions (counter increments, energy intervals, hourly air-quality rows)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import attrs

from smdh.application.ports import RollupBucket
from smdh.application.projections import DeviceEntry, SiteEntry
from smdh.domain.metrics import air_quality as aq
from smdh.domain.metrics import calendar as cal
from smdh.domain.metrics import energy as en
from smdh.domain.shared.errors import ValidationError

MAX_GAP_S = 5.0  # the OEE sample-and-hold limit, as the rollup store's hold


@attrs.frozen
class Period:
    label: str
    start: float
    end: float


@attrs.frozen
class AirRow:
    device_id: str
    site_id: str
    period: Period
    pm25: float | None
    pm10: float | None
    aqi: aq.AqiValue | None  # NowCast (hour) or daily AQI (day), the larger of PM2.5/PM10
    indoor: aq.IndoorIndex | None
    hours: int


class Locator:
    """The index of the window holding a time that is also planned (None: neither)."""

    def __init__(self, cells: Sequence[cal.Interval], windows: Sequence[cal.Interval]) -> None:
        self._cells = list(cells)
        self._cell_starts = [a for a, _ in self._cells]
        self._windows = list(windows)
        self._starts = [a for a, _ in self._windows]

    def __call__(self, ts: float) -> int | None:
        k = bisect.bisect_right(self._cell_starts, ts) - 1
        if k < 0 or ts >= self._cells[k][1]:
            return None
        i = bisect.bisect_right(self._starts, ts) - 1
        return i if i >= 0 and ts < self._windows[i][1] else None


def check_range(start: float, end: float) -> None:
    if not (math.isfinite(start) and math.isfinite(end)) or start >= end:
        raise ValidationError("the range must have a start before its end")


def aligned_width(planned: Sequence[cal.Interval], windows: Sequence[cal.Interval]) -> int | None:
    """The widest rollup width every planned and period boundary falls on (None: none)."""
    edges = [x for a, b in [*planned, *windows] for x in (a, b)]
    for width in (3600, 60):
        if all(x % width == 0 for x in edges):
            return width
    return None


def increments(buckets: Sequence[RollupBucket], start: float) -> list[tuple[float, int]]:
    """Counter growth per rollup bucket (placed at the bucket start), including the step
    from the previous bucket's last value when the samples are at most ``MAX_GAP_S`` apart."""
    out: list[tuple[float, int]] = []
    previous: RollupBucket | None = None
    for b in buckets:
        grown = b.increase
        if previous is not None and b.first_at - previous.last_at <= MAX_GAP_S:
            grown += en_increase(previous.last, b.first)
        if b.start >= start:
            out.append((b.start, round(grown)))
        previous = b
    return out


def en_increase(before: float, after: float) -> float:
    return after - before if after >= before else after


def counter_intervals(buckets: Sequence[RollupBucket]) -> list[en.EnergyInterval]:
    """Energy intervals from counter rollups: within each bucket, and between buckets."""
    out: list[en.EnergyInterval] = []
    previous: RollupBucket | None = None
    for b in buckets:
        if previous is not None and b.first_at > previous.last_at:
            step = en_increase(previous.last, b.first)
            out.append(en.EnergyInterval(previous.last_at, b.first_at, step))
        if b.last_at > b.first_at:
            out.append(en.EnergyInterval(b.first_at, b.last_at, b.increase))
        previous = b
    return out


def clip(
    intervals: Sequence[en.EnergyInterval], start: float, end: float
) -> list[en.EnergyInterval]:
    """The part of each interval inside ``[start, end)``, energy pro rata of time."""
    out: list[en.EnergyInterval] = []
    for i in intervals:
        a, b = max(i.start, start), min(i.end, end)
        if b > a:
            out.append(en.EnergyInterval(a, b, i.kwh * (b - a) / (i.end - i.start)))
    return out


def air_rows(
    sensor: DeviceEntry,
    site: SiteEntry,
    hourly: dict[str, aq.HourlySeries],
    periods: list[Period],
    group: str,
    tz: str,
) -> list[AirRow]:
    rows: list[AirRow] = []
    pollutants: tuple[tuple[str, aq.Pollutant], ...] = (
        ("pm25_ugm3", "pm25"),
        ("pm10_ugm3", "pm10"),
    )
    daily = {m: {d.day.isoformat(): d for d in aq.daily_aqi(hourly[m], tz, p)}
             for m, p in pollutants}  # fmt: skip
    for period in periods:
        spans = {m: hs.span(period.start, period.end) for m, hs in hourly.items()}

        def mean(m: str, spans: dict[str, tuple[int, int]] = spans) -> float | None:
            lo, hi = spans[m]
            return sum(hourly[m].means[lo:hi]) / (hi - lo) if hi > lo else None

        if group == "hour":
            values = [aq.nowcast_in(hourly["pm25_ugm3"], period.start, "pm25"),
                      aq.nowcast_in(hourly["pm10_ugm3"], period.start, "pm10")]  # fmt: skip
        else:
            days = [daily[m].get(period.label) for m in ("pm25_ugm3", "pm10_ugm3")]
            values = [d.value if d is not None else None for d in days]
        present = [v for v in values if v is not None and v.aqi is not None]
        best = max(present, key=lambda v: v.aqi or 0, default=None)
        co2, voc = mean("co2_ppm"), mean("voc_ppb")
        indoor = aq.indoor_index(co2, None if voc is None else aq.tvoc_ppb_to_ugm3(voc))
        hours = (spans["pm25_ugm3"][1] - spans["pm25_ugm3"][0]) or (
            spans["co2_ppm"][1] - spans["co2_ppm"][0]
        )
        rows.append(
            AirRow(
                sensor.device_id,
                site.site_id,
                period,
                mean("pm25_ugm3"),
                mean("pm10_ugm3"),
                best,
                indoor,
                hours,
            )
        )
    return rows
