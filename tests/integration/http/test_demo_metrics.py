"""The metrics and jobs routes give the right numbers for the demo tenant (``smdh serve
--demo``'s set: two sites in Europe/Berlin and America/Chicago with 06:00-14:00 and
14:00-22:00 weekday shifts, tariff ``tou-standard``, machines with a 30 s ideal cycle).

Known readings are stored for a few demo devices; every expected number below is worked out
by hand from them. The hour is 2026-01-05 (a Monday) 13:00-14:00 UTC: 14:00-15:00 in Berlin
(late shift; tariff peak, 0.24 EUR/kWh) and 07:00-08:00 in Chicago (early shift; off-peak
until 08:00, 0.15 EUR/kWh, peak after).

* ``machine-001`` (Berlin), 1 Hz: running 3000 s then idle 600 s; one cycle per 40 s while
  running (75 parts), one scrap per 600 s (5). A = 3000 / 3600, P = 30 x 75 / 3000 = 0.75,
  Q = 70 / 75, OEE = 30 x 70 / 3600 = 0.58333. The other 14 machines of each site send
  nothing: their planned time is unknown, not lost.
* ``machine-002`` (Chicago), 1 Hz: running all hour, a cycle every 30 s (counter 0..119:
  119 parts), no scrap. A = 1, P = 30 x 119 / 3600 = 0.99167, Q = 1.
* ``meter-001`` (Berlin) and ``meter-002`` (Chicago): 100 kWh per hour. 13:00-15:00 UTC:
  Berlin 2 x 100 x 0.24 = 24 + 24; Chicago 100 x 0.15 (07-08) + 100 x 0.24 (08-09) = 15 + 24.
* ``air-001`` (Berlin): PM2.5 12.0 ug/m3 and CO2 800 ppm since 2026-01-04 00:00 Berlin:
  AQI 51 + 49 / 26.3 x (12.0 - 9.1) = 56.4 -> 56 (NowCast of a constant series and the
  daily AQI of 2026-01-04 alike), indoor "good". ``air-002`` (Chicago): PM2.5 40.0 for the
  last 12 hours: 101 + 49 / 19.9 x (40.0 - 35.5) = 112.1 -> 112.
* ``scanner-001``: job-1 cutting 13:00, welding 13:10, shipping 13:30 (lead time 1800 s);
  job-2 cutting 13:01. "Now" is 16:00 UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from smdh.application.principals import Principal
from smdh.domain.telemetry import DeviceSample
from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.container import Container
from smdh.entrypoints.demo import DEMO_ADMIN, DEMO_TENANT, ensure_demo
from tests.integration.http.conftest import GENEROUS, Client, LiveServer, new_container

pytestmark = pytest.mark.integration
T = 1_767_618_000.0  # 2026-01-05T13:00:00Z
BERLIN, CHICAGO = "plant-berlin", "plant-chicago"


def _sample(device: str, site: str, kind: str, ts: float, **values: Any) -> DeviceSample:
    return DeviceSample(DEMO_TENANT, site, device, kind, ts, values)


def _readings(container: Container) -> None:
    store = container.telemetry_store()
    store.write([
        _sample("machine-001", BERLIN, "machine", T + k,
                state="running" if k < 3000 else "idle",
                cycle_count=min(k, 3000) // 40, scrap_count=min(k, 3000) // 600)
        for k in range(3600)
    ])  # fmt: skip
    store.write([_sample("machine-002", CHICAGO, "machine", T + k, state="running",
                         cycle_count=k // 30, scrap_count=0) for k in range(3600)])  # fmt: skip
    for meter, site in (("meter-001", BERLIN), ("meter-002", CHICAGO)):
        store.write([_sample(meter, site, "energy", T - 3600 + m * 60,
                             kwh_cumulative=5000 + m * 100 / 60)
                     for m in range(4 * 60 + 1)])  # fmt: skip
    berlin_jan_4 = T - 38 * 3600  # 2026-01-03T23:00Z: 2026-01-04 00:00 in Berlin
    store.write([_sample("air-001", BERLIN, "air_quality", berlin_jan_4 + m * 300,
                         pm25_ugm3=12.0, co2_ppm=800.0)
                 for m in range(int((86_400 + 15 * 3600) / 300))])  # fmt: skip
    store.write([_sample("air-002", CHICAGO, "air_quality", T - 11 * 3600 + m * 300,
                         pm25_ugm3=40.0) for m in range(12 * 12)])  # fmt: skip
    scans = [(0, "job-1", "cutting"), (60, "job-2", "cutting"), (600, "job-1", "welding"),
             (1800, "job-1", "shipping")]  # fmt: skip
    store.write([_sample("scanner-001", BERLIN, "job_scan", T + dt, job_id=job,
                         location_id=where, scanner_id="gate-1")
                 for dt, job, where in scans])  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, str]]:
    path: Path = tmp_path_factory.mktemp("demo-metrics")
    container = new_container(path)
    container.clock().set(datetime(2026, 1, 5, 16, 0, tzinfo=UTC))  # "now": after the data
    ensure_demo(container.application(), path / "demo.json")
    _readings(container)
    admin = Principal.user(DEMO_TENANT, DEMO_ADMIN, Role.ADMIN)
    token = container.token_authority().issue(admin).access_token
    with LiveServer(container, settings=GENEROUS) as server:
        yield Client(server.port), token


def _get(demo: tuple[Client, str], path: str) -> Any:
    client, token = demo
    reply = client.get(path, token=token)
    assert reply.status == 200, reply.text
    return reply.json()


def _by_device(body: Any) -> dict[str | None, list[dict[str, Any]]]:
    rows: dict[str | None, list[dict[str, Any]]] = {}
    for item in body["items"]:
        rows.setdefault(item["device_id"], []).append(item)
    return rows


def test_oee_per_machine_and_site_over_shift_time(demo: tuple[Client, str]) -> None:
    rows = _by_device(_get(demo, f"/v1/metrics/oee?from={T:.0f}&to={T + 3600:.0f}&group=total"))
    (m1,) = rows["machine-001"]
    assert (m1["site_id"], m1["planned_s"], m1["run_s"], m1["idle_s"]) == (BERLIN, 3600, 3000, 600)
    assert (m1["produced"], m1["scrap"], m1["good"]) == (75, 5, 70)
    assert m1["availability"] == pytest.approx(3000 / 3600, abs=1e-6)
    assert m1["performance"] == pytest.approx(0.75, abs=1e-6)
    assert m1["quality"] == pytest.approx(70 / 75, abs=1e-6)
    assert m1["oee"] == pytest.approx(30 * 70 / 3600, abs=1e-6)
    (m2,) = rows["machine-002"]
    assert (m2["site_id"], m2["run_s"], m2["produced"], m2["scrap"]) == (CHICAGO, 3600, 119, 0)
    assert (m2["availability"], m2["quality"]) == (1.0, 1.0)
    assert m2["oee"] == m2["performance"] == pytest.approx(30 * 119 / 3600, abs=1e-6)
    # a machine without data: all its planned time is unknown, no OEE is made up
    (m3,) = rows["machine-003"]
    assert (m3["oee"], m3["unknown_s"], m3["planned_s"]) == (None, 3600, 3600)
    # the sites: 15 machines each, planned 15 h, of which 14 h unknown
    sites = {r["site_id"]: r for r in rows[None]}
    assert sites[BERLIN]["planned_s"] == 15 * 3600 and sites[BERLIN]["unknown_s"] == 14 * 3600
    assert sites[BERLIN]["oee"] == pytest.approx(m1["oee"], abs=1e-6)
    assert sites[CHICAGO]["oee"] == pytest.approx(m2["oee"], abs=1e-6)


def test_energy_and_cost_in_each_sites_local_time(demo: tuple[Client, str]) -> None:
    body = _get(demo, f"/v1/metrics/energy?from={T:.0f}&to={T + 7200:.0f}&group=hour")
    rows = _by_device(body)
    for meter, costs in (("meter-001", [24.0, 24.0]), ("meter-002", [15.0, 24.0])):
        assert [r["kwh"] for r in rows[meter]] == pytest.approx([100.0, 100.0])
        assert [r["cost"] for r in rows[meter]] == pytest.approx(costs)
        assert {r["tariff"] for r in rows[meter]} == {"tou-standard"}
    assert rows["meter-002"][0]["by_period"] == {"off-peak": {"kwh": 100.0, "cost": 15.0}}
    assert rows["meter-002"][1]["by_period"] == {"peak": {"kwh": 100.0, "cost": 24.0}}
    assert "meter-003" not in rows or all(not r["kwh"] for r in rows["meter-003"])
    total = _by_device(_get(demo, f"/v1/metrics/energy?from={T:.0f}&to={T + 7200:.0f}&group=total"))
    sites = {r["site_id"]: r for r in total[None]}
    assert sites[BERLIN]["kwh"] == pytest.approx(200.0) and sites[BERLIN]["cost"] == pytest.approx(
        48.0
    )
    assert sites[CHICAGO]["kwh"] == pytest.approx(200.0) and sites[CHICAGO][
        "cost"
    ] == pytest.approx(39.0)


def test_air_quality_nowcast_and_daily_aqi(demo: tuple[Client, str]) -> None:
    rows = _by_device(_get(demo, f"/v1/metrics/air-quality?from={T:.0f}&to={T + 3600:.0f}"))
    (a1,) = rows["air-001"]
    assert a1["pm25_ugm3"] == pytest.approx(12.0)
    assert a1["aqi"]["aqi"] == 56 and a1["aqi"]["category"] == "Moderate"
    assert a1["indoor"] == {"level": 1, "name": "good"}
    (a2,) = rows["air-002"]
    assert a2["aqi"]["aqi"] == 112
    assert a2["aqi"]["category"] == "Unhealthy for Sensitive Groups"
    day = _by_device(
        _get(demo, "/v1/metrics/air-quality?from=2026-01-03T23:00:00Z"
                   "&to=2026-01-04T23:00:00Z&group=day")
    )  # fmt: skip
    (d1,) = day["air-001"]
    assert (d1["period"], d1["hours"], d1["aqi"]["aqi"]) == ("2026-01-04", 24, 56)


def test_jobs_where_they_are_and_how_long_they_took(demo: tuple[Client, str]) -> None:
    body = _get(demo, f"/v1/jobs?from={T - 60:.0f}&exit=shipping")
    jobs = {j["job_id"]: j for j in body["jobs"]}
    assert jobs["job-1"]["location_id"] == "shipping" and jobs["job-2"]["location_id"] == "cutting"
    assert body["wip"] == {"cutting": 1}
    one = _get(demo, f"/v1/jobs/job-1?from={T - 60:.0f}")
    assert one["route"] == ["cutting", "welding", "shipping"] and one["lead_time_s"] == 1800.0
