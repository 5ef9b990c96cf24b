"""Alert latency: MQTT publish -> webhook received, with 10,000 rules over 30 tenants.

The real hub runs as a subprocess (``python -m smdh.entrypoints.cli --data-dir TMP serve
--demo --no-simulator``). Before it starts, the same application commands the CLI and the
API run set up, in-process: 30 tenants ``t01``..``t30`` (2 sites, ``--devices-per-tenant``
machine devices each), 10,000 rules in all (defaults, one *probe* rule ``temperature_c gt
120`` with channel ``webhook``, and ``bench_alert_evaluator``'s mix of random rules, with
thresholds above anything sent), and per tenant a webhook to this script's aiohttp
receiver (``ConfigureNotificationChannels``, what ``PUT /v1/notification-channels`` runs).
Devices publish with their own credentials over MQTT, QoS 1, 1 Hz (``--rate`` in all);
every ``--probe-every``-th message carries 150 °C (raises the probe rule; the device's next
message clears it). The receiver verifies each signature and records, per raised probe,
publish call -> POST received, split at the alert's ``occurred_at``. Also: PUBACK latency,
lost probes, clears, hub CPU and peak RSS. See docs/benchmarks.md.

    .venv/bin/python benchmarks/bench_alert_latency.py --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import paho.mqtt.client as mqtt
import psutil  # type: ignore[import-untyped]  # no stubs in the venv
from aiohttp import web
from bench_mqtt_end_to_end import (
    STATES,
    Publisher,
    RssSampler,
    free_port,
    machine_line,
    ms,
    start_hub,
    stop_hub,
    wait_ready,
)

from smdh.adapters.embedded.notifiers import verify_signature
from smdh.application import commands as c
from smdh.application.alert_commands import DefineAlertRuleOfKind, EnableDefaultRules
from smdh.application.channel_commands import ConfigureNotificationChannels, WebhookSpec
from smdh.application.principals import Principal
from smdh.domain.alerts.rules import RuleScope
from smdh.entrypoints.container import build_container

TENANTS = 30
RULES = 10_000
SITES = ("plant-a", "plant-b")
OPERATOR = Principal.operator("bench")
SECRET = "bench-webhook-secret-0123456789"  # noqa: S105 - a throwaway local secret
PROBE_RULE = "probe-hot"
PROBE_VALUE = 150.0
Device = tuple[str, str, str, str]  # tenant, device id, username, secret
OTHER_KINDS: list[dict[str, Any]] = [
    {"duration_s": 60},
    {"kind": "rate_of_change", "window_s": 30},
    {"kind": "anomaly", "warmup": 30, "z_threshold": 4.0},
    {"kind": "window_average", "window_s": 600},
]


def tenant_ids() -> list[str]:
    return [f"t{n:02d}" for n in range(1, TENANTS + 1)]


def rule_commands(tenant: str, devices: Sequence[str], count: int, rng: random.Random) -> list[Any]:
    """``count`` random rules of one tenant (besides its defaults and its probe rule)."""
    made: list[Any] = []
    for n in range(count):
        device = rng.choice(devices)
        site = SITES[devices.index(device) % 2]
        measure = rng.choice(("temperature_c", "power_watts"))
        threshold = rng.uniform(160, 200) if measure == "temperature_c" else rng.uniform(2e4, 2.2e4)
        roll = rng.random()
        fields: dict[str, Any] = {}
        if roll < 0.60:
            scope = RuleScope(sensor_type="machine", device_id=device)  # type: ignore[arg-type]
        elif roll < 0.80:
            scope = RuleScope(sensor_type="machine", site_id=site)  # type: ignore[arg-type]
        elif roll < 0.85:
            scope = RuleScope(sensor_type="machine")
        else:
            scope = RuleScope(sensor_type="machine", device_id=device)  # type: ignore[arg-type]
            measure, threshold = "power_watts", 25_000.0  # the probes leave power alone
            fields = rng.choice(OTHER_KINDS)
        made.append(DefineAlertRuleOfKind(
            principal=OPERATOR, tenant_id=tenant, rule_id=f"r{n:04d}", name=f"r{n}", scope=scope,
            measure=measure, comparison="gt", threshold=threshold, **fields,
        ))  # fmt: skip
    return made


def register(
    folder: str, per_tenant: int, hook_base: str, total_rules: int = RULES
) -> tuple[list[Device], int]:
    """Tenants, sites, devices, rules and webhooks; returns (devices, rules defined)."""
    container = build_container("local", folder)
    app = container.application()
    rng = random.Random(5)
    fleet: list[Device] = []
    rules = 0
    per_rules = total_rules // TENANTS
    for t_index, tenant in enumerate(tenant_ids()):
        app.execute(
            c.RegisterTenant(
                principal=OPERATOR, tenant_id=tenant, name=f"Tenant {tenant}",
                max_devices=2000, max_readings_per_second=100_000,
            )
        )  # fmt: skip
        for site in SITES:
            app.execute(
                c.RegisterSite(
                    principal=OPERATOR, tenant_id=tenant, site_id=site, name=site, timezone="UTC"
                )
            )
        devices = [f"m{n:03d}" for n in range(per_tenant)]
        for n, device_id in enumerate(devices):
            credentials = app.execute(
                c.RegisterDevice(
                    principal=OPERATOR, tenant_id=tenant, device_id=device_id,
                    site_id=SITES[n % 2], sensor_type="machine", name=device_id,
                )
            )  # fmt: skip
            fleet.append((tenant, device_id, credentials.username, credentials.secret))
        defaults = len(app.execute(EnableDefaultRules(principal=OPERATOR, tenant_id=tenant)))
        app.execute(
            DefineAlertRuleOfKind(
                principal=OPERATOR, tenant_id=tenant, rule_id=PROBE_RULE, name="Probe: hot",
                scope=RuleScope(sensor_type="machine"), measure="temperature_c",
                comparison="gt", threshold=120.0, severity="critical", channels=("webhook",),
            )
        )  # fmt: skip
        wanted = max(0, per_rules + (1 if t_index < total_rules % TENANTS else 0) - defaults - 1)
        for command in rule_commands(tenant, devices, wanted, rng):
            app.execute(command)
        rules += defaults + 1 + wanted
        app.execute(
            ConfigureNotificationChannels(
                principal=OPERATOR, tenant_id=tenant,
                webhooks=(WebhookSpec(f"{hook_base}/hook/{tenant}", SECRET),),
            )
        )  # fmt: skip
    for provider in (container.event_store, container.credentials):
        provider().close()
    return fleet, rules


class Receiver:
    """An aiohttp server in its own thread; matches raised probes to their publish time."""

    def __init__(self, port: int) -> None:
        self.port = port
        # (tenant, device) -> publish time (monotonic, epoch)
        self.probes: dict[tuple[str, str], tuple[float, float]] = {}
        self.latencies: list[float] = []
        self.to_raised: list[float] = []  # publish -> the alert's occurred_at (hub clock)
        self.to_sent: list[float] = []  # occurred_at -> received
        self.raised = self.cleared = self.other = self.bad_signatures = self.unmatched = 0
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None

    def expect(self, tenant: str, device: str, published: float) -> None:
        with self.lock:
            self.probes[(tenant, device)] = (published, time.time())

    async def _handle(self, request: web.Request) -> web.Response:
        received, received_epoch = time.monotonic(), time.time()
        body = await request.read()
        tenant, headers = request.match_info["tenant"], request.headers
        stamp, signature = headers.get("X-SMDH-Timestamp", ""), headers.get("X-SMDH-Signature", "")
        if not verify_signature(SECRET, stamp, body, signature):
            self.bad_signatures += 1
            return web.Response(status=401)
        doc = json.loads(body)
        kind = doc.get("type")
        if kind == "alert.raised" and doc.get("rule_id") == PROBE_RULE:
            self.raised += 1
            with self.lock:
                published = self.probes.pop((tenant, doc.get("device_id", "")), None)
            if published is None:
                self.unmatched += 1
            else:
                self.latencies.append(received - published[0])
                raised = datetime.fromisoformat(doc["occurred_at"]).timestamp()
                self.to_raised.append(raised - published[1])
                self.to_sent.append(received_epoch - raised)
        elif kind == "alert.cleared":
            self.cleared += 1
        else:
            self.other += 1
        return web.Response(status=204)

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self.loop).result()

    async def _open(self) -> None:
        app = web.Application()
        app.router.add_post("/hook/{tenant}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class ProbePublisher(Publisher):
    """``bench_mqtt_end_to_end.Publisher`` whose every ``probe_every``-th message is hot."""

    def __init__(self, *args: Any, receiver: Receiver, tenants: dict[int, str],
                 probe_every: int) -> None:  # fmt: skip
        super().__init__(*args)
        self.receiver, self.tenants, self.probe_every = receiver, tenants, probe_every
        self.probes_sent = 0

    def _publish(self, device: int, number: int, unwritten: set[Any]) -> None:
        client = self.clients[device]
        r = self.rng.random
        hot = number % self.probe_every == 0
        payload = json.dumps({
            "timestamp": int(time.time() * 1000), "power_watts": round(r() * 20_000, 1),
            "state": STATES[int(r() * 5)],
            "temperature_c": PROBE_VALUE if hot else round(20 + r() * 60, 2),
            "cycle_count": number * 2, "scrap_count": number // 100,
        }).encode()  # fmt: skip
        published = time.monotonic()
        if hot:
            self.receiver.expect(self.tenants[device], self.device_ids[device], published)
        info = client.publish(self.topics[device], payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self.failed += 1
            return
        self.probes_sent += hot
        self.in_flight[(device, info.mid)] = published
        self.published += 1
        self.last_publish = published
        if client.want_write():
            unwritten.add(client)


def make_publishers(
    args: argparse.Namespace, fleet: list[Device], total: int, mqtt_port: int, rx: Receiver
) -> list[ProbePublisher]:
    devices = len(fleet)
    schedules: list[list[tuple[float, int, int]]] = [[] for _ in range(args.threads)]
    for m in range(total):
        device = m % devices
        schedules[device % args.threads].append((m / args.rate, device, m))
    indexed = [(n, d[1], d[2], d[3]) for n, d in enumerate(fleet)]
    tenants = {n: d[0] for n, d in enumerate(fleet)}
    return [
        ProbePublisher(
            [d for d in indexed if d[0] % args.threads == k], schedules[k], "127.0.0.1",
            mqtt_port, 10**12, SimpleNamespace(probe=lambda *_: None), receiver=rx, tenants=tenants,
            probe_every=args.probe_every,
        )
        for k in range(args.threads)
    ]  # fmt: skip


def drive(
    args: argparse.Namespace, fleet: list[Device], mqtt_port: int, rx: Receiver, hub_pid: int
) -> dict[str, Any]:
    total = int(args.rate * args.seconds)
    publishers = make_publishers(args, fleet, total, mqtt_port, rx)
    try:
        began = time.monotonic()
        for publisher in publishers:
            publisher.start()
        for publisher in publishers:
            publisher.ready.wait()
            if publisher.errors:
                raise RuntimeError(f"publisher: {publisher.errors[0]}")
        print(f"{len(fleet):,} MQTT clients connected in {time.monotonic() - began:.1f} s",
              flush=True)  # fmt: skip
        hub_process = psutil.Process(hub_pid)
        cpu_before = sum(hub_process.cpu_times()[:2])
        start = time.monotonic() + 0.5
        for publisher in publishers:
            publisher.t0 = start
            publisher.go.set()
        time.sleep(max(0.0, start + args.seconds - time.monotonic()))
        deadline = time.monotonic() + 30  # the last PUBACKs, then the last webhooks
        while time.monotonic() < deadline and (
            sum(p.published for p in publishers) < total or any(p.in_flight for p in publishers)
        ):
            time.sleep(0.05)
        span = max(p.last_publish for p in publishers) - start
        hub_cpu = sum(hub_process.cpu_times()[:2]) - cpu_before
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and rx.probes:
            time.sleep(0.1)
        time.sleep(2)  # the clears of the last probes
    finally:
        for publisher in publishers:
            publisher.stop.set()
        for publisher in publishers:
            publisher.join(30)
    return {
        "published": sum(p.published for p in publishers), "span": span, "total": total,
        "failed": sum(p.failed for p in publishers), "hub_cpu": hub_cpu,
        "probes": sum(p.probes_sent for p in publishers),
        "acks": [x for p in publishers for x in p.ack_latencies],
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--devices-per-tenant", type=int, default=50)
    parser.add_argument("--rate", type=float, default=1500.0, help="messages/s in total")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=2, help="publisher threads")
    parser.add_argument("--rules", type=int, default=RULES, help="rules over all tenants")
    parser.add_argument("--probe-every", type=int, default=149, help="every Nth message is hot")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 4 * TENANTS * args.devices_per_tenant + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    print(machine_line(), flush=True)
    devices = TENANTS * args.devices_per_tenant
    while math.gcd(args.probe_every, devices) != 1:  # else the same few devices stay hot
        args.probe_every += 1
    rx = Receiver(free_port())
    with tempfile.TemporaryDirectory(prefix="smdh-alert-bench-") as folder:
        began = time.monotonic()
        fleet, rules = register(
            folder, args.devices_per_tenant, f"http://127.0.0.1:{rx.port}", args.rules
        )
        print(
            f"set up in-process in {time.monotonic() - began:.1f} s: {TENANTS} tenants, "
            f"{len(fleet):,} devices, {rules:,} rules, one webhook per tenant",
            flush=True,
        )
        rx.start()
        http_port, mqtt_port = free_port(), free_port()
        hub = start_hub(folder, http_port, mqtt_port)
        sampler: RssSampler | None = None
        try:
            began = time.monotonic()
            wait_ready(hub, folder)
            print(f"hub ready in {time.monotonic() - began:.1f} s (pid {hub.pid})", flush=True)
            sampler = RssSampler(hub.pid)
            idle = sampler.sample()
            sampler.start()
            run = drive(args, fleet, mqtt_port, rx, hub.pid)
        finally:
            code, _ = stop_hub(hub)
            rx.stop()
            if sampler is not None:
                sampler.stopped.set()
        mib = 2**20
        print(
            f"published {run['published']:,} of {run['total']:,} messages in "
            f"{run['span']:.1f} s ({run['published'] / run['span']:,.0f} msg/s, failures "
            f"{run['failed']}); probes (temperature {PROBE_VALUE:g} °C, every "
            f"{args.probe_every}th message) {run['probes']:,}"
        )
        print(f"publish -> PUBACK (stored, every message): {ms(run['acks'])}")
        print(f"publish -> webhook received (alert.raised of the probe rule): {ms(rx.latencies)}")
        print(f"  of which publish -> raised (occurred_at): {ms(rx.to_raised)}\n"
              f"  and raised -> webhook received: {ms(rx.to_sent)}")  # fmt: skip
        print(
            f"probe raises received {rx.raised:,}, unmatched {rx.unmatched}, never received "
            f"{len(rx.probes)}; clears received {rx.cleared:,}; other {rx.other}; bad "
            f"signatures {rx.bad_signatures}"
        )
        print(
            f"hub peak RSS {(sampler.peak if sampler else 0) / mib:.0f} MiB (idle "
            f"{idle / mib:.0f} MiB); hub CPU {run['hub_cpu'] / run['span'] * 100:.0f} % of one "
            f"core; hub exit code {code}"
        )
        return 0 if code == 0 and not rx.bad_signatures else 1


if __name__ == "__main__":
    sys.exit(main())
