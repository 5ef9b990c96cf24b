"""The US EPA Air Quality Index for particulate matter, as pure functions.

Source: U.S. EPA, "Technical Assistance Document for the Reporting of Daily Air Quality -
the Air Quality Index (AQI)", EPA-454/B-24-002, May 2024, Table 6 "Breakpoints for the AQI",
which carries the PM2.5 breakpoints revised by the PM NAAQS final rule of 2024-02-07
(89 FR 16202, effective 2024-05-06), and 40 CFR Part 58 Appendix G.

How the index is computed (TAD section IV):

1. truncate the concentration: PM2.5 to 0.1 ug/m3, PM10 to 1 ug/m3;
2. find the breakpoints ``BP_lo <= C <= BP_hi`` and interpolate linearly,
   ``I = (I_hi - I_lo) / (BP_hi - BP_lo) * (C - BP_lo) + I_lo``;
3. round to the nearest integer (halves up);
4. the AQI of a set of pollutants is the largest sub-index.

Above the top breakpoint (PM2.5 325.4, PM10 604) EPA calls values "beyond the AQI"; this
module reports them as 500, the top of the scale, so a reading never disappears from a
chart or an alert because it is off the scale.

The EPA breakpoints are defined for 24-hour averages (PM2.5 hourly data uses the NowCast);
applied to a single sample the result is an *instantaneous* indication, not the official AQI.
"""

from __future__ import annotations

import math

import attrs

AQI_MAX = 500


@attrs.frozen
class Breakpoint:
    """One row of EPA Table 6: concentrations ``low..high`` map to index ``index_low..high``."""

    concentration_low: float
    concentration_high: float
    index_low: int
    index_high: int


# 2024 revision: "Good" ends at 9.0 (was 12.0), "Unhealthy" at 125.4 (was 150.4), "Very
# Unhealthy" at 225.4 (was 250.4), and the two Hazardous rows merge into 225.5-325.4.
PM25_BREAKPOINTS: tuple[Breakpoint, ...] = (
    Breakpoint(0.0, 9.0, 0, 50),
    Breakpoint(9.1, 35.4, 51, 100),
    Breakpoint(35.5, 55.4, 101, 150),
    Breakpoint(55.5, 125.4, 151, 200),
    Breakpoint(125.5, 225.4, 201, 300),
    Breakpoint(225.5, 325.4, 301, 500),
)

PM10_BREAKPOINTS: tuple[Breakpoint, ...] = (
    Breakpoint(0, 54, 0, 50),
    Breakpoint(55, 154, 51, 100),
    Breakpoint(155, 254, 101, 150),
    Breakpoint(255, 354, 151, 200),
    Breakpoint(355, 424, 201, 300),
    Breakpoint(425, 604, 301, 500),
)

_CATEGORIES: tuple[tuple[int, str], ...] = (
    (50, "Good"),
    (100, "Moderate"),
    (150, "Unhealthy for Sensitive Groups"),
    (200, "Unhealthy"),
    (300, "Very Unhealthy"),
)


def truncate_pm25(concentration: float) -> float:
    """Truncate (not round) to 0.1 ug/m3: 35.49 -> 35.4."""
    # round() first removes binary noise such as 0.3 * 10 == 3.0000000000000004
    return math.floor(round(concentration * 10, 6)) / 10


def truncate_pm10(concentration: float) -> float:
    """Truncate to a whole ug/m3: 154.9 -> 154."""
    return float(math.floor(round(concentration, 6)))


def sub_index(concentration: float, table: tuple[Breakpoint, ...]) -> int | None:
    """The index of one pollutant's (already truncated) concentration.

    ``None`` for a negative or non-finite concentration; 500 above the top breakpoint.
    A value that falls in the gap between two rows (possible only without truncation) is
    interpolated within the upper row.
    """
    if not math.isfinite(concentration) or concentration < 0:
        return None
    for row in table:
        if concentration <= row.concentration_high:
            slope = (row.index_high - row.index_low) / (
                row.concentration_high - row.concentration_low
            )
            index = slope * (concentration - row.concentration_low) + row.index_low
            # EPA rounds to the nearest integer with halves up; round() would go to even
            return max(math.floor(index + 0.5), 0)
    return AQI_MAX


def pm25_sub_index(concentration: float) -> int | None:
    return sub_index(truncate_pm25(concentration), PM25_BREAKPOINTS)


def pm10_sub_index(concentration: float) -> int | None:
    return sub_index(truncate_pm10(concentration), PM10_BREAKPOINTS)


def instant_aqi(*, pm25: float | None = None, pm10: float | None = None) -> int | None:
    """The largest sub-index of the pollutants given; ``None`` when neither is usable."""
    largest = None if pm25 is None else pm25_sub_index(pm25)
    if pm10 is not None:
        index = pm10_sub_index(pm10)
        if index is not None and (largest is None or index > largest):
            largest = index
    return largest


def aqi_category(aqi: int) -> str:
    """EPA's name for the category an AQI value falls in (TAD Table 1)."""
    if aqi < 0:
        raise ValueError(f"an AQI cannot be negative, got {aqi}")
    for upper, name in _CATEGORIES:
        if aqi <= upper:
            return name
    return "Hazardous"
