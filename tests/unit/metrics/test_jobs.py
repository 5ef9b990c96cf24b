"""Job tracking from scans: visits, dwell, routes, WIP, idle jobs, lead time per route."""

from __future__ import annotations

import pytest

from smdh.domain.metrics.jobs import (
    Scan,
    build_history,
    current_locations,
    dwell_by_location,
    idle_jobs,
    lead_time_by_route,
    wip_at,
)

SCANS: list[Scan] = [
    (100.0, "J1", "cut", "s1"),
    (160.0, "J1", "cut", "s1"),  # re-read at the same location: the same visit
    (400.0, "J1", "weld", "s2"),
    (1000.0, "J1", "ship", "s3"),
    (200.0, "J2", "cut", "s1"),
    (900.0, "J2", "weld", "s2"),
    (500.0, "J3", "cut", "s1"),
    (500.0, "J3", "cut", "s9"),  # the same read by two scanners
    (400.0, "J1", "weld", "s2"),  # delivered twice
]


def test_visits_survive_out_of_order_and_duplicate_scans() -> None:
    history = build_history(reversed(SCANS))
    j1 = history.visits["J1"]
    assert history.route("J1") == ("cut", "weld", "ship")
    assert (j1[0].arrived, j1[0].last_seen, j1[0].left, j1[0].scans) == (100.0, 160.0, 400.0, 2)
    assert history.duplicates == 2
    assert current_locations(history) == {"J1": "ship", "J2": "weld", "J3": "cut"}
    current = history.current_location("J2")
    assert current is not None and current.left is None and current.dwell_s(1000) == 100


def test_dwell_per_location() -> None:
    history = build_history(SCANS)
    closed = dwell_by_location(history)
    assert closed["cut"].visits == 2 and closed["cut"].total_s == 300 + 700
    assert closed["cut"].mean_s == 500
    with_open = dwell_by_location(history, now=1100, exit_locations={"ship"})
    assert with_open["weld"].total_s == 600 + 200
    assert "ship" not in with_open
    assert with_open["cut"].visits == 3


def test_wip_at_a_moment_excludes_finished_jobs() -> None:
    history = build_history(SCANS)
    assert wip_at(history, 450) == {"cut": 1, "weld": 1}
    assert wip_at(history, 600) == {"cut": 2, "weld": 1}
    assert wip_at(history, 50) == {}
    assert wip_at(history, 2000, exit_locations={"ship"}) == {"cut": 1, "weld": 1}


def test_idle_jobs_longest_first() -> None:
    history = build_history(SCANS)
    idle = idle_jobs(history, now=2000, threshold_s=1000, exit_locations={"ship"})
    assert [(j.job_id, j.location_id, j.idle_s) for j in idle] == [
        ("J3", "cut", 1500),
        ("J2", "weld", 1100),
    ]


def test_lead_time_per_route() -> None:
    scans = [
        *SCANS,
        (300.0, "J4", "cut", "s1"),
        (700.0, "J4", "weld", "s2"),
        (1500.0, "J4", "ship", "s3"),
    ]
    history = build_history(scans)
    (route,) = lead_time_by_route(history, exit_locations={"ship"})
    assert route.route == ("cut", "weld", "ship")
    assert route.jobs == 2 and route.mean_s == pytest.approx((900 + 1200) / 2)
    all_routes = lead_time_by_route(history)
    assert {r.route for r in all_routes} == {("cut", "weld", "ship"), ("cut", "weld")}
