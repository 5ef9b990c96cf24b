"""EPA NowCast and daily AQI (2024 breakpoints), and the indoor CO2/TVOC index."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from smdh.domain.metrics.air_quality import (
    HourlyAverage,
    HourlySeries,
    co2_band,
    daily_aqi,
    hourly_averages,
    indoor_index,
    nowcast,
    nowcast_aqi,
    nowcast_at,
    nowcast_in,
    tvoc_level,
    tvoc_ppb_to_ugm3,
)

# EPA/AirNow "Computing the NowCast" example, oldest hour first; w* = 10/90 -> w = 0.5
EPA_EXAMPLE_OLDEST_FIRST = [50, 80, 75, 90, 82, 53, 64, 74, 21, 10, 16, 13]


def test_epa_published_nowcast_example() -> None:
    newest_first: list[float | None] = [float(c) for c in reversed(EPA_EXAMPLE_OLDEST_FIRST)]
    assert nowcast(newest_first) == pytest.approx(17.4, abs=0.05)
    value = nowcast_aqi(newest_first, "pm25")
    assert value is not None
    # 17.4 (truncated) on the 2024 table: (100-51)/(35.4-9.1) x (17.4-9.1) + 51 = 66.5 -> 66
    assert (value.aqi, value.category) == (66, "Moderate")


def test_stable_air_gives_the_plain_twelve_hour_average() -> None:
    hourly: list[float | None] = [10.0, 11.0, 12.0, 10.0, 11.0, 12.0] * 2  # w = 10/12
    assert nowcast([12.0] * 12) == pytest.approx(12.0)
    w = 10 / 12
    expected = sum(w**i * c for i, c in enumerate([10.0, 11.0, 12.0] * 4)) / sum(
        w**i for i in range(12)
    )
    assert nowcast(hourly) == pytest.approx(expected)


def test_a_single_pulse_is_weighted_with_the_minimum_weight() -> None:
    # one hour at 71 ug/m3 after eleven clean hours: w* = 0 -> 0.5; 71 / sum(0.5^i) = 35.5
    hourly: list[float | None] = [71.0, *([0.0] * 11)]
    value = nowcast_aqi(hourly, "pm25")
    assert value is not None
    assert value.concentration == pytest.approx(71 / sum(0.5**i for i in range(12)))
    assert value.aqi == 101


def test_validity_needs_two_of_the_three_most_recent_hours() -> None:
    assert nowcast([None, None, 10.0, 10.0]) is None
    assert nowcast([10.0, None, None, 10.0]) is None
    assert nowcast([None, 10.0, 12.0]) is not None
    # a missing hour drops out of both sums, keeping its place in the weights
    w = 0.5
    expected = (20 + w**2 * 10) / (1 + w**2)
    assert nowcast([20.0, None, 10.0]) == pytest.approx(expected)


def test_nowcast_pm10_truncates_to_whole_ugm3() -> None:
    value = nowcast_aqi([154.9] * 12, "pm10")
    assert value is not None and value.aqi == 100  # 154 after truncation


def test_hourly_averages_and_nowcast_at_an_hour() -> None:
    base = 1_700_000_000 // 3600 * 3600
    samples = [(base + 60.0 * k, 10.0 if k < 60 else 30.0) for k in range(120)]
    samples.append((base + 7200.0, 99.0))  # a lone sample: dropped by min_samples
    hourly = hourly_averages(samples, min_samples=45)
    assert [(h.hour_start, h.mean, h.count) for h in hourly] == [
        (float(base), 10.0, 60),
        (float(base + 3600), 30.0, 60),
    ]
    value = nowcast_at(hourly, base + 3600, "pm25")
    assert value is not None and value.concentration == pytest.approx((30 + 0.5 * 10) / 1.5)
    assert nowcast_at(hourly, base + 3 * 3600, "pm25") is None


def test_daily_aqi_over_the_local_day_with_completeness() -> None:
    tz = ZoneInfo("America/Chicago")
    midnight = datetime(2024, 6, 3, tzinfo=tz).timestamp()
    full = [HourlyAverage(midnight + 3600 * k, 9.0, 60) for k in range(24)]
    partial = [HourlyAverage(midnight + 86400 + 3600 * k, 40.0, 60) for k in range(17)]
    days = daily_aqi(full + partial, "America/Chicago", "pm25")
    assert [(d.day, d.hours) for d in days] == [(date(2024, 6, 3), 24), (date(2024, 6, 4), 17)]
    assert days[0].value is not None and days[0].value.aqi == 50
    assert days[0].value.category == "Good"
    assert days[1].value is None  # 17 of 24 hours is under 75 %


def test_a_series_of_columns_gives_the_same_nowcast_and_daily_aqi() -> None:
    """``HourlySeries`` (how analytics reads a month of rollups) agrees with the lists."""
    midnight = datetime(2024, 3, 9, tzinfo=ZoneInfo("America/Chicago")).timestamp()
    hours = [
        HourlyAverage(midnight + 3600 * k, 5.0 + (k * 7919 % 23), 60)
        for k in range(72)
        if k % 13 != 5  # a few gaps, and the DST change of 2024-03-10 inside
    ]
    series = HourlySeries(
        [h.hour_start for h in hours], [h.mean for h in hours], [h.count for h in hours]
    )
    assert daily_aqi(series, "America/Chicago", "pm25") == daily_aqi(
        hours, "America/Chicago", "pm25"
    )
    for k in range(-2, 75):
        at = midnight + 3600 * k
        assert nowcast_in(series, at, "pm10") == nowcast_at(hours, at, "pm10")
    assert series.span(midnight + 3600, midnight + 4 * 3600) == (1, 4)


@pytest.mark.parametrize(
    ("ppm", "level", "name"),
    [
        (420, 1, "good"),
        (1000, 1, "good"),
        (1001, 2, "moderate"),
        (2000, 2, "moderate"),
        (2001, 3, "poor"),
        (5000, 3, "poor"),
        (5001, 4, "hazardous"),
    ],
)
def test_co2_bands(ppm: float, level: int, name: str) -> None:
    band = co2_band(ppm)
    assert (band.level, band.name) == (level, name)


@pytest.mark.parametrize(
    ("ugm3", "level"),
    [
        (0, 1),
        (300, 1),
        (301, 2),
        (1000, 2),
        (1001, 3),
        (3000, 3),
        (3001, 4),
        (10000, 4),
        (10001, 5),
        (30000, 5),
    ],
)
def test_uba_tvoc_levels(ugm3: float, level: int) -> None:
    assert tvoc_level(ugm3).level == level


def test_tvoc_ppb_conversion_states_its_molar_mass() -> None:
    assert tvoc_ppb_to_ugm3(100) == pytest.approx(100 * 110 / 24.45)  # ~ 4.5 ug/m3 per ppb
    assert tvoc_ppb_to_ugm3(100, molar_mass_g_mol=46.07) == pytest.approx(188.4, abs=0.1)


def test_indoor_index_is_the_worse_component() -> None:
    assert indoor_index() is None
    good = indoor_index(co2_ppm=800, tvoc_ugm3=500)
    assert good is not None and (good.level, good.name) == (1, "good")
    poor = indoor_index(co2_ppm=800, tvoc_ugm3=5000)
    assert poor is not None and (poor.level, poor.name) == (3, "poor")
    assert poor.tvoc is not None and poor.tvoc.level == 4
    with pytest.raises(ValueError, match="non-negative"):
        co2_band(-1)
