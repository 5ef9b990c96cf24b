"""The chosen telemetry store through its real ``write()`` and queries. Prints figures.

Realistic mixed samples as the ingest pipeline hands them over (``DeviceSample`` objects,
derived measures included): machines with 5 measures, air-quality sensors with 9 measured
plus the derived AQI, energy meters with 4 measured plus the derived power. Writes: batches
of 1000 and 5000 samples into a fresh file, at ``synchronous=NORMAL`` and ``FULL``, then the
same batches again (redelivery). Queries on a store holding ``--hours`` of 1 Hz data of a
fleet: latest per device, a 1 h raw range of a machine, 24 h of hourly buckets.

    .venv/bin/python benchmarks/bench_telemetry_store.py --samples 300000 --repeat 3
"""

from __future__ import annotations

import argparse
import itertools
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from smdh.adapters.embedded.telemetry_store import FILE_NAME, SqliteTelemetryStore
from smdh.domain.sensors import default_registry
from smdh.domain.telemetry import DeviceSample

T0 = 1_735_689_600.0  # 2025-01-01T00:00:00Z
STATES = ("running", "idle", "offline")
FLEET = (("machine", 12), ("energy", 4), ("air_quality", 4))  # devices per type at 1 Hz


def values(sensor_type: str, rng: random.Random, second: int) -> dict[str, Any]:
    if sensor_type == "machine":
        return {
            "power_watts": rng.uniform(0, 20_000),
            "state": STATES[rng.randrange(3)],
            "temperature_c": rng.uniform(20, 90),
            "cycle_count": second * 2,
            "scrap_count": second // 100,
        }
    if sensor_type == "energy":
        voltage, current, pf = rng.uniform(220, 240), rng.uniform(0, 60), rng.uniform(0.8, 1)
        return {
            "voltage": voltage,
            "current": current,
            "power_factor": pf,
            "kwh_cumulative": second / 60,
            "power_watts": voltage * current * pf,
        }
    return {
        "co2_ppm": rng.uniform(400, 2000),
        "voc_ppb": rng.uniform(0, 500),
        "pm1_ugm3": rng.uniform(0, 20),
        "pm25_ugm3": rng.uniform(0, 40),
        "pm4_ugm3": rng.uniform(0, 50),
        "pm10_ugm3": rng.uniform(0, 60),
        "temperature_c": rng.uniform(18, 28),
        "humidity_pct": rng.uniform(30, 60),
        "pressure_hpa": rng.uniform(990, 1030),
        "aqi_instant": rng.randrange(0, 120),
    }


def fleet_samples(start_s: int, scale: int = 1) -> Iterator[DeviceSample]:
    """1 Hz samples of the fleet (``scale`` times its size), interleaved by time."""
    rng = random.Random(start_s)
    devices = [
        (f"tenant-{n % 2}", f"{t}-{n:04d}", t) for t, count in FLEET for n in range(count * scale)
    ]
    for second in itertools.count(start_s):
        for tenant, device, sensor_type in devices:
            yield DeviceSample(
                tenant, "site-1", device, sensor_type, T0 + second, values(sensor_type, rng, second)
            )


def batches(count: int, size: int, start_s: int = 0, scale: int = 1) -> list[list[DeviceSample]]:
    items = itertools.islice(fleet_samples(start_s, scale), count)
    return [list(b) for b in iter(lambda: list(itertools.islice(items, size)), [])]


def write_rate(store: SqliteTelemetryStore, prepared: list[list[DeviceSample]]) -> float:
    began = time.perf_counter()
    for batch in prepared:
        store.write(batch)
    return sum(map(len, prepared)) / (time.perf_counter() - began)


def latency_ms(call: Callable[[], object], runs: int) -> str:
    spent = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        spent.append((time.perf_counter() - began) * 1000)
    spent.sort()
    return f"{statistics.median(spent):.2f} / {spent[int(len(spent) * 0.95) - 1]:.2f}"


def bench_writes(total: int, repeat: int) -> None:
    print(
        "| batch | synchronous | new samples/s | measures/s | redelivered samples/s |\n"
        "|---|---|---|---|---|"
    )
    for size, level in itertools.product((1000, 5000), ("NORMAL", "FULL")):
        prepared = batches(total, size, scale=5)  # 100 devices
        measures = sum(len(s.values) for b in prepared for s in b) / total
        fresh = again = 0.0
        for _ in range(repeat):  # best of N, each into a fresh file: the machine may be shared
            with tempfile.TemporaryDirectory() as folder:
                store = SqliteTelemetryStore(
                    Path(folder) / FILE_NAME,
                    default_registry(),
                    synchronous=level,  # type: ignore[arg-type]
                )
                fresh = max(fresh, write_rate(store, prepared))
                again = max(again, write_rate(store, prepared))
                store.close()
        print(
            f"| {size} | {level} | {fresh:,.0f} | {fresh * measures:,.0f} | {again:,.0f} |",
            flush=True,
        )


def bench_queries(hours: int, runs: int) -> None:
    per_second = sum(count for _, count in FLEET)
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteTelemetryStore(Path(folder) / FILE_NAME, default_registry())
        loaded = time.perf_counter()
        for batch in batches(per_second * hours * 3600, 5000):
            store.write(batch)
        loaded = time.perf_counter() - loaded
        rng = random.Random(3)
        machines = [(f"tenant-{n % 2}", f"machine-{n:04d}") for n in range(FLEET[0][1])]
        all_devices = [
            (f"tenant-{n % 2}", f"{t}-{n:04d}") for t, count in FLEET for n in range(count)
        ]
        seconds = hours * 3600

        def hour_range() -> None:
            start = T0 + rng.randrange(seconds - 3600)
            got = store.query_range(*rng.choice(machines), start, start + 3600, limit=5000)
            assert len(got) == 3600, len(got)

        def day_hourly() -> None:
            start = T0 + 3600 * rng.randrange(max(1, hours - 23))
            got = store.aggregate(*rng.choice(machines), "power_watts", start, start + 86400, 3600)
            assert len(got) == min(24, hours), len(got)

        print(
            f"\n{per_second * seconds:,} samples ({per_second} devices x {hours} h at 1 Hz)"
            f" loaded in {loaded:.0f} s; file {store.path.stat().st_size / 1e6:,.0f} MB"
        )
        print("| query | p50 / p95 (ms) |\n|---|---|")
        latest = latency_ms(lambda: store.latest(*rng.choice(all_devices)), runs)
        print(f"| latest value per device | {latest} |")
        print(f"| 1 h raw range of a machine (3,600 samples) | {latency_ms(hour_range, runs)} |")
        print(f"| 24 h in hourly buckets (86,400 samples) | {latency_ms(day_hourly, runs)} |")
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300_000, help="per write run")
    parser.add_argument("--hours", type=int, default=24, help="of data for the queries")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1, help="writes: best of N runs")
    args = parser.parse_args()
    print(f"SQLite {sqlite3.sqlite_version}, WAL; mixed fleet {FLEET} x 5 for writes\n")
    bench_writes(args.samples, args.repeat)
    bench_queries(args.hours, args.queries)


if __name__ == "__main__":
    main()
