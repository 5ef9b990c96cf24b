"""Job tracking from RFID/barcode scans: where each job is, dwell, routes, WIP, lead time.

A scan is ``(timestamp, job_id, location_id, scanner_id)``. Scans may arrive out of order
and more than once (at-least-once delivery, a reader seeing a tag several times): they
are sorted by time and exact duplicates dropped; consecutive scans of a job at the same
location are one *visit* (arrival = first scan, ``last_seen`` = last scan). A visit ends
when the job is scanned somewhere else; the last visit of a job is open.

- dwell of a visit = next arrival - this arrival (open visits: ``now`` - arrival);
- route = the locations of the visits in order;
- WIP at ``t`` = jobs whose visit at ``t`` is at that location (jobs at an exit location,
  e.g. shipping, are finished, not WIP);
- idle job = no scan for longer than the threshold, not finished;
- lead time = arrival at the last location - first scan, for finished jobs (or for every
  job with two visits or more when no exit locations are given), averaged per route.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection, Iterable

import attrs

Scan = tuple[float, str, str, str]  # timestamp, job_id, location_id, scanner_id


@attrs.frozen
class Visit:
    location_id: str
    arrived: float
    last_seen: float
    left: float | None  # arrival at the next location; None while the job is still here
    scans: int

    def dwell_s(self, now: float | None = None) -> float | None:
        if self.left is not None:
            return self.left - self.arrived
        return None if now is None else max(now - self.arrived, 0.0)


@attrs.frozen
class JobHistory:
    visits: dict[str, tuple[Visit, ...]]  # job_id -> visits in time order
    duplicates: int  # exact duplicate scans dropped

    def route(self, job_id: str) -> tuple[str, ...]:
        return tuple(v.location_id for v in self.visits.get(job_id, ()))

    def current_location(self, job_id: str) -> Visit | None:
        visits = self.visits.get(job_id)
        return visits[-1] if visits else None


def build_history(scans: Iterable[Scan]) -> JobHistory:
    items = list(scans)
    unique = sorted(set(items))
    duplicates = len(items) - len(unique)
    by_job: dict[str, list[tuple[float, str]]] = defaultdict(list)
    seen: set[tuple[float, str, str]] = set()
    for t, job, location, _scanner in unique:
        if (t, job, location) in seen:  # same read from two scanners
            duplicates += 1
            continue
        seen.add((t, job, location))
        by_job[job].append((t, location))
    visits: dict[str, tuple[Visit, ...]] = {}
    for job, reads in by_job.items():
        built: list[Visit] = []
        location, arrived, last_seen, count = reads[0][1], reads[0][0], reads[0][0], 1
        for t, where in reads[1:]:
            if where == location:
                last_seen, count = t, count + 1
                continue
            built.append(Visit(location, arrived, last_seen, t, count))
            location, arrived, last_seen, count = where, t, t, 1
        built.append(Visit(location, arrived, last_seen, None, count))
        visits[job] = tuple(built)
    return JobHistory(visits, duplicates)


def current_locations(history: JobHistory) -> dict[str, str]:
    return {job: visits[-1].location_id for job, visits in history.visits.items()}


@attrs.frozen
class DwellStats:
    visits: int
    total_s: float

    @property
    def mean_s(self) -> float:
        return self.total_s / self.visits if self.visits else 0.0


def dwell_by_location(
    history: JobHistory, now: float | None = None, exit_locations: Collection[str] = ()
) -> dict[str, DwellStats]:
    """Dwell per location over closed visits (and open ones up to ``now`` when given)."""
    totals: dict[str, tuple[int, float]] = {}
    for visits in history.visits.values():
        for visit in visits:
            if visit.left is None and visit.location_id in exit_locations:
                continue
            dwell = visit.dwell_s(now)
            if dwell is None:
                continue
            count, total = totals.get(visit.location_id, (0, 0.0))
            totals[visit.location_id] = (count + 1, total + dwell)
    return {loc: DwellStats(count, total) for loc, (count, total) in sorted(totals.items())}


def wip_at(
    history: JobHistory, moment: float, exit_locations: Collection[str] = ()
) -> dict[str, int]:
    """Jobs per location at ``moment`` (a job is at a location from arrival until it left)."""
    counts: dict[str, int] = defaultdict(int)
    for visits in history.visits.values():
        arrivals = [v.arrived for v in visits]
        index = bisect.bisect_right(arrivals, moment) - 1
        if index < 0:
            continue
        visit = visits[index]
        if visit.location_id not in exit_locations:
            counts[visit.location_id] += 1
    return dict(sorted(counts.items()))


@attrs.frozen
class IdleJob:
    job_id: str
    location_id: str
    last_scan: float
    idle_s: float


def idle_jobs(
    history: JobHistory, now: float, threshold_s: float, exit_locations: Collection[str] = ()
) -> list[IdleJob]:
    """Unfinished jobs not scanned for longer than ``threshold_s``, longest idle first."""
    result = [
        IdleJob(job, last.location_id, last.last_seen, now - last.last_seen)
        for job, visits in history.visits.items()
        if (last := visits[-1]).location_id not in exit_locations
        and now - last.last_seen > threshold_s
    ]
    return sorted(result, key=lambda j: (-j.idle_s, j.job_id))


@attrs.frozen
class RouteLeadTime:
    route: tuple[str, ...]
    jobs: int
    total_s: float

    @property
    def mean_s(self) -> float:
        return self.total_s / self.jobs


def lead_time_by_route(
    history: JobHistory, exit_locations: Collection[str] = ()
) -> list[RouteLeadTime]:
    """Average lead time (first scan to arrival at the last location) per route."""
    totals: dict[tuple[str, ...], tuple[int, float]] = {}
    for visits in history.visits.values():
        if exit_locations:
            if visits[-1].location_id not in exit_locations:
                continue
        elif len(visits) < 2:
            continue
        route = tuple(v.location_id for v in visits)
        count, total = totals.get(route, (0, 0.0))
        totals[route] = (count + 1, total + visits[-1].arrived - visits[0].arrived)
    return [RouteLeadTime(route, c, t) for route, (c, t) in sorted(totals.items())]
