"""The metrics, jobs and export routes on a small hand-made dataset whose numbers are known.

Clock: 2026-01-05T08:00Z (a Monday). Site in UTC, no shifts (all time planned), tariff
``tou-standard`` (weekday 20:00-08:00 off-peak at 0.15 EUR/kWh).

* Machine ``press``, ideal cycle 2 s, 06:00-07:00 at 1 Hz: running 2700 s then idle 900 s,
  900 parts, 45 scrap: A = 0.75, P = 2 x 900 / 2700 = 2/3, Q = 855 / 900 = 0.95,
  OEE = 2 x 855 / 3600 = 0.475.
* Meter ``meter``: 100 kWh per hour, 06:00-08:00 = 200 kWh = 30.00 EUR.
* Air sensor ``air``: PM2.5 20.0 ug/m3 all the time: AQI 71 (51 + 49 / 26.3 x 10.9),
  both as NowCast and as the daily AQI of 2026-01-04.
* Scans: job-1 cutting 06:00, welding 06:10, shipping 06:30; job-2 cutting 06:01.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest

from smdh.application import commands as c
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId
from smdh.domain.telemetry import DeviceSample
from tests.integration.http.conftest import (
    GENEROUS,
    ROOT,
    Client,
    LiveServer,
    new_container,
    seed_tenant,
)

pytestmark = pytest.mark.integration
T6 = 1_767_592_800.0  # 2026-01-05T06:00:00Z
T, S = "metrico", "metrico-utc"


def _dataset(container: object) -> None:
    app = container.application()  # type: ignore[attr-defined]
    tid = TenantId(T)
    app.execute(c.RegisterSite(principal=ROOT, tenant_id=tid, site_id=SiteId(S), name="P",
                               timezone="UTC", tariff_ref="tou-standard"))  # fmt: skip
    for device, kind in (("press", "machine"), ("meter", "energy"), ("air", "air_quality"),
                         ("gate", "job_scan")):  # fmt: skip
        ideal = 2.0 if kind == "machine" else None
        app.execute(c.RegisterDevice(principal=ROOT, tenant_id=tid, device_id=DeviceId(device),
                                     site_id=SiteId(S), sensor_type=kind, name=device,
                                     ideal_cycle_time_s=ideal))  # fmt: skip
    store = container.telemetry_store()  # type: ignore[attr-defined]

    def at(device: str, kind: str, ts: float, **values: object) -> DeviceSample:
        return DeviceSample(T, S, device, kind, ts, values)

    store.write([
        at("press", "machine", T6 + k, state="running" if k < 2700 else "idle",
           cycle_count=k // 3 if k < 2700 else 900, scrap_count=k // 60 if k < 2700 else 45)
        for k in range(3600)
    ])  # fmt: skip
    store.write([at("meter", "energy", T6 - 3600 + m * 60, kwh_cumulative=1000 + m * 100 / 60)
                 for m in range(181)])  # fmt: skip
    start = T6 - 30 * 3600
    store.write([at("air", "air_quality", start + m * 300, pm25_ugm3=20.0, co2_ppm=800.0)
                 for m in range(int(32 * 3600 / 300))])  # fmt: skip
    scans = [(0, "job-1", "cutting"), (60, "job-2", "cutting"), (600, "job-1", "welding"),
             (1800, "job-1", "shipping")]  # fmt: skip
    store.write([at("gate", "job_scan", T6 + dt, job_id=j, location_id=loc, scanner_id="g")
                 for dt, j, loc in scans])  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, str]]:
    container = new_container(tmp_path_factory.mktemp("metrics"))
    fixture = seed_tenant(container, T)
    _dataset(container)
    with LiveServer(container, settings=GENEROUS) as server:
        yield Client(server.port), fixture.tokens["viewer"]


def _get(served: tuple[Client, str], path: str) -> dict[str, object]:
    client, token = served
    reply = client.get(path, token=token)
    assert reply.status == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def test_oee_of_the_hour(served: tuple[Client, str]) -> None:
    body = _get(served, f"/v1/metrics/oee?from={T6:.0f}&to={T6 + 3600:.0f}&group=total")
    items = {i["device_id"]: i for i in body["items"]}  # type: ignore[union-attr]
    press = items["press"]
    assert press["availability"] == pytest.approx(0.75)
    assert press["performance"] == pytest.approx(2 / 3, abs=1e-6)
    assert press["quality"] == pytest.approx(0.95)
    assert press["oee"] == pytest.approx(0.475)
    assert (press["produced"], press["scrap"], press["good"]) == (900, 45, 855)
    assert items[None]["oee"] == pytest.approx(0.475)  # the site row: one machine


def test_energy_and_cost(served: tuple[Client, str]) -> None:
    body = _get(served, f"/v1/metrics/energy?from={T6:.0f}&to={T6 + 7200:.0f}&group=hour")
    meter = [i for i in body["items"] if i["device_id"] == "meter"]  # type: ignore[union-attr]
    assert [m["kwh"] for m in meter] == pytest.approx([100.0, 100.0])
    assert [m["cost"] for m in meter] == pytest.approx([15.0, 15.0])
    assert meter[0]["currency"] == "EUR" and meter[0]["tariff"] == "tou-standard"
    assert meter[0]["by_period"] == {"off-peak": {"kwh": 100.0, "cost": 15.0}}
    total = _get(
        served, f"/v1/metrics/energy?site_id={S}&from={T6:.0f}&to={T6 + 7200:.0f}&group=total"
    )
    site = [i for i in total["items"] if i["device_id"] is None]  # type: ignore[union-attr]
    assert site[0]["kwh"] == pytest.approx(200.0) and site[0]["cost"] == pytest.approx(30.0)


def test_air_quality_nowcast_and_daily(served: tuple[Client, str]) -> None:
    hourly = _get(served, f"/v1/metrics/air-quality?from={T6 + 3600:.0f}&to={T6 + 7200:.0f}")
    row = hourly["items"][0]  # type: ignore[index]
    assert row["pm25_ugm3"] == pytest.approx(20.0)
    assert row["aqi"]["aqi"] == 71 and row["aqi"]["category"] == "Moderate"
    assert row["indoor"] == {"level": 1, "name": "good"}
    daily = _get(
        served,
        "/v1/metrics/air-quality?from=2026-01-04T00:00:00Z&to=2026-01-05T00:00:00Z&group=day",
    )
    day = daily["items"][0]  # type: ignore[index]
    assert day["period"] == "2026-01-04" and day["hours"] == 24 and day["aqi"]["aqi"] == 71


def test_jobs(served: tuple[Client, str]) -> None:
    body = _get(served, f"/v1/jobs?from={T6 - 60:.0f}&exit=shipping")
    jobs = {j["job_id"]: j for j in body["jobs"]}  # type: ignore[union-attr]
    assert jobs["job-1"]["location_id"] == "shipping" and jobs["job-2"]["location_id"] == "cutting"
    assert body["wip"] == {"cutting": 1}
    one = _get(served, f"/v1/jobs/job-1?from={T6 - 60:.0f}")
    assert one["route"] == ["cutting", "welding", "shipping"] and one["lead_time_s"] == 1800.0
    client, token = served
    assert client.get("/v1/jobs/job-9", token=token).status == 404


def test_export_csv(served: tuple[Client, str]) -> None:
    client, token = served
    reply = client.get(f"/v1/export?dataset=energy&from={T6:.0f}&to={T6 + 7200:.0f}", token=token)
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert [float(r["kwh"]) for r in rows] == pytest.approx([100.0, 100.0])


def test_bucketed_readings_long_range(served: tuple[Client, str]) -> None:
    body = _get(
        served,
        "/v1/devices/press/readings?measure=cycle_count&bucket=1h"
        f"&from={T6 - 86_400:.0f}&to={T6 + 3600:.0f}",
    )
    (bucket,) = body["buckets"]  # type: ignore[misc]
    assert bucket["count"] == 3600 and bucket["last"] == 900.0 and bucket["max"] == 900.0
