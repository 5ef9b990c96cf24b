"""Air quality over time: hourly averages, the EPA PM NowCast, the daily AQI, indoor index.

Builds on ``smdh.domain.metrics.aqi`` (2024 breakpoints, truncation, categories).

NowCast (EPA, "The NowCast method", AirNow; TAD EPA-454/B-24-002 section on real-time
reporting): from the last 12 hourly averages ``c1`` (most recent) .. ``c12``,
``w* = c_min / c_max`` over the hours present, ``w = max(w*, 0.5)`` and
``NowCast = sum(w^(i-1) c_i) / sum(w^(i-1))`` over the hours present. Valid only when at
least 2 of the 3 most recent hours are present. Hourly values enter untruncated; the
NowCast is then truncated (PM2.5 to 0.1, PM10 to 1 ug/m3) and converted to the AQI.

Daily AQI: the 24-hour average of the site-local calendar day (valid with at least 18 of
24 hourly values, 75 % completeness as in 40 CFR Part 50 Appendix N), truncated, indexed.

Indoor index (not an EPA index: the AQI has no CO2 or VOC component):
- CO2 bands (ppm): <= 1000 good, <= 2000 moderate, <= 5000 poor, > 5000 hazardous
  (UBA 2008 CO2 guide values 1000/2000 ppm; OSHA PEL 5000 ppm 8-h TWA, 29 CFR 1910.1000).
- TVOC levels (UBA 2007, Bundesgesundheitsbl 50:990-1005): level 1 <= 0.3 mg/m3,
  2 <= 1, 3 <= 3, 4 <= 10, 5 > 10 mg/m3.
- ppb to ug/m3 for TVOC needs a molar mass; by default the 110 g/mol mean molar mass of
  the Molhave reference VOC mixture at 25 degC and 1 atm (molar volume 24.45 L), i.e.
  1 ppb ~ 4.5 ug/m3. Sensors report "TVOC ppb" in their own equivalents; say which.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Literal

import attrs

from smdh.domain.metrics.aqi import (
    PM10_BREAKPOINTS,
    PM25_BREAKPOINTS,
    aqi_category,
    sub_index,
    truncate_pm10,
    truncate_pm25,
)
from smdh.domain.metrics.calendar import zone

Pollutant = Literal["pm25", "pm10"]

NOWCAST_HOURS = 12
NOWCAST_MIN_WEIGHT = 0.5
DAILY_MIN_HOURS = 18
MOLAR_VOLUME_L = 24.45  # ideal gas at 25 degC, 101.325 kPa
TVOC_DEFAULT_MOLAR_MASS = 110.0  # g/mol, Molhave mixture


@attrs.frozen
class HourlyAverage:
    hour_start: float  # epoch seconds, a whole UTC hour
    mean: float
    count: int


@attrs.frozen
class HourlySeries:
    """Hourly averages as columns, sorted by hour (how long ranges come from the rollups:
    three lists of numbers instead of an object per hour)."""

    starts: Sequence[float]
    means: Sequence[float]
    counts: Sequence[int]

    def span(self, start: float, end: float) -> tuple[int, int]:
        """Indices ``lo, hi`` of the hours starting in ``[start, end)``."""
        return bisect.bisect_left(self.starts, start), bisect.bisect_left(self.starts, end)


def hourly_averages(
    samples: Iterable[tuple[float, float]], min_samples: int = 1
) -> list[HourlyAverage]:
    """Mean per UTC hour (a local hour too, for whole-hour offsets), hours with too few
    samples dropped (e.g. ``min_samples=45`` for 75 % of one-minute samples)."""
    sums: dict[int, tuple[float, int]] = {}
    for t, value in samples:
        if not math.isfinite(value):
            continue
        hour = int(t // 3600) * 3600
        total, count = sums.get(hour, (0.0, 0))
        sums[hour] = (total + value, count + 1)
    return [
        HourlyAverage(float(hour), total / count, count)
        for hour, (total, count) in sorted(sums.items())
        if count >= min_samples
    ]


def nowcast(hourly: Sequence[float | None]) -> float | None:
    """The NowCast concentration; ``hourly[0]`` is the most recent hour, None = missing."""
    recent = list(hourly[:NOWCAST_HOURS])
    if sum(1 for value in recent[:3] if value is not None) < 2:
        return None
    present = [(i, c) for i, c in enumerate(recent) if c is not None]
    highest = max(c for _, c in present)
    lowest = min(c for _, c in present)
    weight = 1.0 if highest <= 0 else max(lowest / highest, NOWCAST_MIN_WEIGHT)
    weight = min(weight, 1.0)
    numerator = sum(weight**i * c for i, c in present)
    denominator = sum(weight**i for i, _ in present)
    return numerator / denominator


def _index(concentration: float, pollutant: Pollutant) -> int | None:
    if pollutant == "pm25":
        return sub_index(truncate_pm25(concentration), PM25_BREAKPOINTS)
    return sub_index(truncate_pm10(concentration), PM10_BREAKPOINTS)


@attrs.frozen
class AqiValue:
    concentration: float  # untruncated
    aqi: int | None
    category: str | None


def _aqi_value(concentration: float, pollutant: Pollutant) -> AqiValue:
    index = _index(concentration, pollutant)
    return AqiValue(concentration, index, None if index is None else aqi_category(index))


def nowcast_aqi(hourly: Sequence[float | None], pollutant: Pollutant) -> AqiValue | None:
    """The NowCast AQI, or None when the validity rule fails."""
    value = nowcast(hourly)
    return None if value is None else _aqi_value(value, pollutant)


def nowcast_at(
    hourly: Sequence[HourlyAverage], hour_start: float, pollutant: Pollutant
) -> AqiValue | None:
    """The NowCast AQI for the hour starting at ``hour_start``, from hourly averages."""
    by_hour = {h.hour_start: h.mean for h in hourly}
    window = [by_hour.get(hour_start - 3600 * i) for i in range(NOWCAST_HOURS)]
    return nowcast_aqi(window, pollutant)


def nowcast_in(series: HourlySeries, hour_start: float, pollutant: Pollutant) -> AqiValue | None:
    """``nowcast_at`` over a series: the NowCast AQI for the hour starting at ``hour_start``."""
    lo, hi = series.span(hour_start - 3600 * (NOWCAST_HOURS - 1), hour_start + 1)
    by_hour = dict(zip(series.starts[lo:hi], series.means[lo:hi], strict=True))
    window = [by_hour.get(hour_start - 3600 * i) for i in range(NOWCAST_HOURS)]
    return nowcast_aqi(window, pollutant)


@attrs.frozen
class DailyAqi:
    day: date  # site-local calendar day
    hours: int
    average: float
    value: AqiValue | None  # None when fewer than ``min_hours`` hours


def daily_aqi(
    hourly: Iterable[HourlyAverage] | HourlySeries,
    timezone: str,
    pollutant: Pollutant,
    min_hours: int = DAILY_MIN_HOURS,
) -> list[DailyAqi]:
    """The 24-hour-average AQI of each site-local day present in ``hourly``."""
    tz = zone(timezone)
    days: dict[date, tuple[float, int]] = {}
    pairs: Iterable[tuple[float, float]] = (
        zip(hourly.starts, hourly.means, strict=True)
        if isinstance(hourly, HourlySeries)
        else ((h.hour_start, h.mean) for h in hourly)
    )
    for hour_start, mean in pairs:
        day = datetime.fromtimestamp(hour_start, tz).date()
        total, count = days.get(day, (0.0, 0))
        days[day] = (total + mean, count + 1)
    result: list[DailyAqi] = []
    for day, (total, count) in sorted(days.items()):
        average = total / count
        value = _aqi_value(average, pollutant) if count >= min_hours else None
        result.append(DailyAqi(day, count, average, value))
    return result


# -- indoor index --


@attrs.frozen
class IndoorBand:
    level: int
    name: str


_CO2_BANDS: tuple[tuple[float, IndoorBand], ...] = (
    (1000.0, IndoorBand(1, "good")),
    (2000.0, IndoorBand(2, "moderate")),
    (5000.0, IndoorBand(3, "poor")),
)
_CO2_TOP = IndoorBand(4, "hazardous")

_TVOC_LEVELS: tuple[tuple[float, IndoorBand], ...] = (
    (300.0, IndoorBand(1, "hygienically harmless")),
    (1000.0, IndoorBand(2, "hygienically still harmless")),
    (3000.0, IndoorBand(3, "some hygienic concerns")),
    (10000.0, IndoorBand(4, "major hygienic concerns")),
)
_TVOC_TOP = IndoorBand(5, "hygienically unacceptable")

# UBA TVOC level -> the CO2-style scale (our mapping): 1-2 good, 3 moderate, 4 poor, 5 hazardous
_TVOC_TO_INDOOR = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4}
_INDOOR_NAMES = {1: "good", 2: "moderate", 3: "poor", 4: "hazardous"}


def _band(value: float, bands: tuple[tuple[float, IndoorBand], ...], top: IndoorBand) -> IndoorBand:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"a concentration must be a finite non-negative number, got {value}")
    for upper, band in bands:
        if value <= upper:
            return band
    return top


def co2_band(ppm: float) -> IndoorBand:
    return _band(ppm, _CO2_BANDS, _CO2_TOP)


def tvoc_level(ug_m3: float) -> IndoorBand:
    """UBA TVOC level 1-5 of a concentration in ug/m3."""
    return _band(ug_m3, _TVOC_LEVELS, _TVOC_TOP)


def tvoc_ppb_to_ugm3(ppb: float, molar_mass_g_mol: float = TVOC_DEFAULT_MOLAR_MASS) -> float:
    """ug/m3 = ppb x M / 24.45 (25 degC, 1 atm)."""
    return ppb * molar_mass_g_mol / MOLAR_VOLUME_L


@attrs.frozen
class IndoorIndex:
    level: int  # 1 good .. 4 hazardous: the worse of the components present
    name: str
    co2: IndoorBand | None
    tvoc: IndoorBand | None


def indoor_index(
    co2_ppm: float | None = None, tvoc_ugm3: float | None = None
) -> IndoorIndex | None:
    """The worse of the CO2 band and the UBA TVOC level (mapped), None without inputs."""
    co2 = None if co2_ppm is None else co2_band(co2_ppm)
    tvoc = None if tvoc_ugm3 is None else tvoc_level(tvoc_ugm3)
    levels = [b.level for b in (co2,) if b is not None]
    if tvoc is not None:
        levels.append(_TVOC_TO_INDOOR[tvoc.level])
    if not levels:
        return None
    level = max(levels)
    return IndoorIndex(level, _INDOOR_NAMES[level], co2, tvoc)
