"""Overall Equipment Effectiveness (ISO 22400-2) from machine telemetry, as pure functions.

Inputs are the machine's ~1 Hz state samples ``(timestamp, state)`` (state "running",
"idle" or "offline"), its cumulative ``cycle_count`` and ``scrap_count`` samples
``(timestamp, value)``, the ideal cycle time from the device's metadata, and the planned
busy time as UTC intervals (``calendar.planned_intervals``). All series are sorted by time.

Time attribution (sample-and-hold): a state sample holds from its timestamp until the next
sample, but for at most ``max_sample_gap_s``; time not covered by any sample is *unknown*.
Only planned time counts. Unknown time is reported (``unknown_s``, ``coverage``) and is left
out of the ratios: it is never counted as running or as down.

- run time = running time + microstops (stops shorter than ``microstop_threshold_s``,
  which OEE books as a speed loss, not as downtime); downtime = idle + offline otherwise.
- Availability ``A = run / known planned`` (known planned = planned - unknown).
- Performance ``P = ideal cycle time x produced / run``; may exceed 1 when the ideal
  cycle time is wrong: it is reported as computed, never clamped.
- Quality ``Q = good / produced``, ``good = produced - scrap``.
- ``OEE = A x P x Q = ideal cycle time x good / known planned``.
- Utilisation = planned / calendar time; ``TEEP = OEE x utilisation``.
- Losses in minutes: downtime, speed (incl. microstops; negative when P > 1), quality;
  downtime + speed + quality + fully productive time = known planned time.

Counts are the sum of counter increments; a decrease is a counter reset (a new cycle that
counted from 0, so the increment is the new value). An increment is attributed to the time
of the later sample; increments whose samples are more than ``max_counter_gap_s`` apart
cannot be placed in time and are reported as ``unattributed_*`` instead of being counted.

Results are additive: ``combine`` sums seconds and counts and recomputes the ratios (a
site's OEE is never an average of machine ratios). Ratios are ``None`` when undefined.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

import attrs

from smdh.domain.metrics.calendar import Interval, intersect

StateSample = tuple[float, str]
CounterSample = tuple[float, int]

_STATE_CODES = {"running": 0, "idle": 1, "offline": 2}


@attrs.frozen
class OeeResult:
    calendar_s: float
    planned_s: float
    run_s: float  # running + microstops, inside planned time
    idle_s: float  # idle inside planned time that is downtime (microstops excluded)
    offline_s: float
    unknown_s: float
    microstop_s: float
    microstops_count: int
    produced: int
    scrap: int
    ideal_produced_s: float | None  # ideal cycle time x produced (None: no ideal time)
    ideal_good_s: float | None  # ideal cycle time x good
    unattributed_produced: int = 0
    unattributed_scrap: int = 0

    @property
    def good(self) -> int:
        return self.produced - self.scrap

    @property
    def known_s(self) -> float:
        return self.planned_s - self.unknown_s

    @property
    def coverage(self) -> float | None:
        return self.known_s / self.planned_s if self.planned_s > 0 else None

    @property
    def availability(self) -> float | None:
        return self.run_s / self.known_s if self.planned_s > 0 and self.known_s > 0 else None

    @property
    def performance(self) -> float | None:
        if self.ideal_produced_s is None or self.run_s <= 0 or self.planned_s <= 0:
            return None
        return self.ideal_produced_s / self.run_s

    @property
    def quality(self) -> float | None:
        return self.good / self.produced if self.produced > 0 and self.planned_s > 0 else None

    @property
    def oee(self) -> float | None:
        if self.ideal_good_s is None or self.planned_s <= 0 or self.known_s <= 0:
            return None
        return self.ideal_good_s / self.known_s

    @property
    def utilisation(self) -> float | None:
        return self.planned_s / self.calendar_s if self.calendar_s > 0 else None

    @property
    def teep(self) -> float | None:
        oee, utilisation = self.oee, self.utilisation
        return None if oee is None or utilisation is None else oee * utilisation

    @property
    def downtime_min(self) -> float:
        return (self.idle_s + self.offline_s) / 60

    @property
    def speed_min(self) -> float | None:
        if self.ideal_produced_s is None:
            return None
        return (self.run_s - self.ideal_produced_s) / 60

    @property
    def quality_min(self) -> float | None:
        if self.ideal_produced_s is None or self.ideal_good_s is None:
            return None
        return (self.ideal_produced_s - self.ideal_good_s) / 60

    @property
    def microstop_min(self) -> float:
        return self.microstop_s / 60


def _sum_optional(values: Iterable[float | None]) -> float | None:
    total = 0.0
    for value in values:
        if value is None:
            return None
        total += value
    return total


def combine(results: Iterable[OeeResult]) -> OeeResult:
    """Machines into a site, hours into a day: sums of seconds and counts, not of ratios."""
    items = list(results)
    return OeeResult(
        calendar_s=sum(r.calendar_s for r in items),
        planned_s=sum(r.planned_s for r in items),
        run_s=sum(r.run_s for r in items),
        idle_s=sum(r.idle_s for r in items),
        offline_s=sum(r.offline_s for r in items),
        unknown_s=sum(r.unknown_s for r in items),
        microstop_s=sum(r.microstop_s for r in items),
        microstops_count=sum(r.microstops_count for r in items),
        produced=sum(r.produced for r in items),
        scrap=sum(r.scrap for r in items),
        ideal_produced_s=_sum_optional(r.ideal_produced_s for r in items),
        ideal_good_s=_sum_optional(r.ideal_good_s for r in items),
        unattributed_produced=sum(r.unattributed_produced for r in items),
        unattributed_scrap=sum(r.unattributed_scrap for r in items),
    )


Cell = tuple[float, float, int]  # a piece of planned time inside bucket ``index``


def _cells(planned: Sequence[Interval], buckets: Sequence[Interval]) -> list[Cell]:
    ordered = sorted(buckets)
    for (_, end), (start, _) in itertools.pairwise(ordered):
        if start < end:
            raise ValueError("OEE buckets must not overlap")
    cells: list[Cell] = []
    for index, bucket in enumerate(buckets):
        cells.extend((s, e, index) for s, e in intersect(planned, [bucket]))
    cells.sort()
    return cells


@attrs.define
class _StateTotals:
    run: list[float]
    idle: list[float]
    offline: list[float]
    micro: list[float]
    micro_count: list[int]


def _book_microstop(
    pending: list[tuple[int, int, float]],
    pending_s: float,
    threshold: float,
    by_code: tuple[list[float], ...],
    totals: _StateTotals,
) -> None:
    """A stop shorter than the threshold moves from downtime to microstops (speed loss)."""
    if pending and pending_s < threshold:
        for index, code, seconds in pending:
            by_code[code][index] -= seconds
            totals.micro[index] += seconds
        totals.micro_count[pending[0][0]] += 1


def _sweep_states(  # noqa: PLR0912 - one hot loop, kept flat on purpose
    states: Sequence[StateSample], cells: list[Cell], buckets: int, max_gap: float, threshold: float
) -> _StateTotals:
    """One pass over the samples and the planned cells, both in time order."""
    zeros = [0.0] * buckets
    totals = _StateTotals(zeros[:], zeros[:], zeros[:], zeros[:], [0] * buckets)
    by_code = (totals.run, totals.idle, totals.offline)
    pending: list[tuple[int, int, float]] = []  # pieces of a stop that may be a microstop
    pending_s = 0.0
    in_stop = long_stop = False
    held_until = -math.inf
    n_cells = len(cells)
    k = 0
    count = len(states)

    for i in range(count):
        t, state = states[i]
        end = t + max_gap
        if i + 1 < count and states[i + 1][0] < end:
            end = states[i + 1][0]
        code = _STATE_CODES.get(state, -1)
        stopped = code in (1, 2)
        if in_stop and (not stopped or t > held_until):
            if not long_stop:
                _book_microstop(pending, pending_s, threshold, by_code, totals)
            pending.clear()
            pending_s = 0.0
            in_stop = long_stop = False
        held_until = end
        if code < 0 or end <= t:
            continue
        if stopped and not in_stop:
            in_stop = True
            long_stop = threshold <= 0
        while k < n_cells and cells[k][1] <= t:
            k += 1
        j = k
        while j < n_cells:
            cell_start, cell_end, index = cells[j]
            if cell_start >= end:
                break
            seconds = (end if end < cell_end else cell_end) - (t if t > cell_start else cell_start)
            if seconds > 0:
                by_code[code][index] += seconds
                if stopped and not long_stop:
                    pending.append((index, code, seconds))
                    pending_s += seconds
                    if pending_s >= threshold:
                        long_stop = True
                        pending.clear()
            if cell_end > end:
                break
            j += 1
    if in_stop and not long_stop:
        _book_microstop(pending, pending_s, threshold, by_code, totals)
    return totals


def _sweep_counter(
    samples: Sequence[CounterSample], cells: list[Cell], buckets: int, max_gap: float
) -> tuple[list[int], list[int]]:
    """Increments per bucket (reset-robust), and those that cannot be placed in time."""
    counted = [0] * buckets
    unplaced = [0] * buckets
    if not samples:
        return counted, unplaced
    n_cells = len(cells)
    k = 0
    previous_t, previous = samples[0]
    for t, value in samples[1:]:
        delta = value - previous if value >= previous else value  # a decrease is a reset
        gap = t - previous_t
        previous_t, previous = t, value
        if delta <= 0:
            continue
        while k < n_cells and cells[k][1] < t:
            k += 1
        if k < n_cells and cells[k][0] < t <= cells[k][1]:
            (counted if gap <= max_gap else unplaced)[cells[k][2]] += delta
    return counted, unplaced


def oee_by_buckets(
    states: Sequence[StateSample],
    cycle_counts: Sequence[CounterSample],
    scrap_counts: Sequence[CounterSample],
    *,
    ideal_cycle_time_s: float | None,
    planned: Sequence[Interval],
    buckets: Sequence[Interval],
    max_sample_gap_s: float = 5.0,
    microstop_threshold_s: float = 0.0,
    max_counter_gap_s: float | None = None,
) -> list[OeeResult]:
    """One ``OeeResult`` per bucket (hours, shift instances, days: non-overlapping UTC).

    Counter series should start with a sample before the first bucket (the baseline).
    """
    if ideal_cycle_time_s is not None and ideal_cycle_time_s < 0:
        raise ValueError("the ideal cycle time cannot be negative")
    cells = _cells(planned, buckets)
    n = len(buckets)
    totals = _sweep_states(states, cells, n, max_sample_gap_s, microstop_threshold_s)
    counter_gap = max_sample_gap_s if max_counter_gap_s is None else max_counter_gap_s
    produced, produced_lost = _sweep_counter(cycle_counts, cells, n, counter_gap)
    scrap, scrap_lost = _sweep_counter(scrap_counts, cells, n, counter_gap)
    planned_s = [0.0] * n
    for start, end, index in cells:
        planned_s[index] += end - start
    results: list[OeeResult] = []
    for i, (start, end) in enumerate(buckets):
        run = totals.run[i] + totals.micro[i]
        known = run + totals.idle[i] + totals.offline[i]
        good = produced[i] - scrap[i]
        results.append(
            OeeResult(
                calendar_s=end - start,
                planned_s=planned_s[i],
                run_s=run,
                idle_s=totals.idle[i],
                offline_s=totals.offline[i],
                unknown_s=max(planned_s[i] - known, 0.0),
                microstop_s=totals.micro[i],
                microstops_count=totals.micro_count[i],
                produced=produced[i],
                scrap=scrap[i],
                ideal_produced_s=None
                if ideal_cycle_time_s is None
                else ideal_cycle_time_s * produced[i],
                ideal_good_s=None if ideal_cycle_time_s is None else ideal_cycle_time_s * good,
                unattributed_produced=produced_lost[i],
                unattributed_scrap=scrap_lost[i],
            )
        )
    return results


def compute_oee(
    states: Sequence[StateSample],
    cycle_counts: Sequence[CounterSample],
    scrap_counts: Sequence[CounterSample],
    *,
    ideal_cycle_time_s: float | None,
    planned: Sequence[Interval],
    window: Interval,
    max_sample_gap_s: float = 5.0,
    microstop_threshold_s: float = 0.0,
    max_counter_gap_s: float | None = None,
) -> OeeResult:
    """OEE of one machine over ``window`` (UTC), counting only ``planned`` time."""
    return oee_by_buckets(
        states,
        cycle_counts,
        scrap_counts,
        ideal_cycle_time_s=ideal_cycle_time_s,
        planned=planned,
        buckets=[window],
        max_sample_gap_s=max_sample_gap_s,
        microstop_threshold_s=microstop_threshold_s,
        max_counter_gap_s=max_counter_gap_s,
    )[0]
