"""Analytics queries on a month of one tenant, and the cost of rollup maintenance.

Dataset, generated straight into the embedded store (``telemetry.sqlite3``; rollups then
built by ``SqliteRollupStore.rebuild``, the same code as incremental maintenance): one
tenant, two sites (Europe/Berlin, tariff ``tou-standard``), ``--machines`` machines at 1 Hz
(state, power, cycle and scrap counters), one energy meter per 10 machines every 15 s, one
air-quality sensor per 10 machines every 60 s, over ``--days`` days ending at "now".

Queries (p95 and median over ``--queries`` runs, warm):
(a) 24-hour hourly OEE of all machines (``Analytics.oee``, rollup path),
(b) latest value of every device (``TelemetryStore.latest`` per device),
(c) 7-day daily energy cost per site (``Analytics.energy``),
(d) 30-day daily AQI of every sensor (``Analytics.air_quality``).

Rollup maintenance: readings/s of ``write`` alone vs ``write`` + ``on_stored`` (flush every
5 s of wall time, as in the hub), batches of ``--batch`` machine samples.

    .venv/bin/python benchmarks/bench_analytics.py --days 30 --machines 50
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from smdh.adapters.embedded.rollups import SqliteRollupStore
from smdh.adapters.embedded.telemetry_store import FILE_NAME, SqliteTelemetryStore
from smdh.application import commands as c
from smdh.application.analytics import Analytics
from smdh.application.principals import Principal
from smdh.domain.sensors import default_registry
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId
from smdh.domain.telemetry import DeviceSample
from smdh.entrypoints.container import build_container

DAY = 86_400
ROOT = Principal.operator("bench")
NOW = datetime(2026, 2, 2, 0, 0, tzinfo=UTC).timestamp()


def machine_rows(series_id: int, start: float, end: float, rng: random.Random) -> list[tuple]:
    rows, cycles, scrap, state = [], 0, 0, "running"
    ts = start
    while ts < end:
        if int(ts) % 300 == 0:
            state = rng.choices(("running", "idle", "offline"), (0.8, 0.15, 0.05))[0]
        if state == "running" and int(ts) % 4 == 0:
            cycles += 1
            scrap += rng.random() < 0.02
        power = 4000.0 if state == "running" else (300.0 if state == "idle" else 0.0)
        rows.append((series_id, ts, power + rng.random(), state, 60.0, cycles, scrap, None))
        ts += 1.0
    return rows


def generate(path: Path, machines: int, days: int) -> tuple[SqliteTelemetryStore, object]:
    container = build_container("local", path)
    app = container.application()
    app.refresh()
    tid = TenantId("benchco")
    app.execute(c.RegisterTenant(principal=ROOT, tenant_id=tid, name="Bench Co"))
    for s in range(2):
        app.execute(c.RegisterSite(principal=ROOT, tenant_id=tid, site_id=SiteId(f"site-{s}"),
                                   name=f"Site {s}", timezone="Europe/Berlin",
                                   tariff_ref="tou-standard"))  # fmt: skip
    devices = [(f"m{i:02d}", "machine") for i in range(machines)]
    devices += [(f"e{i}", "energy") for i in range(max(1, machines // 10))]
    devices += [(f"a{i}", "air_quality") for i in range(max(1, machines // 10))]
    for n, (device, kind) in enumerate(devices):
        app.execute(c.RegisterDevice(principal=ROOT, tenant_id=tid, device_id=DeviceId(device),
                                     site_id=SiteId(f"site-{n % 2}"), sensor_type=kind,
                                     name=device, ideal_cycle_time_s=3.5))  # fmt: skip
    store: SqliteTelemetryStore = container.telemetry_store()
    start = NOW - days * DAY
    rng = random.Random(1)
    # one sample per device creates its series row; then rows go straight into the tables
    store.write([DeviceSample("benchco", f"site-{n % 2}", d, k, start - 1, {"power_watts": 1.0}
                              if k != "air_quality" else {"pm25_ugm3": 5.0})
                 for n, (d, k) in enumerate(devices)])  # fmt: skip
    conn = store._writer  # bulk generation, bypassing the batch API
    assert conn is not None
    ids = dict(conn.execute("SELECT device_id, series_id FROM series").fetchall())
    t0 = time.perf_counter()
    for d in range(days):
        day0 = start + d * DAY
        conn.execute("BEGIN")
        for device, kind in devices:
            sid = ids[device]
            if kind == "machine":
                rows = machine_rows(sid, day0, day0 + DAY, rng)
                conn.executemany(
                    "INSERT OR REPLACE INTO samples_machine VALUES (?,?,?,?,?,?,?,?)", rows
                )
            elif kind == "energy":
                base = (day0 - start) / 3600 * 400
                conn.executemany(
                    "INSERT OR REPLACE INTO samples_energy (series_id, ts, kwh_cumulative,"
                    " power_watts) VALUES (?,?,?,?)",
                    [(sid, day0 + k * 15, base + k * 15 / 3600 * 400, 400_000.0)
                     for k in range(DAY // 15)],
                )  # fmt: skip
            else:
                conn.executemany(
                    "INSERT OR REPLACE INTO samples_air_quality (series_id, ts, pm25_ugm3,"
                    " pm10_ugm3, co2_ppm) VALUES (?,?,?,?,?)",
                    [(sid, day0 + k * 60, 8 + 10 * rng.random(), 20.0, 700.0)
                     for k in range(DAY // 60)],
                )  # fmt: skip
        conn.execute("COMMIT")
    conn.executemany(
        "INSERT OR REPLACE INTO latest (series_id, measure, ts, value) VALUES (?, ?, ?, ?)",
        [(sid, "power_watts", NOW - 1, 1.0) for sid in ids.values()],
    )
    print(f"raw generated in {time.perf_counter() - t0:.0f} s")
    rollups = SqliteRollupStore(store.path, default_registry())
    t0 = time.perf_counter()
    rollups.rebuild("benchco", start, NOW)
    print(f"rollups built in {time.perf_counter() - t0:.0f} s")
    analytics = Analytics(directory=app.directory, devices=app.devices, telemetry=store,
                          rollups=rollups)  # fmt: skip
    return store, (analytics, rollups, [d for d, _ in devices])


def timed(run: Callable[[], object], n: int) -> tuple[float, float]:
    run()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def maintenance(path: Path, batch: int, seconds: int, machines: int) -> tuple[float, float]:
    registry = default_registry()
    results = []
    for with_rollups in (False, True):
        store = SqliteTelemetryStore(path / f"m{int(with_rollups)}.sqlite3", registry)
        rollups = SqliteRollupStore(store.path, registry) if with_rollups else None
        samples = [
            DeviceSample("t", "s", f"m{m}", "machine", NOW + k,
                         {"power_watts": 1000.0 + k, "state": "running", "cycle_count": k})
            for k in range(seconds) for m in range(machines)
        ]  # fmt: skip
        t0 = time.perf_counter()
        for i in range(0, len(samples), batch):
            part = samples[i : i + batch]
            store.write(part)
            if rollups is not None:
                rollups.on_stored(part)
        if rollups is not None:
            rollups.flush()
        results.append(len(samples) / (time.perf_counter() - t0))
        store.close()
    return results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--machines", type=int, default=50)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store, (analytics, _rollups, devices) = generate(Path(tmp), args.machines, args.days)
        size = (Path(tmp) / FILE_NAME).stat().st_size / 1e9
        print(f"telemetry file {size:.1f} GB")
        t = "benchco"
        queries = {
            "(a) 24 h hourly OEE, all machines": lambda: analytics.oee(t, NOW - DAY, NOW, "hour"),
            "(b) latest value per device": lambda: [store.latest(t, d) for d in devices],
            "(c) 7-day daily energy cost per site": lambda: analytics.energy(
                t, NOW - 7 * DAY, NOW, "day"
            ),
            "(d) 30-day daily AQI": lambda: analytics.air_quality(t, NOW - 30 * DAY, NOW, "day"),
        }
        print("| query | median (ms) | p95 (ms) |\n|---|---|---|")
        for name, run in queries.items():
            median, p95 = timed(run, args.queries)
            print(f"| {name} | {median:.1f} | {p95:.1f} |")
        off, on = maintenance(Path(tmp), args.batch, 600, args.machines)
        print(f"\nwrite only: {off:,.0f} readings/s; write + rollups: {on:,.0f} readings/s"
              f" ({(1 - on / off) * 100:.0f} % slower)")  # fmt: skip


if __name__ == "__main__":
    main()
