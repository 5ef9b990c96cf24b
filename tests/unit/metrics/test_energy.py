"""Power, kWh from counters and from power, time-of-use cost across DST, emissions."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from smdh.domain.metrics.energy import (
    EnergyInterval,
    Tariff,
    TariffPeriod,
    cost,
    emissions_kg,
    energy_buckets,
    energy_by_integration,
    energy_from_counter,
    power_w,
    split_energy,
)

H = 3600.0
BERLIN = "Europe/Berlin"


def at(tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).timestamp()


def test_power_single_and_balanced_three_phase() -> None:
    assert power_w(230, 10, 0.9) == pytest.approx(2070)
    # 400 V line-to-line, 10 A, PF 0.9: sqrt(3) x 400 x 10 x 0.9 = 6235.4 W
    assert power_w(400, 10, 0.9, phases=3) == pytest.approx(6235.38, abs=0.01)
    assert power_w(230, 10, -0.5) == pytest.approx(-1150)
    with pytest.raises(ValueError, match="phases"):
        power_w(230, 10, 1.0, phases=2)


def test_counter_deltas_and_reset_is_a_new_cycle() -> None:
    samples = [(0.0, 100.0), (H, 110.0), (2 * H, 3.0), (3 * H, 8.0)]
    result = energy_from_counter(samples, max_plausible_kw=50)
    assert [i.kwh for i in result.intervals] == [10.0, 3.0, 5.0]
    assert result.kwh == 18.0
    assert result.resets == 1 and result.rejected == []


def test_counter_rollover_when_configured() -> None:
    samples = [(0.0, 99_990.0), (H, 5.0)]
    result = energy_from_counter(samples, max_plausible_kw=50, rollover_kwh=100_000)
    assert result.kwh == pytest.approx(15.0)


def test_impossible_jump_is_rejected_with_reason_and_not_counted() -> None:
    samples = [(0.0, 100.0), (60.0, 101.0), (120.0, 9_000.0), (180.0, 102.0)]
    result = energy_from_counter(samples, max_plausible_kw=100)
    assert result.kwh == pytest.approx(2.0)  # 100 -> 101 -> (spike rejected) -> 102
    assert len(result.rejected) == 1
    rejected = result.rejected[0]
    assert rejected.timestamp == 120.0 and "kW" in rejected.reason


def test_rebased_meter_is_followed_after_one_rejected_jump() -> None:
    samples = [(0.0, 100.0), (60.0, 5_000.0), (120.0, 5_001.0), (180.0, 5_002.0)]
    result = energy_from_counter(samples, max_plausible_kw=100)
    assert result.kwh == pytest.approx(2.0)
    assert [r.timestamp for r in result.rejected] == [60.0]


def test_integration_trapezoid_with_gaps_left_out() -> None:
    samples = [(0.0, 1000.0), (60.0, 2000.0), (120.0, 2000.0), (1000.0, 5000.0), (1060.0, 5000.0)]
    result = energy_by_integration(samples, max_gap_s=300)
    expected = (1500 * 60 + 2000 * 60 + 5000 * 60) / 3.6e6
    assert result.kwh == pytest.approx(expected)
    assert result.gaps == [(120.0, 1000.0)]


def test_split_energy_pro_rata() -> None:
    intervals = [EnergyInterval(0, 100, 10.0), EnergyInterval(100, 300, 4.0)]
    assert split_energy(intervals, [(0, 50), (50, 200), (200, 400)]) == pytest.approx(
        [5.0, 7.0, 2.0]
    )


TOU = Tariff(
    name="two-rate",
    currency="EUR",
    periods=(
        TariffPeriod("summer-peak", 0.40, "08:00", "20:00", "weekday", (6, 7, 8)),
        TariffPeriod("peak", 0.30, "08:00", "20:00", "weekday"),
        TariffPeriod("off-peak", 0.10),
    ),
)


def test_cost_splits_an_interval_at_the_period_boundary() -> None:
    start = at(BERLIN, 2024, 3, 5, 7)  # a Tuesday, 07:00-09:00, 2 kWh at constant power
    result = cost([EnergyInterval(start, start + 2 * H, 2.0)], TOU, BERLIN)
    assert result.by_period["off-peak"] == pytest.approx((1.0, 0.10))
    assert result.by_period["peak"] == pytest.approx((1.0, 0.30))
    assert result.cost == pytest.approx(0.40)
    assert result.currency == "EUR" and result.uncosted_kwh == 0


def test_weekend_and_season_rules() -> None:
    saturday = at(BERLIN, 2024, 3, 9, 10)
    assert cost([EnergyInterval(saturday, saturday + H, 1.0)], TOU, BERLIN).cost == pytest.approx(
        0.10
    )
    july_weekday = at(BERLIN, 2024, 7, 3, 10)
    july = cost([EnergyInterval(july_weekday, july_weekday + H, 1.0)], TOU, BERLIN)
    assert july.cost == pytest.approx(0.40) and set(july.by_period) == {"summer-peak"}


def test_cost_on_the_short_dst_day_uses_local_clock_time() -> None:
    night_day = Tariff(
        "night-day",
        "EUR",
        (
            TariffPeriod("night", 0.10, "22:00", "06:00"),
            TariffPeriod("day", 0.20, "06:00", "22:00"),
        ),
    )
    start, end = at(BERLIN, 2024, 3, 31), at(BERLIN, 2024, 4, 1)
    assert end - start == 23 * H
    hourly = [EnergyInterval(t, t + H, 1.0) for t in [start + k * H for k in range(23)]]
    result = cost(hourly, night_day, BERLIN)
    # 00:00-06:00 is 5 real hours that day, plus 22:00-24:00: 7 kWh at night, 16 by day
    assert result.by_period["night"] == pytest.approx((7.0, 0.7))
    assert result.by_period["day"] == pytest.approx((16.0, 3.2))
    # one interval over the whole day is split the same way
    whole = cost([EnergyInterval(start, end, 23.0)], night_day, BERLIN)
    assert whole.cost == pytest.approx(3.9)


def test_uncovered_time_without_base_price_is_reported_uncosted() -> None:
    weekdays_only = Tariff("wd", "USD", (TariffPeriod("wd", 0.2, days="weekday"),))
    sunday = at("America/Chicago", 2024, 6, 9, 12)
    result = cost([EnergyInterval(sunday, sunday + H, 3.0)], weekdays_only, "America/Chicago")
    assert result.uncosted_kwh == pytest.approx(3.0) and result.cost == 0.0


def test_daily_buckets_in_site_time_and_emissions() -> None:
    start = at(BERLIN, 2024, 10, 27)  # 25-hour day
    intervals = [EnergyInterval(start + k * H, start + (k + 1) * H, 2.0) for k in range(26)]
    days = energy_buckets(intervals, BERLIN, "day")
    assert [(b.label, kwh) for b, kwh in days] == [("2024-10-27", 50.0), ("2024-10-28", 2.0)]
    assert emissions_kg(1000, 0.38) == pytest.approx(380)
    assert math.isclose(sum(kwh for _, kwh in energy_buckets(intervals, BERLIN, "hour")), 52.0)
