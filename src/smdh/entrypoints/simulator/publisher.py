"""Running the device models against the clock and publishing what they produce.

One asyncio loop, one thread; the transports (MQTT per device, HTTP ingest) are in
``transports``.
Simulated time never runs ahead of the clock (the hub rejects timestamps > 15 min ahead): at
``speed`` > 1 the run starts in the past (``duration * (speed - 1)``, or a day). Telemetry
goes every ``batch_seconds`` of wall time (1 sample: an object, more: ``{"samples": [...]}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from collections.abc import Callable, Sequence
from typing import Literal

from paho.mqtt.properties import Properties

from smdh.domain.sensors.base import MAX_SAMPLES_PER_PAYLOAD
from smdh.entrypoints.simulator import DEFAULT_MQTT_URL
from smdh.entrypoints.simulator.models import DAY_S, DeviceModel, DeviceRef, Sample, build_models
from smdh.entrypoints.simulator.transports import (
    HttpTransport,
    MqttTransport,
    SimDevice,
    Stats,
    Transport,
    topic_for,
)

__all__ = ["SimDevice", "Simulation", "Stats", "TransportName", "topic_for"]

log = logging.getLogger(__name__)
TransportName = Literal["mqtt", "http"]
BACKLOG_LIMIT = 10_000
KEEPALIVE_S = 60
CONNECT_TIMEOUT_S = 15.0
_P = Properties | None


class Simulation:
    """Simulated devices publishing until ``duration_s`` of wall time has passed or
    ``stop()`` (callable from any thread or a signal handler) is called."""

    def __init__(
        self,
        devices: Sequence[SimDevice],
        mqtt_url: str | None = DEFAULT_MQTT_URL,
        seed: int = 0,
        speed: float = 1.0,
        batch_seconds: float = 1.0,
        duration_s: float | None = None,
        on_progress: Callable[[Stats], None] | None = None,
        *,
        transport: TransportName = "mqtt",
        http_url: str | None = None,
        start: float | None = None,
        progress_interval_s: float = 5.0,
        drain_timeout_s: float = 5.0,
        tls_ca: str | None = None,
    ) -> None:
        if min(speed, batch_seconds, progress_interval_s) <= 0:
            raise ValueError("speed, batch_seconds and progress_interval_s must be positive")
        if transport == "http" and not http_url:
            raise ValueError("the HTTP transport needs an http_url")
        self.devices = tuple(devices)
        self.mqtt_url, self.http_url, self.transport = mqtt_url, http_url, transport
        self.seed, self.speed, self.batch_seconds = seed, speed, batch_seconds
        self.duration_s, self.start, self.on_progress = duration_s, start, on_progress
        self.progress_interval_s, self.drain_timeout_s = progress_interval_s, drain_timeout_s
        self.tls_ca = tls_ca  # trusted for mqtts:// and https:// (None: the system's CAs)
        self.stats = Stats(devices=len(self.devices))
        self._stop_requested = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def start_time(self, wall_now: float) -> float:
        if self.start is not None:
            return self.start
        if self.speed <= 1:
            return wall_now
        if self.duration_s is None:
            return wall_now - DAY_S  # caught up after DAY_S / (speed - 1) seconds
        return wall_now - self.duration_s * (self.speed - 1)  # ends now

    def run(self, *, handle_signals: bool = False) -> Stats:
        return asyncio.run(self.run_async(handle_signals=handle_signals))

    def stop(self) -> None:
        self._stop_requested = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(wake.set)

    async def run_async(self, *, handle_signals: bool = False) -> Stats:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        tenants = [d.username.partition(":")[0] for d in self.devices]  # "tenant:device"
        refs = [
            DeviceRef(d.device_id, d.sensor_type, d.site_id, tenant, d.utc_offset_s)
            for d, tenant in zip(self.devices, tenants, strict=True)
        ]
        transport: Transport
        if self.transport == "http":
            transport = HttpTransport(
                self.http_url or "", self.devices, self.stats, tls_ca=self.tls_ca
            )
        else:
            url = self.mqtt_url or DEFAULT_MQTT_URL
            transport = MqttTransport(url, self.devices, self.stats, tls_ca=self.tls_ca)
        signals = (signal.SIGINT, signal.SIGTERM) if handle_signals else ()
        for signum in signals:
            self._loop.add_signal_handler(signum, self.stop)
        mono0 = time.monotonic()
        try:
            await transport.start()  # the simulated clock starts once devices are connected
            mono0, start = time.monotonic(), self.start_time(time.time())
            models = build_models(refs, seed=self.seed, start=start)
            await self._ticks(models, transport, start, mono0)
        finally:
            await transport.close(self.drain_timeout_s)
            for signum in signals:
                self._loop.remove_signal_handler(signum)
            self.stats.elapsed_s = time.monotonic() - mono0
        return self.stats

    async def _ticks(
        self, models: list[DeviceModel], transport: Transport, start: float, mono0: float
    ) -> None:
        assert self._wake is not None  # noqa: S101 - set by run_async
        stats, tick = self.stats, min(1.0, self.batch_seconds)
        buffers: list[list[Sample]] = [[] for _ in models]
        next_tick, next_flush = mono0, mono0 + self.batch_seconds
        next_progress, last_progress, last_published = mono0, mono0, 0
        while True:
            mono = time.monotonic()
            stats.sim_time = min(start + (mono - mono0) * self.speed, time.time())
            stats.elapsed_s = mono - mono0
            over = self._stop_requested or stats.elapsed_s >= (self.duration_s or math.inf)
            flush = over or mono >= next_flush - 0.005
            if flush:
                next_flush = max(next_flush + self.batch_seconds, mono)
            for index, model in enumerate(models):
                samples = model.next_samples(stats.sim_time)
                stats.samples += len(samples)
                if model.kind == "scan":
                    for scan in samples:
                        self._send(transport, index, "scan", scan)
                    continue
                buffer = buffers[index]
                buffer += samples
                if flush and buffer:
                    for at in range(0, len(buffer), MAX_SAMPLES_PER_PAYLOAD):
                        chunk = buffer[at : at + MAX_SAMPLES_PER_PAYLOAD]
                        payload = chunk[0] if len(chunk) == 1 else {"samples": chunk}
                        self._send(transport, index, "telemetry", payload)
                    buffer.clear()
            transport.housekeeping(mono)
            if mono >= next_progress + self.progress_interval_s - 0.005 or over:
                next_progress = max(next_progress + self.progress_interval_s, mono - 1.0)
                stats.rate = (stats.published - last_published) / max(1e-6, mono - last_progress)
                last_progress, last_published = mono, stats.published
                if self.on_progress is not None and not over:
                    self.on_progress(stats)
            if over:
                return
            next_tick = max(next_tick + tick, mono)
            self._wake.clear()
            if self._stop_requested:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_tick - time.monotonic()))

    def _send(self, transport: Transport, index: int, kind: str, payload: object) -> None:
        self.stats.sent += 1
        transport.send(index, kind, payload)
