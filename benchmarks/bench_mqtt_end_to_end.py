"""MQTT end to end: 1,500 devices x 1 Hz into a running hub, publish -> queryable latency, RSS.

The hub runs as a subprocess (``python -m smdh.entrypoints.cli --data-dir TMP serve --demo
--no-simulator``, embedded amqtt broker, real SQLite stores) on free loopback ports. Before
it starts, the benchmark registers a ``bench`` tenant (``max_devices`` above the fleet, the
default readings quota of 5,000/s), two sites, ``--devices`` machine devices and a few viewer
users, in-process through the same application commands the ``smdh`` CLI runs (one process
instead of 1,500 CLI runs; the hub reads them from the event store at start).

Publishers: one paho-mqtt client per device with its own credentials (``tenant:device``,
its secret), QoS 1, one machine sample per message, driven by ``--threads`` threads that run
paho's external-loop API over a selector (1,500 clients do not need 1,500 threads). Message
``m`` is due at ``t0 + m / rate`` from device ``m % devices``: ``--rate`` msg/s in total
(1 Hz per device at the defaults) for ``--seconds``.

Measured:

* publish -> PUBACK for every message: the embedded broker acknowledges QoS 1 only once
  the message is durable in the store;
* publish -> queryable for every ``--sample-every``-th message: ``GET
  /v1/devices/{id}/latest`` polled every ``--poll-ms`` until that sample's timestamp shows;
  the time is taken when the answer that shows it arrives (an upper bound, resolution about
  one poll interval). Polls go round-robin through the viewer users (the API limits each
  principal to 50 requests/s);
* the hub's own ``smdh_ingest_latency_seconds`` histogram (worker submission -> durable,
  one observation per submitted micro-batch) from ``GET /metrics``, quantiles interpolated
  within the buckets as Prometheus' ``histogram_quantile`` does;
* the hub's RSS (with children) sampled every 200 ms by psutil, and its CPU time;
* stored count: ``smdh_ingest_readings_total{outcome="accepted"}`` and, per device,
  ``GET /v1/devices/{id}/readings`` over the run's window.

The hub is stopped with SIGINT at the end and must exit 0.

``--broker mosquitto`` puts Debian's ``mosquitto`` (2.0+) in front of the hub instead of the
embedded broker: the benchmark starts it on a free loopback port with the configuration of
``smdh.adapters.embedded.mosquitto.write_config`` (dynamic-security credentials of every
device and of the hub's service user, the ACL file, ``max_inflight_messages`` 1,000 and
``max_queued_messages`` at least 100,000 and at least the run's message count, so no QoS-1
message is dropped), and the hub with ``--mqtt mqtt://smdh-service:...@127.0.0.1:PORT``
(``MqttSource``, one subscriber connection). Devices then get their PUBACK from mosquitto on
receipt, not after durability. mosquitto's RSS and CPU are sampled like the hub's (the hub's
no longer include the broker), and its log is checked for dropped messages.

    .venv/bin/python benchmarks/bench_mqtt_end_to_end.py --devices 1500 --rate 1500 --seconds 60
    .venv/bin/python benchmarks/bench_mqtt_end_to_end.py --broker mosquitto --devices 1500 \
        --rate 1500 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import resource
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as mqtt
import psutil  # type: ignore[import-untyped]  # no stubs in the venv
from paho.mqtt.enums import CallbackAPIVersion

from smdh.adapters.embedded import mosquitto
from smdh.application import commands as c
from smdh.application.principals import Principal
from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.container import build_container

TENANT = "bench"
SITES = ("plant-a", "plant-b")
OPERATOR = Principal.operator("bench")
VIEWER_PASSWORD = "bench-viewer-password-1"  # noqa: S105 - a throwaway local user
STATES = ("running", "running", "running", "idle", "offline")
SERVICE_USER = "smdh-service"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def ms(values: Sequence[float]) -> str:
    if not values:
        return "no data"
    return (
        f"p50 {percentile(values, 0.5) * 1000:.1f} ms, p99 {percentile(values, 0.99) * 1000:.1f} "
        f"ms, max {max(values) * 1000:.1f} ms (n={len(values):,})"
    )


# --- set-up -----------------------------------------------------------------------------


def register(folder: str, count: int, viewers: int) -> list[tuple[str, str, str]]:
    """The bench tenant, its fleet and viewer users; returns (device id, username, secret)."""
    container = build_container("local", folder)
    app = container.application()
    app.execute(
        c.RegisterTenant(
            principal=OPERATOR, tenant_id=TENANT, name="Bench", max_devices=count + 100
        )
    )
    for site in SITES:
        app.execute(
            c.RegisterSite(
                principal=OPERATOR, tenant_id=TENANT, site_id=site, name=site, timezone="UTC"
            )
        )
    fleet = []
    for n in range(count):
        device_id = f"machine-{n:04d}"
        credentials = app.execute(
            c.RegisterDevice(
                principal=OPERATOR,
                tenant_id=TENANT,
                device_id=device_id,
                site_id=SITES[n % 2],
                sensor_type="machine",
                name=device_id,
            )
        )
        fleet.append((device_id, credentials.username, credentials.secret))
    for n in range(viewers):
        user = f"viewer-{n}"
        app.execute(
            c.InviteUser(
                principal=OPERATOR,
                tenant_id=TENANT,
                user_id=user,
                email=f"{user}@bench.example",
                role=Role.VIEWER,
            )
        )
        container.identity().set_user_password(TENANT, user, VIEWER_PASSWORD)  # type: ignore[arg-type]
    for provider in (container.event_store, container.credentials):
        provider().close()
    return fleet


class RssSampler(threading.Thread):
    """Peak RSS of a process and its children, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.last = 0
        self.stopped = threading.Event()

    def sample(self) -> int:
        total: int = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        self.last = total
        self.peak = max(self.peak, total)
        return total

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            with contextlib.suppress(psutil.Error):
                self.sample()


# --- latency probes ---------------------------------------------------------------------


class Prober:
    """An asyncio loop in its own thread polling ``/latest`` for sampled messages."""

    def __init__(self, base: str, tokens: list[str], poll_s: float) -> None:
        self.base, self.tokens, self.poll_s = base, tokens, poll_s
        self.latencies: list[float] = []
        self.timeouts = self.throttled = self.polls = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.session: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.turn = 0

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self.loop).result()

    async def _open(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64), timeout=aiohttp.ClientTimeout(total=10)
        )

    def probe(self, device_id: str, ts_ms: int, published: float) -> None:
        """Thread-safe: watch for the sample of ``device_id`` at ``ts_ms``."""
        self.loop.call_soon_threadsafe(self._spawn, device_id, ts_ms, published)

    def _spawn(self, device_id: str, ts_ms: int, published: float) -> None:
        task = self.loop.create_task(self._watch(device_id, ts_ms, published))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _watch(self, device_id: str, ts_ms: int, published: float) -> None:
        assert self.session is not None
        token = self.tokens[self.turn % len(self.tokens)]
        self.turn += 1
        url = f"{self.base}/v1/devices/{device_id}/latest"
        headers = {"Authorization": f"Bearer {token}"}
        wanted = ts_ms / 1000 - 0.0005
        polls = 0
        while True:
            polls += 1
            await asyncio.sleep(max(0.0, published + polls * self.poll_s - time.monotonic()))
            self.polls += 1
            try:
                async with self.session.get(url, headers=headers) as response:
                    if response.status == 429:
                        self.throttled += 1
                        continue
                    body = await response.json()
            except (aiohttp.ClientError, TimeoutError):
                continue
            seen = time.monotonic()
            epoch = body.get("epoch")
            if epoch is not None and epoch >= wanted:
                self.latencies.append(seen - published)
                return
            if seen - published > 10:
                self.timeouts += 1
                return

    def finish(self, timeout: float = 15) -> None:
        async def drain() -> None:
            if self.tasks:
                await asyncio.wait(list(self.tasks), timeout=timeout)
            if self.session is not None:
                await self.session.close()

        asyncio.run_coroutine_threadsafe(drain(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# --- publishers -------------------------------------------------------------------------


def machine_payload(rng: random.Random, ts_ms: int, seq: int) -> bytes:
    return json.dumps(
        {
            "timestamp": ts_ms,
            "power_watts": round(rng.random() * 20_000, 1),
            "state": STATES[int(rng.random() * 5)],
            "temperature_c": round(20 + rng.random() * 60, 2),
            "cycle_count": seq * 2,
            "scrap_count": seq // 100,
        }
    ).encode()


class Publisher(threading.Thread):
    """Drives a share of the device clients with paho's external-loop API."""

    def __init__(
        self,
        fleet: list[tuple[int, str, str, str]],  # (index, device id, username, secret)
        schedule: list[tuple[float, int, int]],  # (due offset, device index, message number)
        host: str,
        port: int,
        sample_every: int,
        prober: Prober,
    ) -> None:
        super().__init__(daemon=True)
        self.fleet, self.schedule, self.host, self.port = fleet, schedule, host, port
        self.sample_every, self.prober = sample_every, prober
        self.selector = selectors.DefaultSelector()
        self.clients: dict[int, mqtt.Client] = {}
        self.topics: dict[int, str] = {}
        self.device_ids: dict[int, str] = {}
        self.in_flight: dict[tuple[int, int], float] = {}  # (device index, mid) -> published
        self.ack_latencies: list[float] = []
        self.ack_times: list[float] = []  # when each acknowledged message was published
        self.published = self.failed = self.connected = 0
        self.last_publish = 0.0
        self.errors: list[str] = []
        self.t0 = 0.0
        self.go = threading.Event()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.rng = random.Random(len(fleet))

    # connection ----------------------------------------------------------------------
    def _client(self, index: int, username: str, secret: str) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"bench-{index}",
            protocol=mqtt.MQTTv311,
            userdata=index,
        )
        client.username_pw_set(username, secret)

        def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if reason.is_failure:
                self.errors.append(f"connect {username}: {reason}")
            else:
                self.connected += 1

        def on_publish(_c: Any, device: int, mid: int, _r: Any, _p: Any) -> None:
            started = self.in_flight.pop((device, mid), None)
            if started is not None:
                self.ack_latencies.append(time.monotonic() - started)
                self.ack_times.append(started - self.t0)

        client.on_connect = on_connect
        client.on_publish = on_publish
        return client

    def connect_all(self, chunk: int = 50) -> None:
        for start in range(0, len(self.fleet), chunk):
            for index, device_id, username, secret in self.fleet[start : start + chunk]:
                client = self._client(index, username, secret)
                client.connect(self.host, self.port, keepalive=300)
                sock = client.socket()
                assert sock is not None
                self.selector.register(sock, selectors.EVENT_READ, client)
                self.clients[index] = client
                self.topics[index] = f"sensors/{username}/telemetry"
                self.device_ids[index] = device_id
            deadline = time.monotonic() + 60
            while self.connected + len(self.errors) < len(self.clients):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {self.connected} of {len(self.clients)} connected")
                self._pump(0.05)
            if self.errors:
                raise RuntimeError(self.errors[0])

    def _pump(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            client: mqtt.Client = key.data
            rc = client.loop_read(100)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                self.errors.append(f"read: {mqtt.error_string(rc)}")
                self.selector.unregister(key.fileobj)

    # run ------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self.connect_all()
        except Exception as error:  # reported by the main thread
            self.errors.append(f"{type(error).__name__}: {error}")
            self.ready.set()
            return
        self.ready.set()
        self.go.wait()
        unwritten: set[mqtt.Client] = set()
        last_misc = time.monotonic()
        position, schedule = 0, self.schedule
        while not self.stop.is_set():
            now = time.monotonic()
            while position < len(schedule) and self.t0 + schedule[position][0] <= now:
                _, device, number = schedule[position]
                position += 1
                self._publish(device, number, unwritten)
            for client in list(unwritten):
                client.loop_write()
                if not client.want_write():
                    unwritten.discard(client)
            if now - last_misc > 5:
                last_misc = now
                for client in self.clients.values():
                    client.loop_misc()
            due = self.t0 + schedule[position][0] if position < len(schedule) else now + 0.05
            self._pump(max(0.0, min(due - time.monotonic(), 0.05)))
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                client.disconnect()

    def _publish(self, device: int, number: int, unwritten: set[mqtt.Client]) -> None:
        client = self.clients[device]
        ts_ms = int(time.time() * 1000)
        payload = machine_payload(self.rng, ts_ms, number)
        published = time.monotonic()
        info = client.publish(self.topics[device], payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self.failed += 1
            return
        self.in_flight[(device, info.mid)] = published
        self.published += 1
        self.last_publish = published
        if client.want_write():
            unwritten.add(client)
        if number % self.sample_every == 0:
            self.prober.probe(self.device_ids[device], ts_ms, published)


# --- the hub ----------------------------------------------------------------------------


def hub_metrics(base: str) -> str:
    async def get() -> str:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{base}/metrics") as response,
        ):
            return await response.text()

    return asyncio.run(get())


def histogram_quantile(text: str, name: str, q: float) -> tuple[float, int]:
    """(quantile, observations) of a Prometheus histogram, interpolated in its bucket."""
    buckets = []
    pattern = re.compile(rf'^{name}_bucket{{le="([^"]+)"}} ([0-9.e+]+)$', re.MULTILINE)
    for bound, count in pattern.findall(text):
        buckets.append((float(bound), float(count)))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    if not total:
        return float("nan"), 0
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower, int(total)  # beyond the last finite bucket: its bound
            return lower + (bound - lower) * (rank - below) / (cumulative - below), int(total)
        lower, below = bound, cumulative
    return lower, int(total)


def metric_value(text: str, pattern: str) -> float:
    found = re.search(rf"^{pattern} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def readings_handled(base: str) -> int:
    """Readings the hub's pipeline has finished with, whatever the outcome."""
    text = hub_metrics(base)
    found = re.findall(r'^smdh_ingest_readings_total\{outcome="[^"]+"\} ([0-9.e+]+)$', text, re.M)
    return int(sum(float(value) for value in found))


async def login(base: str, users: int) -> list[str]:
    tokens = []
    async with aiohttp.ClientSession() as session:
        for n in range(users):
            body = {"tenant": TENANT, "username": f"viewer-{n}", "password": VIEWER_PASSWORD}
            async with session.post(f"{base}/v1/auth/token", json=body) as response:
                if response.status != 200:
                    raise RuntimeError(f"login: {response.status} {await response.text()}")
                tokens.append((await response.json())["access_token"])
    return tokens


async def stored_counts(
    base: str, tokens: list[str], device_ids: list[str], start: float, end: float
) -> dict[str, int]:
    counts: dict[str, int] = {}
    todo = list(device_ids)

    async def worker(token: str, session: aiohttp.ClientSession) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        while todo:
            device_id = todo.pop()
            params = {"from": f"{start:.3f}", "to": f"{end:.3f}", "limit": "10000",
                      "measure": "cycle_count"}  # fmt: skip
            while True:
                url = f"{base}/v1/devices/{device_id}/readings"
                async with session.get(url, params=params, headers=headers) as response:
                    if response.status == 429:
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                        continue
                    if response.status != 200:
                        raise RuntimeError(f"readings: {response.status} {await response.text()}")
                    counts[device_id] = len((await response.json())["items"])
                    break

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(t, session) for t in tokens))
    return counts


def start_hub(
    folder: str,
    http_port: int,
    mqtt_port: int,
    profile: str | None = None,
    external_url: str | None = None,
) -> subprocess.Popen[bytes]:
    """The hub with its embedded broker on ``mqtt_port``, or subscribed to ``external_url``."""
    log = Path(folder) / "hub.out"
    profiler = ["-m", "cProfile", "-o", profile] if profile else []
    broker = ["--mqtt", external_url] if external_url else [
        "--mqtt-listen", f"127.0.0.1:{mqtt_port}"]  # fmt: skip
    command = [
        sys.executable, *profiler, "-m", "smdh.entrypoints.cli", "--data-dir", folder,
        "serve", "--demo", "--no-simulator", "--http", f"127.0.0.1:{http_port}", *broker,
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603 - our interpreter, fixed argv


def wait_ready(hub: subprocess.Popen[bytes], folder: str, timeout: float = 120) -> None:
    demo = Path(folder) / "demo.json"
    deadline = time.monotonic() + timeout
    while not demo.exists():
        if hub.poll() is not None:
            raise RuntimeError(f"hub exited {hub.returncode}: {hub_output(folder)}")
        if time.monotonic() > deadline:
            raise RuntimeError("hub did not write demo.json in time")
        time.sleep(0.1)


def hub_output(folder: str) -> str:
    path = Path(folder) / "hub.out"
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def stop_hub(hub: subprocess.Popen[bytes], timeout: float = 60) -> tuple[int, float]:
    """SIGINT, then wait; (exit code, seconds to exit). Killed if it does not exit."""
    began = time.monotonic()
    if hub.poll() is None:
        hub.send_signal(signal.SIGINT)
        try:
            hub.wait(timeout)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()
    return hub.returncode, time.monotonic() - began


def start_external_broker(
    folder: str, fleet: list[tuple[str, str, str]], port: int, total: int
) -> tuple[subprocess.Popen[bytes], str]:
    """mosquitto on ``port`` knowing every device and the service user; (process, hub URL)."""
    binary = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
    if binary is None:
        raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
    service_password = secrets.token_urlsafe(24)
    users = [(username, secret) for _, username, secret in fleet]
    config = mosquitto.write_config(
        Path(folder) / "mosquitto",
        port,
        service_username=SERVICE_USER,
        users=[*users, (SERVICE_USER, service_password)],
        max_queued_messages=max(100_000, total),  # the whole run may queue: nothing dropped
    )
    process = mosquitto.start_mosquitto(config, port, binary=binary)
    return process, f"mqtt://{SERVICE_USER}:{service_password}@127.0.0.1:{port}"


def broker_log(folder: str) -> str:
    path = Path(folder) / "mosquitto" / "mosquitto.log"
    return path.read_text(errors="replace") if path.exists() else ""


# --- main -------------------------------------------------------------------------------


@dataclass
class Figures:
    """What one run measured (filled in as it goes)."""

    total: int = 0
    idle_rss: int = 0
    connected_rss: int = 0
    peak_rss: int = 0
    published: int = 0
    failed: int = 0
    span: float = 0.0
    acks: list[float] = field(default_factory=list)
    ack_times: list[float] = field(default_factory=list)
    probes: list[float] = field(default_factory=list)
    probe_note: str = ""
    metrics: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    hub_cpu: float = 0.0
    own_cpu: float = 0.0
    broker_idle_rss: int = 0  # external broker (mosquitto) only, from here on
    broker_connected_rss: int = 0
    broker_peak_rss: int = 0
    broker_cpu: float = 0.0
    broker_exit: int | None = None
    broker_drops: list[str] = field(default_factory=list)
    exit_code: int | None = None
    exit_s: float = 0.0
    cpu_window: float = 0.0  # what the CPU figures are a share of: the span, or until drained
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (s, readings handled)
    drained_s: float | None = None  # after the last publish, when every message was handled


def machine_line() -> str:
    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return (
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs ({cpu}), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def make_publishers(
    args: argparse.Namespace,
    fleet: list[tuple[str, str, str]],
    total: int,
    mqtt_port: int,
    prober: Prober,
) -> list[Publisher]:
    """Message m is due at m / rate from device m % devices; devices split over threads."""
    schedules: list[list[tuple[float, int, int]]] = [[] for _ in range(args.threads)]
    for m in range(total):
        device = m % args.devices
        schedules[device % args.threads].append((m / args.rate, device, m))
    indexed = [(n, *entry) for n, entry in enumerate(fleet)]
    return [
        Publisher(
            [d for d in indexed if d[0] % args.threads == k],
            schedules[k],
            "127.0.0.1",
            mqtt_port,
            args.sample_every,
            prober,
        )
        for k in range(args.threads)
    ]


def drive(
    args: argparse.Namespace,
    hub: subprocess.Popen[bytes],
    fleet: list[tuple[str, str, str]],
    base: str,
    mqtt_port: int,
    sampler: RssSampler,
    figures: Figures,
    broker_sampler: RssSampler | None = None,
) -> None:
    """Connect the fleet, publish for the run, wait for the acknowledgements, count."""
    tokens = asyncio.run(login(base, args.viewers))
    prober = Prober(base, tokens, args.poll_ms / 1000)
    prober.start()
    publishers = make_publishers(args, fleet, figures.total, mqtt_port, prober)
    try:
        began = time.monotonic()
        for publisher in publishers:
            publisher.start()
        for publisher in publishers:
            publisher.ready.wait()
            if publisher.errors:
                raise RuntimeError(f"publisher: {publisher.errors[0]}")
        figures.connected_rss = sampler.sample()
        if broker_sampler is not None:
            figures.broker_connected_rss = broker_sampler.sample()
        print(
            f"{sum(p.connected for p in publishers):,} MQTT clients connected in "
            f"{time.monotonic() - began:.1f} s",
            flush=True,
        )
        hub_process = psutil.Process(hub.pid)
        cpu_before = hub_process.cpu_times()
        broker_before = broker_sampler.process.cpu_times() if broker_sampler else None
        own_before = resource.getrusage(resource.RUSAGE_SELF)
        epoch_start = publish(args, publishers, base, figures, external=broker_sampler is not None)
        cpu_after = hub_process.cpu_times()
        if broker_sampler is not None and broker_before is not None:
            broker_after = broker_sampler.process.cpu_times()
            figures.broker_cpu = sum(broker_after[:2]) - sum(broker_before[:2])
        own_after = resource.getrusage(resource.RUSAGE_SELF)
        figures.hub_cpu = sum(cpu_after[:2]) - sum(cpu_before[:2])
        figures.own_cpu = (own_after.ru_utime + own_after.ru_stime) - (
            own_before.ru_utime + own_before.ru_stime
        )
    finally:
        for publisher in publishers:
            publisher.stop.set()
        for publisher in publishers:
            publisher.join(30)
        prober.finish()
    figures.published = sum(p.published for p in publishers)
    figures.failed = sum(p.failed for p in publishers)
    figures.acks = [x for p in publishers for x in p.ack_latencies]
    figures.ack_times = [x for p in publishers for x in p.ack_times]
    figures.probes = prober.latencies
    figures.probe_note = (
        f"timeouts {prober.timeouts}, 429s {prober.throttled}, polls {prober.polls:,}"
    )
    figures.metrics = hub_metrics(base)
    figures.counts = asyncio.run(
        stored_counts(base, tokens, [d for d, _, _ in fleet], epoch_start - 5, time.time() + 1)
    )


def publish(
    args: argparse.Namespace,
    publishers: list[Publisher],
    base: str,
    figures: Figures,
    *,
    external: bool,
) -> float:
    """Let the publishers go, wait for the last PUBACKs (and, with an external broker, for
    the hub to handle what the broker acknowledged); the epoch time of the start."""
    start, epoch_start = time.monotonic() + 0.5, time.time() + 0.5
    for publisher in publishers:
        publisher.t0 = start
        publisher.go.set()
    if not external:
        time.sleep(max(0.0, start + args.seconds - time.monotonic()))
    else:  # the broker's PUBACKs say nothing about the hub: follow its progress
        while (left := start + args.seconds - time.monotonic()) > 0:
            time.sleep(min(5.0, left))
            figures.timeline.append((time.monotonic() - start, readings_handled(base)))
    deadline = time.monotonic() + 30  # then wait for the last PUBACKs
    while time.monotonic() < deadline and (
        sum(p.published for p in publishers) < figures.total or any(p.in_flight for p in publishers)
    ):
        time.sleep(0.05)
    figures.span = max(p.last_publish for p in publishers) - start
    figures.cpu_window = figures.span
    if external:
        drain(args, base, start, sum(p.published for p in publishers), figures)
    return epoch_start


def drain(
    args: argparse.Namespace, base: str, start: float, published: int, figures: Figures
) -> None:
    """External broker: wait (up to ``--drain-s``) until the hub has handled every message."""
    deadline = time.monotonic() + args.drain_s
    while True:
        handled = readings_handled(base)
        now = time.monotonic()
        if handled >= published or now > deadline:
            break
        if not figures.timeline or now - start >= figures.timeline[-1][0] + 5:
            figures.timeline.append((now - start, handled))
        time.sleep(0.2)
    if not figures.timeline or figures.timeline[-1][1] != handled:
        figures.timeline.append((now - start, handled))
    figures.cpu_window = max(figures.span, now - start)
    if handled >= published:
        figures.drained_s = now - start - figures.span


def by_window(times: list[float], latencies: list[float], span: float, parts: int = 6) -> str:
    """p99 of the latencies of messages published in each of ``parts`` equal windows, so a
    start-up transient shows apart from the steady state."""
    width = span / parts
    windows: list[list[float]] = [[] for _ in range(parts)]
    for at, latency in zip(times, latencies, strict=True):
        windows[min(parts - 1, max(0, int(at / width)))].append(latency)
    return ", ".join(
        f"{n * width:.0f}-{(n + 1) * width:.0f} s p99 {percentile(w, 0.99) * 1000:.0f} ms"
        for n, w in enumerate(windows)
        if w
    )


def report(args: argparse.Namespace, f: Figures) -> None:
    accepted = metric_value(f.metrics, r'smdh_ingest_readings_total\{outcome="accepted"\}')
    h50, observed = histogram_quantile(f.metrics, "smdh_ingest_latency_seconds", 0.5)
    h99, _ = histogram_quantile(f.metrics, "smdh_ingest_latency_seconds", 0.99)
    b50, batches = histogram_quantile(f.metrics, "smdh_ingest_batch_seconds", 0.5)
    b99, _ = histogram_quantile(f.metrics, "smdh_ingest_batch_seconds", 0.99)
    mib = 2**20
    external = args.broker != "embedded"
    acked = "broker receipt, not durable" if external else "durable"
    print(
        f"published {f.published:,} of {f.total:,} messages (QoS 1, 1 sample each) in "
        f"{f.span:.1f} s: {f.published / f.span:,.0f} msg/s from {args.devices:,} clients; "
        f"publish failures {f.failed}"
    )
    print(f"acknowledged (PUBACK) {len(f.acks):,}; publish -> PUBACK ({acked}): {ms(f.acks)}")
    print(f"  by publish time: {by_window(f.ack_times, f.acks, f.span)}")
    print(
        f"publish -> queryable (GET /latest, every {args.sample_every}th message, polled "
        f"every {args.poll_ms:g} ms): {ms(f.probes)}; {f.probe_note}"
    )
    print(
        f"hub smdh_ingest_latency_seconds (submission -> durable, {observed:,} "
        f"submissions): p50 {h50 * 1000:.1f} ms, p99 {h99 * 1000:.1f} ms; "
        f"smdh_ingest_batch_seconds ({batches:,} batches): p50 {b50 * 1000:.1f} ms, "
        f"p99 {b99 * 1000:.1f} ms"
    )
    print(
        f"stored: metrics accepted {accepted:,.0f}; GET /readings over {len(f.counts):,} "
        f"devices: {sum(f.counts.values()):,} samples (expected {f.published:,})"
    )
    print(
        f"hub peak RSS {f.peak_rss / mib:.0f} MiB (idle {f.idle_rss / mib:.0f} MiB, "
        f"clients connected {f.connected_rss / mib:.0f} MiB); hub CPU "
        f"{f.hub_cpu / f.cpu_window * 100:.0f} % of one core, benchmark process CPU "
        f"{f.own_cpu / f.cpu_window * 100:.0f} % of one core"
        + (f" (over {f.cpu_window:.1f} s, until drained)" if f.cpu_window > f.span + 0.5 else "")
    )
    if external:
        drained = (
            f"{f.drained_s:.1f} s after the last publish"
            if f.drained_s is not None
            else f"NOT within {args.drain_s:g} s after the last publish"
        )
        print(f"hub handled every published message: {drained}")
        print(
            "  readings handled by the hub since the start: "
            + ", ".join(f"{at:.0f} s {count:,}" for at, count in f.timeline)
        )
        print(
            f"mosquitto peak RSS {f.broker_peak_rss / mib:.1f} MiB (idle "
            f"{f.broker_idle_rss / mib:.1f} MiB, clients connected "
            f"{f.broker_connected_rss / mib:.1f} MiB); mosquitto CPU "
            f"{f.broker_cpu / f.cpu_window * 100:.0f} % of one core; hub + mosquitto peak RSS "
            f"{(f.peak_rss + f.broker_peak_rss) / mib:.0f} MiB (sum of the two peaks)"
        )
        drops = "; ".join(f.broker_drops[:3]) if f.broker_drops else "none"
        print(f"mosquitto log lines about dropped messages: {len(f.broker_drops)} ({drops})")
    print(f"hub stopped with SIGINT: exit code {f.exit_code} after {f.exit_s:.1f} s")
    if external:
        print(f"mosquitto stopped with SIGTERM: exit code {f.broker_exit}")


def run_hub(
    args: argparse.Namespace,
    folder: str,
    fleet: list[tuple[str, str, str]],
    ports: tuple[int, int],  # (HTTP, MQTT)
    figures: Figures,
    broker_sampler: RssSampler | None,
    external_url: str | None,
) -> None:
    """Start the hub, drive the run against it, stop it with SIGINT."""
    http_port, mqtt_port = ports
    hub = start_hub(folder, http_port, mqtt_port, args.profile_hub, external_url)
    sampler: RssSampler | None = None
    try:
        began = time.monotonic()
        wait_ready(hub, folder)
        print(f"hub ready in {time.monotonic() - began:.1f} s (pid {hub.pid})", flush=True)
        sampler = RssSampler(hub.pid)
        figures.idle_rss = sampler.sample()
        sampler.start()
        base = f"http://127.0.0.1:{http_port}"
        drive(args, hub, fleet, base, mqtt_port, sampler, figures, broker_sampler)
    finally:
        figures.exit_code, figures.exit_s = stop_hub(hub)
        if sampler is not None:
            sampler.stopped.set()
            figures.peak_rss = sampler.peak


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--broker", choices=("embedded", "mosquitto"), default="embedded",
                        help="the hub's embedded amqtt broker, or an external mosquitto "
                        "(serve --mqtt URL)")  # fmt: skip
    parser.add_argument("--drain-s", type=float, default=120.0,
                        help="mosquitto: how long to wait after the run for the hub to handle "
                        "what the broker acknowledged")  # fmt: skip
    parser.add_argument("--devices", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=1500.0, help="messages/s in total")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=2, help="publisher threads")
    parser.add_argument("--sample-every", type=int, default=100, help="probe every Nth message")
    parser.add_argument("--poll-ms", type=float, default=10.0, help="probe poll interval")
    parser.add_argument("--viewers", type=int, default=4, help="users the probes rotate over")
    parser.add_argument("--profile-hub", metavar="FILE",
                        help="run the hub under cProfile (its main thread: event loop, broker, "
                        "HTTP) and write the stats to FILE")  # fmt: skip
    args = parser.parse_args(argv)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 4 * args.devices + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # inherited by the hub
    print(machine_line(), flush=True)
    figures = Figures(total=int(args.rate * args.seconds))
    with tempfile.TemporaryDirectory(prefix="smdh-mqtt-bench-") as folder:
        began = time.monotonic()
        fleet = register(folder, args.devices, args.viewers)
        print(
            f"registered {len(fleet):,} machine devices and {args.viewers} viewers in-process "
            f"in {time.monotonic() - began:.1f} s",
            flush=True,
        )
        http_port, mqtt_port = free_port(), free_port()
        broker: subprocess.Popen[bytes] | None = None
        broker_sampler: RssSampler | None = None
        try:
            external_url = None
            if args.broker == "mosquitto":
                broker, external_url = start_external_broker(
                    folder, fleet, mqtt_port, figures.total
                )
                broker_sampler = RssSampler(broker.pid)
                figures.broker_idle_rss = broker_sampler.sample()
                broker_sampler.start()
                print(f"mosquitto listening on 127.0.0.1:{mqtt_port} (pid {broker.pid})")
            run_hub(
                args, folder, fleet, (http_port, mqtt_port), figures, broker_sampler, external_url
            )
        finally:
            if broker is not None:
                mosquitto.stop_mosquitto(broker)
                figures.broker_exit = broker.returncode
            if broker_sampler is not None:
                broker_sampler.stopped.set()
                figures.broker_peak_rss = broker_sampler.peak
        if broker is not None:
            figures.broker_drops = [
                line for line in broker_log(folder).splitlines() if "dropp" in line.lower()
            ]
        report(args, figures)
        if figures.exit_code != 0:
            print(hub_output(folder))
        return 0 if figures.exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
