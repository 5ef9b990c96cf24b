"""How simulated devices reach the hub: one MQTT connection per device, or HTTP ingest.

MQTT: a paho client per device, with its own credentials (the hub's broker lets a device
publish only on its own topics), its socket watched by the asyncio loop; QoS 1 (published =
acknowledged); reconnects with backoff (1 s doubling to 30 s), paho queueing up to
``BACKLOG_LIMIT`` messages a device. HTTP: ``POST {http}/v1/ingest``, Basic. TLS
(``mqtts://``, ``https://``) trusts ``tls_ca`` if given (a hub's self-signed certificate),
else the system's CAs; host names are checked either way.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTv311
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)
BACKLOG_LIMIT = 10_000
KEEPALIVE_S = 60
CONNECT_TIMEOUT_S = 15.0
_P = Properties | None


@dataclass(frozen=True)
class SimDevice:
    device_id: str
    sensor_type: str
    username: str  # "{tenant}:{device}"
    password: str
    site_id: str = "site"
    utc_offset_s: float = 0.0  # the site's, for its work hours


def topic_for(username: str, kind: str) -> str:
    return f"sensors/{username}/telemetry" if kind == "telemetry" else f"events/{username}/scan"


@dataclass
class Stats:
    devices: int = 0
    connected: int = 0
    sent: int = 0  # messages handed to the transport
    published: int = 0  # acknowledged: MQTT PUBACK or an HTTP 2xx
    failed: int = 0  # refused, dropped, or still unacknowledged at the end
    samples: int = 0  # samples in the messages sent
    reconnects: int = 0
    elapsed_s: float = 0.0
    sim_time: float = 0.0
    rate: float = 0.0  # messages/s acknowledged since the previous progress report


class _Warnings(set[tuple[str, str]]):
    """Logs a problem once per device and reason, so a dead broker does not flood the log."""

    def __call__(self, device: str, reason: str) -> None:
        if (device, reason) not in self and len(self) < 10_000:
            self.add((device, reason))
            log.warning("%s: %s", device, reason)


async def _wait_while(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def _discard(_result: object) -> None:
    """Callbacks must return None; the loop's remove_* return whether something was removed."""


class _Link:
    """One device's MQTT connection, its socket watched by the asyncio loop."""

    def __init__(self, device: SimDevice, owner: MqttTransport) -> None:
        self.device, self.owner = device, owner
        self.topics = {kind: topic_for(device.username, kind) for kind in ("telemetry", "scan")}
        self.state = "down"  # down, connecting, up
        self.retry_at, self.since, self.backoff, self.ever_up = 0.0, 0.0, 1.0, False
        self.unacked = 0  # QoS 1 messages handed to paho and not acknowledged yet
        client = Client(CallbackAPIVersion.VERSION2, device.username, protocol=MQTTv311)
        client.username_pw_set(device.username, device.password)
        client.max_queued_messages_set(BACKLOG_LIMIT)
        client.connect_timeout = 5.0
        if owner.tls:
            client.tls_set(ca_certs=owner.tls_ca)  # None: the system's CAs
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        loop = owner.loop
        client.on_socket_open = lambda c, _u, sock: loop.add_reader(sock, c.loop_read)
        client.on_socket_close = lambda _c, _u, sock: _discard(loop.remove_reader(sock))
        client.on_socket_register_write = lambda c, _u, sock: loop.add_writer(sock, c.loop_write)
        client.on_socket_unregister_write = lambda _c, _u, sock: _discard(loop.remove_writer(sock))
        client.connect_async(owner.host, owner.port, KEEPALIVE_S)
        self.client = client

    def connect(self, now: float) -> None:
        self.state, self.since = "connecting", now
        try:
            self.client.reconnect()
        except OSError as exc:  # refused, unreachable, TLS: all OSError
            self._down(now, f"cannot connect to {self.owner.host}:{self.owner.port}: {exc}")

    def _down(self, now: float, reason: str) -> None:
        if self.state == "up":
            self.owner.stats.connected -= 1
        self.state = "down"
        self.retry_at = now + self.backoff * random.uniform(0.8, 1.2)  # noqa: S311 - jitter
        self.backoff = min(30.0, self.backoff * 2)
        if not self.owner.closing:
            self.owner.warn(self.device.username, reason)

    def _on_connect(self, _c: Client, _u: Any, _f: ConnectFlags, rc: ReasonCode, _p: _P) -> None:
        if rc.is_failure:  # the broker closes the connection next
            self._down(time.monotonic(), f"connection refused: {rc}")
            return
        self.state, self.backoff = "up", 1.0
        self.owner.stats.connected += 1
        self.owner.stats.reconnects += self.ever_up
        self.ever_up = True

    def _on_disconnect(
        self, _c: Client, _u: Any, _f: DisconnectFlags, rc: ReasonCode, _p: _P
    ) -> None:
        if self.state != "down":
            self._down(time.monotonic(), f"disconnected: {rc}")

    def _on_publish(self, _c: Client, _u: Any, _mid: int, _r: ReasonCode, _p: Properties) -> None:
        self.owner.stats.published += 1
        self.unacked -= 1

    def tick(self, now: float) -> None:
        if self.state == "up":
            self.client.loop_misc()  # keepalive pings
            return
        stuck = self.state == "connecting" and now - self.since > CONNECT_TIMEOUT_S
        if stuck or (self.state == "down" and now >= self.retry_at and not self.owner.closing):
            self.connect(now)


class MqttTransport:
    def __init__(
        self, url: str, devices: Sequence[SimDevice], stats: Stats, tls_ca: str | None = None
    ) -> None:
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl"):
            raise ValueError(f"unsupported MQTT URL {url!r}: use mqtt://HOST:PORT or mqtts://")
        self.tls, self.tls_ca = parts.scheme in ("mqtts", "ssl"), tls_ca
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (8883 if self.tls else 1883)
        self.devices, self.stats, self.warn, self.closing = devices, stats, _Warnings(), False
        self.loop = asyncio.get_running_loop()
        self.links = [_Link(device, self) for device in devices]

    async def start(self, wait_s: float = 5.0) -> None:
        for link in self.links:
            link.connect(time.monotonic())  # blocks for the TCP handshake (connect_timeout)
        await _wait_while(lambda: any(link.state == "connecting" for link in self.links), wait_s)

    def send(self, index: int, kind: str, payload: object) -> None:
        link = self.links[index]
        info = link.client.publish(link.topics[kind], json.dumps(payload), qos=1)
        if info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            link.unacked += 1  # NO_CONN: queued in paho until the connection is back
        else:
            self.stats.failed += 1
            self.warn(link.device.username, f"message dropped: {info.rc.name}")

    def housekeeping(self, now: float) -> None:
        for link in self.links:
            link.tick(now)

    async def close(self, drain_s: float) -> None:
        links = self.links
        await _wait_while(lambda: any(x.unacked and x.state == "up" for x in links), drain_s)
        self.closing = True
        for link in self.links:
            link.client.disconnect()  # the DISCONNECT is written, then paho closes the socket
        await _wait_while(lambda: any(link.client.socket() for link in self.links), 2.0)
        for link in self.links:
            sock = link.client.socket()
            if sock is not None:  # the broker did not read it in time: drop the socket
                self.loop.remove_reader(sock)
                self.loop.remove_writer(sock)
                sock.close()
        self.stats.failed += sum(max(0, link.unacked) for link in self.links)
        self.stats.connected = 0


def _basic(username: str, password: str) -> str:
    """By hand: aiohttp refuses the colon of "tenant:device" in a user-id (RFC 7617)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class HttpTransport:
    def __init__(
        self,
        url: str,
        devices: Sequence[SimDevice],
        stats: Stats,
        limit: int = 16,
        tls_ca: str | None = None,
    ) -> None:
        self.url = url.rstrip("/") + "/v1/ingest"
        self.tls_ca = tls_ca
        self.auth = [_basic(d.username, d.password) for d in devices]
        self.devices, self.stats, self.limit, self.warn = devices, stats, limit, _Warnings()
        self.tasks: set[asyncio.Task[None]] = set()
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        trust = ssl.create_default_context(cafile=self.tls_ca) if self.tls_ca else True
        connector = aiohttp.TCPConnector(limit=self.limit, ssl=trust)
        timeout = aiohttp.ClientTimeout(10)
        self.session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        self.stats.connected = len(self.devices)

    def send(self, index: int, kind: str, payload: object) -> None:
        if len(self.tasks) >= BACKLOG_LIMIT:
            self.stats.failed += 1
            self.warn(self.devices[index].username, "message dropped: too many requests queued")
            return
        body = json.dumps(payload).encode()  # the body is the payload, as on MQTT
        task = asyncio.get_running_loop().create_task(self._post(index, body))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _post(self, index: int, body: bytes) -> None:
        assert self.session is not None  # noqa: S101 - start() comes first
        headers = {"Authorization": self.auth[index], "Content-Type": "application/json"}
        try:
            async with self.session.post(self.url, data=body, headers=headers) as response:
                if response.status < 300:
                    self.stats.published += 1
                    return
                reason = f"HTTP {response.status}: {(await response.text())[:200]}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = f"POST {self.url} failed: {type(exc).__name__}: {exc}"
        self.stats.failed += 1
        self.warn(self.devices[index].username, reason)

    def housekeeping(self, now: float) -> None:
        pass

    async def close(self, drain_s: float) -> None:
        if self.tasks:
            _done, pending = await asyncio.wait(set(self.tasks), timeout=drain_s)
            for task in pending:
                task.cancel()
            self.stats.failed += len(pending)
        if self.session is not None:
            await self.session.close()
        self.stats.connected = 0


Transport = MqttTransport | HttpTransport
