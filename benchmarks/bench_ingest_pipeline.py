"""The ingest pipeline end to end against the real SQLite store, and InfluxDB side by side.

SMDH: ``--readings`` samples of a mixed fleet as JSON payload bytes grouped like real
messages (single samples, and ``{"samples": [...]}`` batches of 10 from every fifth device),
wrapped in ``RawRecord`` objects beforehand (what the MQTT/HTTP source hands over), then
``IngestPipeline.process`` in micro-batches of ``--batch`` records (the ingest worker's
``max_batch``) against ``build_container("local", <fresh temp dir>)``: JSON decode, registry
lookup, sensor parse and validation (derived power and AQI), late-data and quota checks, one
durable ``SqliteTelemetryStore.write`` per batch. Rate = samples stored / wall time of the
``process`` calls. Breakdown: the same records against a store that keeps nothing (decode,
parse and checks only), against the memory store, and the stored samples written straight to
a fresh SQLite store (store only). Production runs the pipeline in one worker thread;
``--workers 2`` shows what a second thread would do under the GIL.

InfluxDB (Debian's ``influxd``, started here on free loopback ports in a temp dir, stopped
at the end): the same samples (derived measures included) as line protocol, one point per
sample, tags tenant/site/device, measurement = sensor type, precision ms. The bodies of
``--batch`` lines are built beforehand (not timed); the timed part is the HTTP POSTs to
``/write`` with 1 and 2 concurrent writers (each into a fresh database); the count is then
checked with ``SELECT count(...)``.

    .venv/bin/python benchmarks/bench_ingest_pipeline.py --readings 300000 --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import json
import math
import os
import platform
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from smdh.adapters.embedded.telemetry_store import FILE_NAME, SqliteTelemetryStore
from smdh.adapters.memory.telemetry_store import InMemoryTelemetryStore
from smdh.application import commands as c
from smdh.application.ingest import IngestPipeline, RawRecord
from smdh.application.principals import Principal
from smdh.domain.telemetry import DeviceSample
from smdh.entrypoints.container import Container, build_container

TENANT = "bench"
SITES = ("plant-a", "plant-b")
OPERATOR = Principal.operator("bench")
FLEET = (("machine", 70), ("energy", 15), ("air_quality", 15))  # 100 devices, 1 Hz each
BATCHED_EVERY = 5  # every fifth device is a gateway sending {"samples": [10 samples]}
SAMPLES_PER_MESSAGE = 10
STATES = ("running", "running", "running", "idle", "offline")


# --- the workload -----------------------------------------------------------------------


def sample_values(sensor_type: str, rng: random.Random, second: int) -> dict[str, Any]:
    """One sample as a device sends it (derived measures are SMDH's job)."""
    r = rng.random
    if sensor_type == "machine":
        return {
            "power_watts": round(r() * 20_000, 1),
            "state": STATES[int(r() * 5)],
            "temperature_c": round(20 + r() * 70, 2),
            "cycle_count": second * 2,
            "scrap_count": second // 100,
        }
    if sensor_type == "energy":
        return {
            "voltage": round(220 + r() * 20, 2),
            "current": round(r() * 60, 3),
            "power_factor": round(0.8 + r() * 0.2, 3),
            "kwh_cumulative": round(second / 60, 3),
        }
    return {
        "co2_ppm": round(400 + r() * 1600, 1),
        "voc_ppb": round(r() * 500, 1),
        "pm1_ugm3": round(r() * 20, 2),
        "pm25_ugm3": round(r() * 40, 2),
        "pm4_ugm3": round(r() * 50, 2),
        "pm10_ugm3": round(r() * 60, 2),
        "temperature_c": round(18 + r() * 10, 2),
        "humidity_pct": round(30 + r() * 30, 2),
        "pressure_hpa": round(990 + r() * 40, 2),
    }


def devices() -> list[tuple[str, str, str]]:
    """(device id, sensor type, site) of the fleet."""
    fleet = []
    for sensor_type, count in FLEET:
        for n in range(count):
            fleet.append((f"{sensor_type.replace('_', '-')}-{n:03d}", sensor_type, SITES[n % 2]))
    return fleet


def records(total: int, now: float, seed: int = 7) -> list[RawRecord]:
    """``total`` samples as MQTT messages, interleaved in time like a live fleet."""
    rng = random.Random(seed)
    fleet = devices()
    seconds = math.ceil(total / len(fleet))
    start = int(now) - seconds - 60  # the whole run lies in the past, inside the late window
    out: list[RawRecord] = []
    produced = 0
    pending: dict[str, list[dict[str, Any]]] = {}
    for second in range(seconds):
        for n, (device_id, sensor_type, _) in enumerate(fleet):
            if produced == total:
                break
            sample = {"timestamp": (start + second) * 1000 + n, **sample_values(
                sensor_type, rng, second)}  # fmt: skip
            produced += 1
            if n % BATCHED_EVERY:
                out.append(_record(device_id, json.dumps(sample).encode(), now))
                continue
            group = pending.setdefault(device_id, [])
            group.append(sample)
            if len(group) == SAMPLES_PER_MESSAGE:
                out.append(_record(device_id, json.dumps({"samples": group}).encode(), now))
                pending[device_id] = []
    for device_id, group in pending.items():
        if group:
            out.append(_record(device_id, json.dumps({"samples": group}).encode(), now))
    return out


def _record(device_id: str, payload: bytes, now: float) -> RawRecord:
    return RawRecord("mqtt", TENANT, device_id, "telemetry", payload, now)


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --- SMDH -------------------------------------------------------------------------------


def prepare(container: Container) -> None:
    """The bench tenant (quota out of the way), two sites and the fleet."""
    app = container.application()
    app.execute(
        c.RegisterTenant(
            principal=OPERATOR,
            tenant_id=TENANT,
            name="Bench",
            max_devices=10_000,
            max_readings_per_second=10_000_000,
        )
    )
    for site in SITES:
        app.execute(
            c.RegisterSite(
                principal=OPERATOR, tenant_id=TENANT, site_id=site, name=site, timezone="UTC"
            )
        )
    for device_id, sensor_type, site in devices():
        app.execute(
            c.RegisterDevice(
                principal=OPERATOR,
                tenant_id=TENANT,
                device_id=device_id,
                site_id=site,
                sensor_type=sensor_type,
                name=device_id,
            )
        )


class NullStore:
    """Keeps nothing: isolates decode, parse and checks."""

    def write(self, samples: Sequence[DeviceSample]) -> None:
        pass


def pipeline_with(container: Container, store: Any) -> IngestPipeline:
    """The container's pipeline parts around another store."""
    app = container.application()
    return IngestPipeline(
        devices=app.devices,
        directory=app.directory,
        sensors=container.sensors(),
        store=store,
        dead_letters=container.dead_letters(),
        clock=container.clock(),
        rate_limiter=container.rate_limiter(),
    )


@dataclass
class Timing:
    wall: float  # seconds
    cpu: float  # CPU seconds of this process (all its threads)


def run_pipeline(
    pipeline: IngestPipeline, batches: list[Sequence[RawRecord]], workers: int
) -> tuple[Timing, int, int]:
    """(time, samples stored, dead letters) of processing all batches.

    Results are counted and dropped batch by batch, as the ingest worker does, so the
    timed run does not keep every stored sample alive (a growing heap slows the GC).
    """
    stored = rejected = 0
    lock = threading.Lock()
    cursor = iter(range(len(batches)))

    def work() -> None:
        nonlocal stored, rejected
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                return
            result = pipeline.process(batches[i])
            with lock:
                stored += len(result.stored)
                rejected += result.dead_letters

    gc.collect()
    threads = [threading.Thread(target=work) for _ in range(workers - 1)]
    began, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    work()
    for thread in threads:
        thread.join()
    return Timing(time.perf_counter() - began, time.process_time() - cpu), stored, rejected


def rates(count: int, timings: list[Timing]) -> str:
    walls = [count / t.wall for t in timings]
    cpus = [count / t.cpu for t in timings]
    return (
        f"best {max(walls):,.0f} samples/s, median {statistics.median(walls):,.0f} "
        f"(runs: {', '.join(f'{r:,.0f}' for r in walls)}); per CPU-second: best "
        f"{max(cpus):,.0f}, median {statistics.median(cpus):,.0f}"
    )


def bench_smdh(raw: list[RawRecord], batch: int, repeat: int, workers: int) -> Timing:
    """The headline: the container's pipeline and SQLite store; returns the best timing."""
    batches = chunks(raw, batch)
    timings: list[Timing] = []
    count = 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="smdh-bench-") as folder:
            container = build_container("local", folder)
            prepare(container)
            timing, count, rejected = run_pipeline(container.ingest_pipeline(), batches, workers)
            assert rejected == 0, f"{rejected} dead letters"
            timings.append(timing)
            for provider in (container.telemetry_store, container.dead_letters):
                provider().close()
            container.event_store().close()
    print(
        f"SMDH pipeline, real SQLite store, {workers} worker thread(s): {count:,} samples in "
        f"{len(raw):,} messages, batches of {batch} records: {rates(count, timings)}",
        flush=True,
    )
    return Timing(min(t.wall for t in timings), min(t.cpu for t in timings))


def bench_breakdown(raw: list[RawRecord], batch: int, repeat: int) -> list[list[DeviceSample]]:
    """Pipeline without a store, with the memory store, and the store alone; returns the
    stored samples batch by batch (for InfluxDB)."""
    batches = chunks(raw, batch)
    with tempfile.TemporaryDirectory(prefix="smdh-bench-") as folder:
        container = build_container("local", folder)
        prepare(container)
        null = pipeline_with(container, NullStore())
        null_times = [run_pipeline(null, batches, 1)[0] for _ in range(repeat)]
        memory_times = []
        for _ in range(repeat):
            memory = pipeline_with(container, InMemoryTelemetryStore(container.sensors()))
            memory_times.append(run_pipeline(memory, batches, 1)[0])
            del memory
        sample_batches = [null.process(b).stored for b in batches]
        gc.collect()
        store_times = []
        for n in range(repeat):
            path = Path(folder) / f"only-{n}-{FILE_NAME}"
            store = SqliteTelemetryStore(path, container.sensors())
            began, cpu = time.perf_counter(), time.process_time()
            for samples in sample_batches:
                store.write(samples)
            store_times.append(Timing(time.perf_counter() - began, time.process_time() - cpu))
            store.close()
        container.event_store().close()
    count = sum(map(len, sample_batches))
    measures = sum(len(s.values) for b in sample_batches for s in b) / count
    print(
        f"Breakdown (best of {repeat}, {count:,} samples, {measures:.2f} measures a sample; "
        "wall and CPU time per sample):"
    )
    rows = (
        ("decode + parse + checks (store keeps nothing)", null_times),
        ("the same with the memory store", memory_times),
        ("SQLite store write only (samples prepared)", store_times),
    )
    for label, timings in rows:
        wall, cpu = min(t.wall for t in timings), min(t.cpu for t in timings)
        print(
            f"  {label:<48} {count / wall:>10,.0f} samples/s  {wall / count * 1e6:6.2f} us "
            f"wall  {cpu / count * 1e6:6.2f} us CPU"
        )
    wall = min(t.wall for t in null_times) + min(t.wall for t in store_times)
    cpu = min(t.cpu for t in null_times) + min(t.cpu for t in store_times)
    print(
        f"  {'pipeline + store, if simply added':<48} {count / wall:>10,.0f} samples/s  "
        f"{wall / count * 1e6:6.2f} us wall  {cpu / count * 1e6:6.2f} us CPU",
        flush=True,
    )
    return sample_batches


def profile_pipeline(raw: list[RawRecord], batch: int, top: int) -> None:
    import cProfile  # noqa: PLC0415
    import pstats  # noqa: PLC0415

    batches = chunks(raw, batch)
    with tempfile.TemporaryDirectory(prefix="smdh-bench-") as folder:
        container = build_container("local", folder)
        prepare(container)
        pipeline = container.ingest_pipeline()
        profiler = cProfile.Profile()
        profiler.enable()
        for records_batch in batches:
            pipeline.process(records_batch)
        profiler.disable()
        container.telemetry_store().close()
        container.event_store().close()
    for order in ("tottime", "cumulative"):
        print(f"cProfile, top {top} by {order}:")
        pstats.Stats(profiler).sort_stats(order).print_stats(top)


# --- InfluxDB ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _escape_tag(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _field(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def line(sample: DeviceSample) -> str:
    tags = (
        f"{sample.sensor_type},tenant={_escape_tag(sample.tenant_id)},"
        f"site={_escape_tag(sample.site_id)},device={_escape_tag(sample.device_id)}"
    )
    fields = ",".join(f"{_escape_tag(k)}={_field(v)}" for k, v in sample.values.items())
    return f"{tags} {fields} {round(sample.timestamp * 1000)}"


@contextlib.contextmanager
def influxd() -> Iterator[tuple[str, int, str, int]]:
    """A private influxd on free loopback ports; yields (host, http port, version, pid)."""
    binary = shutil.which("influxd")
    if binary is None:
        raise RuntimeError("influxd not found (Debian package influxdb)")
    version = subprocess.run(  # noqa: S603 - the installed influxd, fixed argv
        [binary, "version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    folder = Path(tempfile.mkdtemp(prefix="influx-bench-"))
    port, rpc = free_port(), free_port()
    config = folder / "influxdb.conf"
    config.write_text(
        f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{folder}/meta"
  logging-enabled = false
[data]
  dir = "{folder}/data"
  wal-dir = "{folder}/wal"
  query-log-enabled = false
  trace-logging-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  write-tracing = false
[logging]
  level = "error"
  suppress-logo = true
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
"""
    )
    log = (folder / "influxd.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - the installed influxd, fixed argv
        [binary, "-config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"influxd exited: {(folder / 'influxd.log').read_text()}")
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/ping")
                if conn.getresponse().status == 204:
                    conn.close()
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("influxd did not answer /ping within 30 s")
            time.sleep(0.1)
        yield "127.0.0.1", port, version, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def influx_query(host: str, port: int, query: str, db: str | None = None) -> Any:
    params = {"q": query, **({"db": db} if db else {})}
    conn = http.client.HTTPConnection(host, port, timeout=120)
    conn.request(
        "POST",
        "/query",
        body=urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"influx query {query!r}: {response.status} {body[:300]!r}")
    return json.loads(body)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def influx_write(
    host: str, port: int, pid: int, db: str, bodies: list[bytes], writers: int
) -> Timing:
    """Time to POST all bodies with ``writers`` concurrent keep-alive connections; CPU is
    influxd's (the client's HTTP work is left out, as the SMDH side has no client)."""
    path = f"/write?{urlencode({'db': db, 'precision': 'ms'})}"
    cursor = iter(range(len(bodies)))
    lock = threading.Lock()
    errors: list[str] = []

    def work() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=120)
        try:
            while True:
                with lock:
                    i = next(cursor, None)
                if i is None:
                    return
                conn.request("POST", path, body=bodies[i])
                response = conn.getresponse()
                answer = response.read()
                if response.status != 204:
                    errors.append(f"{response.status} {answer[:300]!r}")
                    return
        finally:
            conn.close()

    threads = [threading.Thread(target=work) for _ in range(writers)]
    began, cpu = time.perf_counter(), process_cpu(pid)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    timing = Timing(time.perf_counter() - began, process_cpu(pid) - cpu)
    if errors:
        raise RuntimeError(f"influx write failed: {errors[0]}")
    return timing


def influx_count(host: str, port: int, db: str) -> int:
    """Points stored: per measurement, the count of a field every sample carries."""
    total = 0
    for measurement, field in (
        ("machine", "power_watts"),
        ("energy", "voltage"),
        ("air_quality", "co2_ppm"),
    ):
        query = f'SELECT count("{field}") FROM "{measurement}"'  # noqa: S608 - constants
        answer = influx_query(host, port, query, db)
        for series in answer["results"][0].get("series", []):
            total += int(series["values"][0][1])
    return total


def bench_influx(
    sample_batches: list[list[DeviceSample]], batch: int, repeat: int
) -> tuple[Timing, str]:
    """InfluxDB's best timing over 1 and 2 writers, and its version."""
    stored = [s for b in sample_batches for s in b]
    bodies = ["\n".join(map(line, b)).encode() for b in chunks(stored, batch)]
    size = sum(map(len, bodies))
    print(
        f"InfluxDB: {len(stored):,} points as line protocol in {len(bodies)} bodies of up to "
        f"{batch} lines ({size / len(stored):.0f} bytes a line), built beforehand, not timed",
        flush=True,
    )
    best = Timing(math.inf, math.inf)
    with influxd() as (host, port, version, pid):
        for writers in (1, 2):
            timings = []
            for n in range(repeat):
                db = f"bench_w{writers}_r{n}"
                influx_query(host, port, f'CREATE DATABASE "{db}"')
                timings.append(influx_write(host, port, pid, db, bodies, writers))
                count = influx_count(host, port, db)
                assert count == len(stored), f"influx stored {count} of {len(stored)} points"
                influx_query(host, port, f'DROP DATABASE "{db}"')
            print(
                f"InfluxDB /write, {writers} concurrent writer(s): "
                f"{rates(len(stored), timings).replace('samples', 'points')} (influxd CPU, "
                "all its threads); count verified",
                flush=True,
            )
            best = Timing(min(best.wall, *(t.wall for t in timings)),
                          min(best.cpu, *(t.cpu for t in timings)))  # fmt: skip
    return best, version


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--readings", type=int, default=300_000, help="samples to ingest")
    parser.add_argument("--batch", type=int, default=5000, help="records per micro-batch")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--workers", type=int, default=1, help="pipeline threads (prod: 1)")
    parser.add_argument("--no-influx", action="store_true", help="skip InfluxDB")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cProfile a run, print the top N"
    )
    args = parser.parse_args(argv)

    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    raw = records(args.readings, time.time())
    print(
        f"Workload: {args.readings:,} samples of {sum(n for _, n in FLEET)} devices "
        f"({', '.join(f'{n} {t}' for t, n in FLEET)}), {len(raw):,} messages "
        f"({sum(map(len, (r.payload for r in raw))) / len(raw):.0f} bytes average)",
        flush=True,
    )
    gc.collect()
    gc.freeze()  # the prepared workload is not part of the hub's heap: keep it out of the GC
    smdh = bench_smdh(raw, args.batch, args.repeat, args.workers)
    if args.workers == 1:
        bench_smdh(raw, args.batch, args.repeat, 2)
    sample_batches = bench_breakdown(raw, args.batch, args.repeat)
    if args.profile:
        profile_pipeline(raw, args.batch, args.profile)
    if args.no_influx:
        return
    influx, version = bench_influx(sample_batches, args.batch, args.repeat)
    print(f"influxd: {version}")
    count = args.readings
    print(
        f"RESULT: SMDH {count / smdh.wall:,.0f} samples/s (1 pipeline thread, decode + checks "
        f"+ durable SQLite write) vs InfluxDB {count / influx.wall:,.0f} points/s (line "
        f"protocol over HTTP, best of 1 and 2 writers): ratio SMDH/InfluxDB = "
        f"{influx.wall / smdh.wall:.2f}; per CPU-second {count / smdh.cpu:,.0f} vs "
        f"{count / influx.cpu:,.0f}: ratio {influx.cpu / smdh.cpu:.2f}"
    )


if __name__ == "__main__":
    main()
