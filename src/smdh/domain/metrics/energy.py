"""Energy: power, kWh from counters or from power, time-of-use cost, emissions, buckets.

Pure functions. Times are UTC epoch seconds; intervals are half-open. An
``EnergyInterval`` is energy measured over ``[start, end)``; splitting it over buckets or
tariff periods assumes constant power inside it (the best a pair of readings can say).

- Power: single phase ``P = V x I x PF``; balanced three phase with line-to-line voltage
  ``P = sqrt(3) x V_LL x I x PF`` (IEC 60050 / any power-systems text).
- Counter: consecutive ``kwh_cumulative`` readings give ``delta``. A decrease is a new meter
  cycle (reset, replacement, or a rollover at ``rollover_kwh`` when given); a delta whose
  mean power exceeds ``max_plausible_kw`` is rejected with its reason and not counted.
- Integration: trapezoid rule over power samples; a gap longer than ``max_gap_s`` is not
  integrated (reported as a gap, never bridged).
- Cost: a ``Tariff`` prices each kWh by the site-local time of day, weekday/weekend and
  month; intervals are split at every period boundary, in the site's timezone (DST-correct).
- Emissions: kWh x a per-site factor (kg CO2e/kWh).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from typing import Literal

import attrs

from smdh.domain.metrics.calendar import (
    BucketUnit,
    Interval,
    TimeBucket,
    local_buckets,
    local_date,
    local_instant,
    zone,
)

_SQRT3 = math.sqrt(3.0)
_J_PER_KWH = 3.6e6


def power_w(voltage: float, current: float, power_factor: float, phases: int = 1) -> float:
    """Active power in W; three-phase takes the line-to-line voltage of a balanced load."""
    if phases not in (1, 3):
        raise ValueError(f"phases must be 1 or 3, got {phases}")
    scale = _SQRT3 if phases == 3 else 1.0
    return scale * voltage * current * power_factor


@attrs.frozen
class EnergyInterval:
    start: float
    end: float
    kwh: float


@attrs.frozen
class RejectedReading:
    timestamp: float
    value: float
    reason: str


@attrs.frozen
class CounterEnergy:
    intervals: list[EnergyInterval]
    rejected: list[RejectedReading]
    resets: int  # decreases read as a new meter cycle (or a rollover)

    @property
    def kwh(self) -> float:
        return sum(i.kwh for i in self.intervals)


def _plausible(since: tuple[float, float], t: float, value: float, max_plausible_kw: float) -> bool:
    delta = value - since[1]
    return t > since[0] and delta >= 0 and delta / ((t - since[0]) / 3600) <= max_plausible_kw


def energy_from_counter(
    samples: Sequence[tuple[float, float]],
    max_plausible_kw: float,
    rollover_kwh: float | None = None,
) -> CounterEnergy:
    """Energy per reading interval from a cumulative kWh counter (samples sorted by time).

    A rejected jump keeps the previous reading as the baseline; if the next reading then
    continues plausibly from the rejected one (the meter really was re-based), the
    rejected reading becomes the baseline from there on, its jump still uncounted.
    """
    intervals: list[EnergyInterval] = []
    rejected: list[RejectedReading] = []
    resets = 0
    if not samples:
        return CounterEnergy(intervals, rejected, resets)
    base_t, base = samples[0]
    suspect: tuple[float, float] | None = None
    for t, value in samples[1:]:
        if t <= base_t:
            rejected.append(RejectedReading(t, value, "timestamp not after the previous"))
            continue
        hours = (t - base_t) / 3600
        is_reset = value < base
        delta = value - base
        if is_reset:  # a rollover when one is configured and plausible, else a new cycle
            wrapped = None if rollover_kwh is None else rollover_kwh - base + value
            plausible = wrapped is not None and 0 <= wrapped / hours <= max_plausible_kw
            delta = wrapped if plausible and wrapped is not None else value
        if delta / hours <= max_plausible_kw:
            resets += is_reset
            intervals.append(EnergyInterval(base_t, t, delta))
            base_t, base, suspect = t, value, None
            continue
        if suspect is not None and _plausible(suspect, t, value, max_plausible_kw):
            intervals.append(EnergyInterval(suspect[0], t, value - suspect[1]))
            base_t, base, suspect = t, value, None
            continue
        reason = (
            f"counter reset to {value} kWh implies {delta / hours:.1f} kW"
            if is_reset
            else f"jump of {delta:.3f} kWh in {hours * 3600:.0f} s implies {delta / hours:.1f} kW"
        )
        rejected.append(RejectedReading(t, value, f"{reason} > {max_plausible_kw} kW"))
        if is_reset:  # the meter restarted: its new reading is the baseline, the jump lost
            resets += 1
            base_t, base, suspect = t, value, None
        else:
            suspect = (t, value)
    return CounterEnergy(intervals, rejected, resets)


@attrs.frozen
class IntegratedEnergy:
    intervals: list[EnergyInterval]
    gaps: list[Interval]

    @property
    def kwh(self) -> float:
        return sum(i.kwh for i in self.intervals)


def energy_by_integration(
    power_samples: Sequence[tuple[float, float]], max_gap_s: float
) -> IntegratedEnergy:
    """Trapezoid integration of power (W) samples sorted by time; gaps are not bridged."""
    intervals: list[EnergyInterval] = []
    gaps: list[Interval] = []
    for (t0, p0), (t1, p1) in itertools.pairwise(power_samples):
        dt = t1 - t0
        if dt <= 0:
            continue
        if dt > max_gap_s:
            gaps.append((t0, t1))
            continue
        intervals.append(EnergyInterval(t0, t1, (p0 + p1) / 2 * dt / _J_PER_KWH))
    return IntegratedEnergy(intervals, gaps)


def split_energy(intervals: Sequence[EnergyInterval], buckets: Sequence[Interval]) -> list[float]:
    """kWh per bucket (sorted, non-overlapping), pro rata of time overlap; linear sweep."""
    totals = [0.0] * len(buckets)
    order = sorted(range(len(buckets)), key=lambda i: buckets[i][0])
    ordered = sorted(intervals, key=lambda i: i.start)
    k = 0
    for item in ordered:
        length = item.end - item.start
        if length <= 0:
            continue
        while k < len(order) and buckets[order[k]][1] <= item.start:
            k += 1
        j = k
        while j < len(order) and buckets[order[j]][0] < item.end:
            start, end = buckets[order[j]]
            overlap = min(end, item.end) - max(start, item.start)
            if overlap > 0:
                totals[order[j]] += item.kwh * overlap / length
            j += 1
    return totals


def energy_buckets(
    intervals: Sequence[EnergyInterval], timezone: str, unit: BucketUnit
) -> list[tuple[TimeBucket, float]]:
    """kWh per site-local hour, day or month over the span of ``intervals``."""
    if not intervals:
        return []
    start = min(i.start for i in intervals)
    end = max(i.end for i in intervals)
    buckets = local_buckets(timezone, start, end, unit)
    kwh = split_energy(intervals, [(b.start, b.end) for b in buckets])
    return list(zip(buckets, kwh, strict=True))


def emissions_kg(kwh: float, factor_kg_per_kwh: float) -> float:
    """kg CO2e for ``kwh`` with the site's grid factor (location- or market-based)."""
    return kwh * factor_kg_per_kwh


# -- time-of-use tariffs --

DayKind = Literal["all", "weekday", "weekend"]


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@attrs.frozen
class TariffPeriod:
    """Prices local times ``start <= t < end`` (``end <= start`` wraps past midnight;
    "00:00"-"00:00" is the whole day) on ``days`` in ``months`` (empty: all months)."""

    name: str
    price_per_kwh: float
    start: str = "00:00"
    end: str = "00:00"
    days: DayKind = "all"
    months: tuple[int, ...] = ()

    def matches(self, local: datetime) -> bool:
        if self.months and local.month not in self.months:
            return False
        weekend = local.weekday() >= 5
        if (self.days == "weekday" and weekend) or (self.days == "weekend" and not weekend):
            return False
        begin, finish, now = _hhmm(self.start), _hhmm(self.end), local.time()
        if begin < finish:
            return begin <= now < finish
        return now >= begin or now < finish  # wraps midnight (or the whole day)


@attrs.frozen
class Tariff:
    """Periods are tried in order; the first that matches prices the kWh."""

    name: str
    currency: str
    periods: tuple[TariffPeriod, ...]
    base_price_per_kwh: float | None = None  # when no period matches; None: left uncosted

    def period_at(self, local: datetime) -> TariffPeriod | None:
        for period in self.periods:
            if period.matches(local):
                return period
        return None


@attrs.frozen
class CostResult:
    currency: str
    cost: float
    kwh: float
    uncosted_kwh: float
    by_period: dict[str, tuple[float, float]]  # period name -> (kWh, cost)


def _price_segments(
    tariff: Tariff, timezone: str, start: float, end: float
) -> list[tuple[float, float, TariffPeriod | None]]:
    """[start, end) cut at every local boundary any period has (and local midnight)."""
    tz = zone(timezone)
    times = sorted(
        {_hhmm(p.start) for p in tariff.periods}
        | {_hhmm(p.end) for p in tariff.periods}
        | {time(0, 0)}
    )
    cuts = {start, end}
    day = local_date(start, tz) - timedelta(days=1)
    last = local_date(end, tz) + timedelta(days=1)
    while day <= last:
        for at in times:
            instant = local_instant(day, at, tz)
            if start < instant < end:
                cuts.add(instant)
        day += timedelta(days=1)
    ordered = sorted(cuts)
    segments: list[tuple[float, float, TariffPeriod | None]] = []
    for a, b in itertools.pairwise(ordered):
        local = datetime.fromtimestamp((a + b) / 2, tz)
        segments.append((a, b, tariff.period_at(local)))
    return segments


def cost(intervals: Iterable[EnergyInterval], tariff: Tariff, timezone: str) -> CostResult:
    """Cost of the energy, each interval split pro rata at tariff period boundaries."""
    items = sorted((i for i in intervals if i.end > i.start), key=lambda i: i.start)
    by_period: dict[str, tuple[float, float]] = {}
    if not items:
        return CostResult(tariff.currency, 0.0, 0.0, 0.0, by_period)
    segments = _price_segments(tariff, timezone, items[0].start, max(i.end for i in items))
    total_cost = total_kwh = uncosted = 0.0
    k = 0
    for item in items:
        length = item.end - item.start
        total_kwh += item.kwh
        while k < len(segments) and segments[k][1] <= item.start:
            k += 1
        j = k
        while j < len(segments) and segments[j][0] < item.end:
            a, b, period = segments[j]
            kwh = item.kwh * (min(b, item.end) - max(a, item.start)) / length
            price = tariff.base_price_per_kwh if period is None else period.price_per_kwh
            if price is None:
                uncosted += kwh
            else:
                name = "base" if period is None else period.name
                seen_kwh, seen_cost = by_period.get(name, (0.0, 0.0))
                by_period[name] = (seen_kwh + kwh, seen_cost + kwh * price)
                total_cost += kwh * price
            j += 1
    return CostResult(tariff.currency, total_cost, total_kwh, uncosted, by_period)
