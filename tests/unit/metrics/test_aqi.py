"""EPA AQI for PM2.5 (2024 breakpoints) and PM10: worked examples and boundaries."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smdh.domain.metrics.aqi import (
    PM10_BREAKPOINTS,
    PM25_BREAKPOINTS,
    Breakpoint,
    aqi_category,
    instant_aqi,
    pm10_sub_index,
    pm25_sub_index,
    sub_index,
    truncate_pm10,
    truncate_pm25,
)


@pytest.mark.parametrize(
    ("concentration", "aqi"),
    [
        (0.0, 0),
        (9.0, 50),  # top of Good under the 2024 table (12.0 before)
        (9.1, 51),
        (12.0, 56),  # was 50 under the pre-2024 table
        (35.4, 100),
        (35.49, 100),  # truncated to 35.4 first
        (35.5, 101),
        (35.9, 102),
        (55.4, 150),
        (55.5, 151),
        (125.4, 200),
        (125.5, 201),
        (225.4, 300),
        (225.5, 301),
        (325.4, 500),
        (600.0, 500),  # beyond the AQI: capped
    ],
)
def test_pm25_2024_breakpoints(concentration: float, aqi: int) -> None:
    assert pm25_sub_index(concentration) == aqi


@pytest.mark.parametrize(
    ("concentration", "aqi"),
    [
        (0, 0),
        (54, 50),
        (54.9, 50),  # truncated to 54
        (55, 51),
        (100, 73),
        (154, 100),
        (155, 101),
        (254, 150),
        (255, 151),
        (354, 200),
        (355, 201),
        (424, 300),
        (425, 301),
        (604, 500),
        (1500, 500),
    ],
)
def test_pm10_breakpoints(concentration: float, aqi: int) -> None:
    assert pm10_sub_index(concentration) == aqi


def test_truncation() -> None:
    assert truncate_pm25(35.49) == 35.4
    assert truncate_pm25(9.1) == 9.1
    assert truncate_pm25(0.3) == 0.3
    assert truncate_pm10(154.99) == 154.0
    assert truncate_pm10(55.0) == 55.0


def test_rounding_is_half_up_not_to_even() -> None:
    table = (Breakpoint(0, 10, 0, 50),)  # 5 index points per ug/m3: 0.5 -> exactly 2.5
    assert sub_index(0.5, table) == 3  # round() would give 2
    assert sub_index(0.3, table) == 2  # 1.5 -> 2 either way
    assert sub_index(0.1, table) == 1  # 0.5 -> 1


def test_unusable_concentrations() -> None:
    assert sub_index(-0.1, PM25_BREAKPOINTS) is None
    assert sub_index(math.nan, PM25_BREAKPOINTS) is None
    assert instant_aqi() is None
    assert instant_aqi(pm25=-1.0) is None


def test_instant_aqi_is_the_largest_sub_index() -> None:
    assert instant_aqi(pm25=35.9) == 102
    assert instant_aqi(pm10=100) == 73
    assert instant_aqi(pm25=35.9, pm10=100) == 102
    assert instant_aqi(pm25=5.0, pm10=100) == 73


@pytest.mark.parametrize(
    ("aqi", "name"),
    [
        (0, "Good"),
        (50, "Good"),
        (51, "Moderate"),
        (100, "Moderate"),
        (101, "Unhealthy for Sensitive Groups"),
        (150, "Unhealthy for Sensitive Groups"),
        (151, "Unhealthy"),
        (200, "Unhealthy"),
        (201, "Very Unhealthy"),
        (300, "Very Unhealthy"),
        (301, "Hazardous"),
        (500, "Hazardous"),
    ],
)
def test_categories(aqi: int, name: str) -> None:
    assert aqi_category(aqi) == name


def test_negative_aqi_has_no_category() -> None:
    with pytest.raises(ValueError, match="negative"):
        aqi_category(-1)


@given(
    st.floats(min_value=0, max_value=1000, allow_nan=False),
    st.floats(min_value=0, max_value=1000, allow_nan=False),
)
def test_pm25_index_is_monotonic_and_bounded(a: float, b: float) -> None:
    low, high = sorted((a, b))
    low_index, high_index = pm25_sub_index(low), pm25_sub_index(high)
    assert low_index is not None and high_index is not None
    assert 0 <= low_index <= high_index <= 500


def test_tables_are_contiguous_after_truncation() -> None:
    for table, step in ((PM25_BREAKPOINTS, 0.1), (PM10_BREAKPOINTS, 1.0)):
        for below, above in itertools.pairwise(table):
            assert above.concentration_low == pytest.approx(below.concentration_high + step)
            assert above.index_low == below.index_high + 1
