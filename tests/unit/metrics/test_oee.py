"""OEE (ISO 22400-2) against published worked examples, and the edge cases of real data."""

from __future__ import annotations

import pytest

from smdh.domain.metrics.calendar import Interval
from smdh.domain.metrics.oee import (
    CounterSample,
    OeeResult,
    StateSample,
    combine,
    compute_oee,
    oee_by_buckets,
)

H = 3600.0
T0 = 1_718_000_000.0  # an arbitrary UTC instant; only differences matter


def _in(t: float, intervals: list[Interval]) -> bool:
    return any(a <= t < b for a, b in intervals)


def _spread(total: int, seconds: list[float]) -> list[CounterSample]:
    """A cumulative counter sampled at 1 Hz that adds ``total`` evenly over ``seconds``."""
    per_second = dict.fromkeys(seconds, 0)
    n = len(seconds)
    for k, t in enumerate(seconds):
        per_second[t] = (k + 1) * total // n - k * total // n
    return per_second_counter(per_second, seconds[0] - 1, seconds[-1] + 1)


def per_second_counter(
    increments: dict[float, int], start: float, end: float
) -> list[CounterSample]:
    value = 0
    samples: list[CounterSample] = [(start, 0)]
    t = start
    while t < end:
        value += increments.get(t, 0)
        t += 1
        samples.append((t, value))
    return samples


def _oee_com_example() -> OeeResult:
    """oee.com "OEE Calculation" example (Vorne Industries): an 8-hour shift (480 min) with
    two 15-minute breaks and a 30-minute meal (planned stops), 47 minutes of downtime,
    ideal cycle time 1.0 s, total count 19,271, reject count 423."""
    shift = (T0, T0 + 8 * H)
    breaks = [
        (T0 + 2 * H, T0 + 2 * H + 900),
        (T0 + 4 * H, T0 + 4 * H + 1800),
        (T0 + 6 * H, T0 + 6 * H + 900),
    ]
    planned = [(T0, T0 + 2 * H), (T0 + 2.25 * H, T0 + 4 * H), (T0 + 4.5 * H, T0 + 6 * H)]
    planned.append((T0 + 6.25 * H, T0 + 8 * H))
    down = (T0 + 1 * H, T0 + 1 * H + 47 * 60)
    states: list[StateSample] = []
    run_seconds: list[float] = []
    for k in range(8 * 3600):
        t = T0 + k
        state = "idle" if down[0] <= t < down[1] or _in(t, breaks) else "running"
        states.append((t, state))
        if state == "running":
            run_seconds.append(t)
    assert len(run_seconds) == 373 * 60
    cycles = _spread(19_271, run_seconds)
    scrap = _spread(423, run_seconds)
    return compute_oee(
        states,
        cycles,
        scrap,
        ideal_cycle_time_s=1.0,
        planned=planned,
        window=shift,
        max_sample_gap_s=2.0,
    )


def test_oee_com_classic_example_to_three_decimals() -> None:
    # Published: availability 88.81 %, performance 86.11 %, quality 97.80 %, OEE 74.79 %
    r = _oee_com_example()
    assert r.planned_s == 420 * 60
    assert r.run_s == 373 * 60
    assert (r.produced, r.scrap, r.good) == (19_271, 423, 18_848)
    assert r.availability == pytest.approx(0.8881, abs=5e-4)
    assert r.performance == pytest.approx(0.8611, abs=5e-4)
    assert r.quality == pytest.approx(0.9780, abs=5e-4)
    assert r.oee == pytest.approx(0.7479, abs=5e-4)
    assert r.coverage == 1.0
    assert r.downtime_min == pytest.approx(47.0)
    assert r.speed_min == pytest.approx((22_380 - 19_271) / 60)
    assert r.quality_min == pytest.approx(423 / 60)
    assert r.utilisation == pytest.approx(420 / 480)
    assert r.teep == pytest.approx(0.7479 * 420 / 480, abs=5e-4)


def _simple(
    planned_s: float,
    run_s: float,
    produced: int,
    scrap: int,
    ideal: float | None,
    calendar_s: float | None = None,
) -> OeeResult:
    """Build a machine's day directly: running first, then idle; counts in running time."""
    window = (T0, T0 + (calendar_s or planned_s))
    states = [(T0 + k, "running" if k < run_s else "idle") for k in range(int(planned_s))]
    run_seconds = [T0 + k for k in range(int(run_s))]
    return compute_oee(
        states,
        _spread(produced, run_seconds),
        _spread(scrap, run_seconds) if scrap else [(T0, 0)],
        ideal_cycle_time_s=ideal,
        planned=[(T0, T0 + planned_s)],
        window=window,
    )


def test_second_published_example_minutes_cycle() -> None:
    # waycalculator.com OEE calculator, example 1: planned 480 min, run 420 min, ideal
    # cycle 1 min, 400 total, 380 good -> A 0.875, P 0.952, Q 0.95, OEE 0.791
    r = _simple(480 * 60, 420 * 60, 400, 20, ideal=60.0)
    assert r.availability == pytest.approx(0.875, abs=5e-4)
    assert r.performance == pytest.approx(0.952, abs=5e-4)
    assert r.quality == pytest.approx(0.95, abs=5e-4)
    # the page multiplies rounded factors (0.875 x 0.952 x 0.95 = 0.791); unrounded it is
    # 380 good minutes / 480 planned = 0.7917
    assert r.oee == pytest.approx(380 / 480)
    assert 0.875 * round(r.performance or 0, 3) * (r.quality or 0) == pytest.approx(0.791, abs=5e-4)


def test_counter_reset_counts_from_zero() -> None:
    states = [(T0 + k, "running") for k in range(100)]
    cycles = [(T0 - 1, 100), (T0 + 10, 110), (T0 + 20, 5), (T0 + 30, 15), (T0 + 40, 15)]
    r = compute_oee(
        states,
        cycles,
        [],
        ideal_cycle_time_s=1.0,
        planned=[(T0, T0 + 100)],
        window=(T0, T0 + 100),
        max_counter_gap_s=60,
    )
    assert r.produced == 10 + 5 + 10


def test_gaps_are_unknown_not_running_nor_down() -> None:
    # 1 h planned; samples for the first 20 min and the last 20 min, nothing in between
    states = [(T0 + k, "running") for k in range(1200)]
    states += [(T0 + k, "idle") for k in range(2400, 3600)]
    r = compute_oee(
        states,
        [],
        [],
        ideal_cycle_time_s=1.0,
        planned=[(T0, T0 + H)],
        window=(T0, T0 + H),
        max_sample_gap_s=5,
    )
    # the last sample before the gap holds for max_sample_gap_s: known until 1204 s
    assert r.unknown_s == pytest.approx(2400 - 1204)
    assert r.coverage == pytest.approx((3600 - 1196) / 3600)
    assert r.run_s == pytest.approx(1204)
    assert r.idle_s == pytest.approx(1200)
    assert r.availability == pytest.approx(1204 / (3600 - 1196))


def test_counts_across_a_gap_are_reported_not_attributed() -> None:
    states = [(T0 + k, "running") for k in range(600)]
    cycles = [(T0, 0), (T0 + 10, 10), (T0 + 500, 400)]
    r = compute_oee(
        states,
        cycles,
        [],
        ideal_cycle_time_s=1.0,
        planned=[(T0, T0 + 600)],
        window=(T0, T0 + 600),
        max_counter_gap_s=60,
    )
    assert (r.produced, r.unattributed_produced) == (10, 390)


def test_performance_above_one_is_reported_unclamped() -> None:
    r = _simple(3600, 3600, 3600, 0, ideal=1.5)  # the metadata says 1.5 s, it makes 1 s
    assert r.performance == pytest.approx(1.5)
    assert r.speed_min is not None and r.speed_min < 0


def test_site_aggregation_sums_seconds_not_ratios() -> None:
    a = _simple(3600, 3600, 3600, 0, ideal=1.0)  # A = 1.0
    b = _simple(1800, 900, 900, 90, ideal=1.0)  # A = 0.5, planned only half an hour
    site = combine([a, b])
    assert site.availability == pytest.approx((3600 + 900) / (3600 + 1800))
    assert site.availability != pytest.approx((1.0 + 0.5) / 2)
    assert site.quality == pytest.approx((4500 - 90) / 4500)
    assert site.oee == pytest.approx((4500 - 90) / 5400)


def test_ratios_are_none_without_planned_time() -> None:
    r = compute_oee(
        [(T0 + k, "running") for k in range(60)],
        [(T0, 0), (T0 + 60, 60)],
        [],
        ideal_cycle_time_s=1.0,
        planned=[],
        window=(T0, T0 + 60),
    )
    assert r.planned_s == 0
    assert (r.availability, r.performance, r.quality, r.oee) == (None, None, None, None)
    assert r.utilisation == 0.0


def test_no_ideal_cycle_time_gives_no_performance() -> None:
    r = _simple(600, 600, 600, 0, ideal=None)
    assert r.availability == 1.0
    assert r.performance is None and r.oee is None and r.quality == 1.0


def test_microstops_are_speed_loss_not_downtime() -> None:
    states: list[StateSample] = []
    t = T0
    for _ in range(10):  # ten cycles of 5 min running + 30 s stop, then a 10 min stop
        states += [(t + k, "running") for k in range(300)]
        states += [(t + 300 + k, "idle") for k in range(30)]
        t += 330
    states += [(t + k, "running") for k in range(30)]
    t += 30
    states += [(t + k, "offline") for k in range(600)]
    window = (T0, t + 600)
    r = compute_oee(
        states,
        [],
        [],
        ideal_cycle_time_s=1.0,
        planned=[window],
        window=window,
        microstop_threshold_s=120,
    )
    assert r.microstops_count == 10
    assert r.microstop_s == pytest.approx(300)
    assert r.run_s == pytest.approx(3330)
    assert r.idle_s == 0.0
    assert r.offline_s == pytest.approx(600)
    assert r.downtime_min == pytest.approx(10)
    no_threshold = compute_oee(
        states, [], [], ideal_cycle_time_s=1.0, planned=[window], window=window
    )
    assert no_threshold.microstops_count == 0 and no_threshold.run_s == pytest.approx(3030)


def test_hourly_buckets_add_up_to_the_whole() -> None:
    whole = _oee_com_example()
    states = [(T0 + k, "running" if k % 7 else "idle") for k in range(8 * 3600)]
    buckets = [(T0 + i * H, T0 + (i + 1) * H) for i in range(8)]
    planned = [(T0, T0 + 2 * H), (T0 + 2.5 * H, T0 + 8 * H)]
    cycles = per_second_counter({T0 + k: 1 for k in range(0, 8 * 3600, 2)}, T0 - 1, T0 + 8 * H)
    hourly = oee_by_buckets(
        states, cycles, [], ideal_cycle_time_s=1.5, planned=planned, buckets=buckets
    )
    day = compute_oee(
        states, cycles, [], ideal_cycle_time_s=1.5, planned=planned, window=(T0, T0 + 8 * H)
    )
    total = combine(hourly)
    assert total.planned_s == day.planned_s == 7.5 * H
    assert total.run_s == pytest.approx(day.run_s)
    assert total.produced == day.produced
    assert total.oee == pytest.approx(day.oee)
    assert hourly[2].planned_s == 1800
    assert whole.oee is not None


def test_overlapping_buckets_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        oee_by_buckets([], [], [], ideal_cycle_time_s=1.0, planned=[], buckets=[(0, 10), (5, 15)])
