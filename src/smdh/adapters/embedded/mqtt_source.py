"""MQTT ingest source: devices' messages from any broker, acknowledged only once durable.

Topics (a device's username ``"{tenant}:{device}"`` is its segment; the broker's ACL makes
it equal to the publisher's username): ``sensors/{key}/telemetry``, ``events/{key}/scan`` and
``devices/{key}/config/reported`` from devices; ``devices/{key}/config/desired`` (retained)
from SMDH.

``MqttSource`` subscribes with paho-mqtt 2.x, ``manual_ack`` and a persistent session: a
QoS-1 delivery is acknowledged only after the batch handler has returned (the readings are
durable), so what was unacknowledged when the hub died is redelivered on reconnect. paho's
own network thread is the point: when SMDH's buffer is full it blocks in ``on_message`` and
stops reading the socket (TCP back-pressure, then the broker's in-flight limit and queue),
where asyncio wrappers such as aiomqtt drop or queue without bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from smdh.adapters.embedded.mqtt_messages import (
    INGEST_FILTERS,
    BatchHandler,
    MicroBatcher,
    MqttMessage,
    Settle,
    desired_topic,
    parse_ingest_topic,
)

log = logging.getLogger(__name__)


@attrs.frozen
class MqttEndpoint:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool
    client_id: str | None

    @classmethod
    def parse(cls, url: str) -> MqttEndpoint:
        """``mqtt://user:pass@host:1883`` or ``mqtts://...:8883``; ``?client_id=`` optional."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("MQTT URL must look like mqtt://user:password@host:port")
        tls = parts.scheme == "mqtts"
        client_ids = parse_qs(parts.query).get("client_id")
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            client_id=client_ids[0] if client_ids else None,
        )


class MqttConnectError(RuntimeError): ...


class MqttPublishError(RuntimeError): ...


class MqttSource:
    """Subscribes the ingest topics with QoS 1 and feeds ``handler`` in micro-batches.

    Memory holds at most ``capacity`` messages. Reconnects (broker gone, handler failed) use
    a new paho client with the same client id, with back-off. Each connection is a
    *generation*: a batch finishing after its connection was replaced is not acknowledged
    (packet ids belong to a connection); the broker redelivers it, the idempotent store
    absorbs the duplicate.
    """

    def __init__(
        self,
        url: str,
        handler: BatchHandler,
        *,
        client_id: str = "smdh-ingest",
        capacity: int = 2000,
        max_batch: int = 500,
        keepalive_s: int = 30,
        reconnect_min_s: float = 0.2,
        reconnect_max_s: float = 30.0,
    ) -> None:
        self._endpoint = MqttEndpoint.parse(url)
        self._client_id = self._endpoint.client_id or client_id
        self.batcher = MicroBatcher(handler, capacity=capacity, max_batch=max_batch)
        # the buffer's room as the paho thread sees it: taken before a hand-over, given back
        # when the message is settled, so that thread blocks only when the buffer is full
        self._room = threading.BoundedSemaphore(capacity)
        self._keepalive_s = keepalive_s
        self._backoff = (reconnect_min_s, reconnect_max_s)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._client: mqtt.Client | None = None
        self._generation = 0
        self._stopping = False
        self._subscribed = asyncio.Event()
        self._lost = asyncio.Event()
        self._handler_failed = False
        self._admitting: set[asyncio.Future[None]] = set()
        self.sessions = 0  # connections that reached "subscribed", for tests and metrics

    @property
    def connected(self) -> bool:
        return self._subscribed.is_set()

    async def start(self, timeout_s: float = 10.0) -> None:
        """Start, and return once subscribed (MqttConnectError after ``timeout_s``)."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self.batcher.run(), name="mqtt-batcher"),
            asyncio.create_task(self._supervise(), name="mqtt-source"),
        ]
        try:
            await asyncio.wait_for(self._subscribed.wait(), timeout_s)
        except TimeoutError:
            await self.stop()
            raise MqttConnectError(
                f"no MQTT session at {self._endpoint.host}:{self._endpoint.port} "
                f"within {timeout_s}s"
            ) from None

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Store and acknowledge what is buffered (up to ``drain_timeout_s``), disconnect.

        Whatever is not acknowledged by then stays in the broker's session for next time.
        """
        self._stopping = True  # the paho thread hands nothing new over from here on
        deadline = time.monotonic() + drain_timeout_s
        while self.batcher.held and self._tasks and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self._lost.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._drop_client()

    async def publish_desired(
        self, device_key: str, config: Mapping[str, object], timeout_s: float = 10.0
    ) -> None:
        """Retained QoS-1 desired configuration on the device's own config topic."""
        client = self._client
        if client is None or not self.connected:
            raise MqttPublishError("not connected to the MQTT broker")
        payload = json.dumps(config, sort_keys=True, separators=(",", ":"))
        info = client.publish(desired_topic(device_key), payload, qos=1, retain=True)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise MqttPublishError(f"publish refused by the client: {mqtt.error_string(info.rc)}")
        await asyncio.to_thread(info.wait_for_publish, timeout_s)
        if not info.is_published():
            raise MqttPublishError(f"no PUBACK for the desired configuration in {timeout_s}s")

    async def _supervise(self) -> None:
        delay = self._backoff[0]
        while not self._stopping:
            self._lost.clear()
            self._handler_failed = False
            self._generation += 1
            self._client = self._new_client(self._generation)
            try:
                self._client.connect_async(
                    self._endpoint.host, self._endpoint.port, self._keepalive_s
                )
                self._client.loop_start()
                await self._lost.wait()
                healthy = self._subscribed.is_set() and not self._handler_failed
            finally:
                self._subscribed.clear()
                await self._drop_client()
            if self._stopping:
                return
            # A failing store must not turn into a reconnect storm; a network blip may.
            delay = self._backoff[0] if healthy else min(delay * 2, self._backoff[1])
            log.info("MQTT source reconnecting in %.1fs", delay)
            await asyncio.sleep(delay)

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self._generation += 1  # late settlements of this connection must not ack
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)

    def _new_client(self, generation: int) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if self._endpoint.username is not None:
            client.username_pw_set(self._endpoint.username, self._endpoint.password)
        if self._endpoint.tls:
            client.tls_set()
        # Connections are rebuilt by _supervise; paho's own retry would race with it.
        retry_s = max(1, int(self._backoff[1]))
        client.reconnect_delay_set(min_delay=retry_s, max_delay=retry_s)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = lambda _c, _u: self._call(self._lost.set)
        client.on_message = lambda c, _u, m: self._on_message(c, m, generation)
        return client

    # --- paho callbacks: they run in the paho network thread --------------------------------

    def _call(self, callback: Callable[[], object]) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(callback)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            log.warning("MQTT connection refused: %s", rc)
            self._call(self._lost.set)
            return
        client.subscribe([(topic_filter, 1) for topic_filter in INGEST_FILTERS])

    def _on_subscribe(self, _c: Any, _u: Any, _m: int, rcs: list[ReasonCode], _p: Any) -> None:
        refused = [str(rc) for rc in rcs if rc.is_failure]
        if refused:
            log.error("MQTT subscription refused (%s): check the broker's ACL", refused)
            self._call(self._lost.set)
            return
        self.sessions += 1
        self._call(self._subscribed.set)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if not self._stopping and rc.is_failure:
            log.warning("MQTT source disconnected: %s", rc)
        self._call(self._lost.set)

    def _on_message(self, client: mqtt.Client, message: mqtt.MQTTMessage, generation: int) -> None:
        mid, qos = message.mid, message.qos
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = ""
        parsed = parse_ingest_topic(topic)
        if parsed is None:  # not ours to store; acknowledging drops it for good
            log.warning("ignoring MQTT message on unexpected topic %r", topic)
            if qos:
                client.ack(mid, qos)
            return
        key, kind = parsed
        item = MqttMessage(
            topic, bytes(message.payload), key, kind, time.time(), bool(message.retain)
        )

        def settle(outcome: BaseException | None) -> None:
            if generation != self._generation:
                return
            if outcome is not None:
                self._handler_failed = True
                self._lost.set()  # reconnect: the broker redelivers the unacknowledged
            elif qos:
                client.ack(mid, qos)

        self._hand_over(item, settle, generation)

    def _hand_over(self, item: MqttMessage, settle: Settle, generation: int) -> None:
        """Queue the message for the event loop; block this (paho) thread, which then stops
        reading the socket, only while the buffer is full: back-pressure.

        Room is reserved here, so the hand-over itself never waits for the loop (waiting
        for it once per message capped the intake near the arrival rate, and a backlog
        after a pause drained slowly)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        while not self._room.acquire(timeout=0.25):
            if self._stopping or generation != self._generation:
                return  # left unacknowledged: the broker keeps it

        def settle_and_free(outcome: BaseException | None) -> None:
            self._room.release()
            settle(outcome)

        try:
            loop.call_soon_threadsafe(self._admit, item, settle_and_free)
        except RuntimeError:  # the loop closed meanwhile: unacknowledged, the broker keeps it
            self._room.release()

    def _admit(self, item: MqttMessage, settle: Settle) -> None:
        """On the loop: the reserved room makes ``put_nowait`` succeed (nothing else puts
        into this buffer); should it not, wait for room like any producer."""
        try:
            self.batcher.put_nowait(item, settle)
        except asyncio.QueueFull:
            task = asyncio.ensure_future(self.batcher.put(item, settle))
            self._admitting.add(task)
            task.add_done_callback(self._admitting.discard)
