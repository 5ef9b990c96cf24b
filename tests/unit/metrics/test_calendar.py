"""Shift calendars in local time, across DST transitions, and the interval algebra."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from smdh.domain.metrics.calendar import (
    intersect,
    local_buckets,
    merge,
    planned_intervals,
    shift_at,
    shift_instances,
    subtract,
    total_seconds,
)
from smdh.domain.tenancy.site import Shift

H = 3600.0
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
NIGHT = Shift.create("night", EVERY_DAY, "22:00", "06:00")
DAY = Shift.create("day", (0, 1, 2, 3, 4), "06:00", "14:00")


def at(tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).timestamp()


@pytest.mark.parametrize(
    ("tz", "night_of", "hours"),
    [
        ("Europe/Berlin", date(2024, 3, 30), 7),  # clocks go 02:00 -> 03:00 on 31 March
        ("Europe/Berlin", date(2024, 10, 26), 9),  # 03:00 -> 02:00 on 27 October
        ("Europe/Berlin", date(2024, 6, 1), 8),
        ("America/Chicago", date(2024, 3, 9), 7),  # 10 March 2024, 02:00 -> 03:00
        ("America/Chicago", date(2024, 11, 2), 9),  # 3 November 2024, 02:00 -> 01:00
        ("America/Chicago", date(2024, 1, 10), 8),
    ],
)
def test_overnight_shift_on_dst_nights(tz: str, night_of: date, hours: int) -> None:
    start = at(tz, night_of.year, night_of.month, night_of.day, 12)
    instances = [
        i for i in shift_instances([NIGHT], tz, start, start + 24 * H) if i.day == night_of
    ]
    assert len(instances) == 1
    night = instances[0]
    assert night.end - night.start == hours * H
    assert night.start == at(tz, night_of.year, night_of.month, night_of.day, 22)
    assert night.label == f"{night_of.isoformat()}/night"


def test_planned_intervals_clip_to_window_and_subtract_planned_downtime() -> None:
    tz = "Europe/Berlin"
    monday = at(tz, 2024, 6, 3)  # a Monday
    lunch = (at(tz, 2024, 6, 3, 10), at(tz, 2024, 6, 3, 10, 30))
    planned = planned_intervals([DAY, NIGHT], tz, monday, monday + 24 * H, [lunch])
    # 00:00-06:00 (Sunday's night shift, clipped), 06:00-10:00, 10:30-14:00, 22:00-24:00
    assert planned == [
        (monday, at(tz, 2024, 6, 3, 10)),  # night then day shift touch at 06:00: merged
        (lunch[1], at(tz, 2024, 6, 3, 14)),
        (at(tz, 2024, 6, 3, 22), monday + 24 * H),
    ]
    assert total_seconds(planned) == (6 + 4 + 3.5 + 2) * H


def test_weekdays_filter_and_weekend_has_only_the_night_shift() -> None:
    tz = "America/Chicago"
    saturday = at(tz, 2024, 6, 8)
    names = {i.name for i in shift_instances([DAY, NIGHT], tz, saturday, saturday + 24 * H)}
    assert names == {"night"}


def test_shift_at_labels_a_moment_with_the_shift_and_its_start_day() -> None:
    tz = "Europe/Berlin"
    moment = at(tz, 2024, 3, 31, 3, 30)  # after the spring-forward gap
    instance = shift_at([DAY, NIGHT], tz, moment)
    assert instance is not None
    assert (instance.name, instance.day) == ("night", date(2024, 3, 30))
    assert shift_at([DAY], tz, moment) is None


def test_local_day_and_hour_buckets_on_dst_days() -> None:
    tz = "Europe/Berlin"
    start, end = at(tz, 2024, 3, 31), at(tz, 2024, 4, 1)
    (day,) = local_buckets(tz, start, end, "day")
    assert (day.label, day.end - day.start) == ("2024-03-31", 23 * H)
    hours = local_buckets(tz, start, end, "hour")
    assert len(hours) == 23 and all(h.end - h.start == H for h in hours)
    autumn = local_buckets(tz, at(tz, 2024, 10, 27), at(tz, 2024, 10, 28), "hour")
    assert len(autumn) == 25
    assert [h.label for h in autumn[2:4]] == ["2024-10-27T02:00+02:00", "2024-10-27T02:00+01:00"]
    months = local_buckets(
        "America/Chicago",
        at("America/Chicago", 2024, 1, 15),
        at("America/Chicago", 2024, 3, 2),
        "month",
    )
    assert [m.label for m in months] == ["2024-01", "2024-02", "2024-03"]
    assert months[1].end - months[1].start == 29 * 24 * H  # leap year, no DST in February


def test_interval_algebra() -> None:
    assert merge([(5, 6), (0, 2), (1, 3), (3, 4), (7, 7)]) == [(0, 4), (5, 6)]
    assert intersect([(0, 10)], [(2, 3), (5, 12)]) == [(2, 3), (5, 10)]
    assert subtract([(0, 10), (20, 30)], [(2, 3), (8, 22), (29, 40)]) == [
        (0, 2),
        (3, 8),
        (22, 29),
    ]
    assert subtract([(0, 10)], []) == [(0, 10)]
    assert intersect([], [(0, 1)]) == []
