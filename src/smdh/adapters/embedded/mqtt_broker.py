"""The embedded MQTT broker (amqtt): device authentication, topic ACL, durable hand-over.

Started by ``smdh serve`` when no external broker is configured. Devices connect with
username ``"{tenant}:{device}"`` and their secret; SMDH's own service user has a random
password held in memory (``service_url``). Nothing is created at import time.

**Acknowledging only what is durable.** amqtt 0.12 sends a QoS-1 PUBACK right after it has
put the message on the session's delivered-message queue, *before* any plugin hook or even
the publish ACL runs (hooks are fired without being awaited). The only awaited step between
reading a PUBLISH and writing its PUBACK is ``session.delivered_message_queue.put``. So, once
a device is authenticated, its session gets a ``_DurableHandOffQueue`` whose ``put`` first
hands the message to SMDH's batch handler and returns only when the batch is durable; the
PUBACK follows. A device that has not received its PUBACK resends after reconnecting, so a
kill -9 of the hub loses nothing a device has been told is stored. While the store is slow,
PUBACKs are late, the device's in-flight window fills, and the device stops publishing: that
is the back-pressure. QoS-0 messages are refused (dropped, as QoS 0 allows) when full.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from amqtt.contexts import Action, BrokerConfig, ListenerConfig  # type: ignore[import-untyped]
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin  # type: ignore[import-untyped]

from smdh.adapters.embedded.amqtt_broker import CheckedBroker
from smdh.adapters.embedded.mqtt_messages import (
    BatchHandler,
    MicroBatcher,
    MqttMessage,
    desired_topic,
    parse_ingest_topic,
)
from smdh.application.identity import DeviceAuthenticator
from smdh.application.ports import SecretHasher
from smdh.application.principals import AuthenticationFailed
from smdh.application.projections import DeviceRegistry

log = logging.getLogger(__name__)

Authenticate = Callable[[str, str], bool]
AuthorizePublish = Callable[[str, str], bool]

_RETRY_MAX_S = 5.0


def device_may_publish(username: str, topic: str) -> bool:
    """A device publishes only to its own telemetry, scan and reported topics."""
    parsed = parse_ingest_topic(topic)
    return parsed is not None and parsed[0] == username


def device_may_subscribe(username: str, topic_filter: str) -> bool:
    """A device subscribes only to its own desired-configuration topic (no wildcards)."""
    return topic_filter == desired_topic(username)


class DeviceCredentialChecks:
    """``authenticate`` / ``authorize_publish`` callbacks backed by the device registry."""

    def __init__(self, registry: DeviceRegistry, hasher: SecretHasher) -> None:
        self._registry = registry
        self._authenticator = DeviceAuthenticator(registry, hasher)

    def authenticate(self, username: str, password: str) -> bool:
        try:
            self._authenticator.authenticate(username, password)
        except AuthenticationFailed:
            return False
        return True

    def authorize_publish(self, username: str, topic: str) -> bool:
        """Checked per message, so a device decommissioned while connected is cut off."""
        tenant_id, _, device_id = username.partition(":")
        entry = self._registry.lookup(tenant_id, device_id) if device_id else None
        return entry is not None and entry.accepts_readings


@dataclass
class _Gate:
    """Everything the amqtt plugins need; handed to them through their config."""

    authenticate: Authenticate
    authorize_publish: AuthorizePublish
    service_username: str
    service_password: str
    batcher: MicroBatcher | None

    def is_service(self, username: str | None) -> bool:
        return username == self.service_username

    def service_password_matches(self, password: str) -> bool:
        return hmac.compare_digest(password.encode(), self.service_password.encode())

    def login_ok(self, username: str | None, password: str | None) -> bool:
        """Whether these credentials log in (a device's, or the service user's)."""
        if not username or password is None:
            return False
        if self.is_service(username):
            return self.service_password_matches(password)
        return self.authenticate(username, password)

    def to_ingest(self, username: str, item: Any) -> MqttMessage | None:
        """The amqtt message as SMDH input, or None if it is not the device's to give."""
        parsed = parse_ingest_topic(item.topic)
        if parsed is None or parsed[0] != username:
            return None  # amqtt's own ACL pass drops and logs it after this
        if not self.authorize_publish(username, item.topic):
            return None
        packet = getattr(item, "publish_packet", None)
        retained = bool(packet is not None and packet.retain_flag)
        key, kind = parsed
        return MqttMessage(item.topic, bytes(item.data), key, kind, time.time(), retained)

    async def hand_over(self, username: str, item: Any) -> None:
        """Return once the message is durable; retry while the store fails (PUBACK waits)."""
        message = self.to_ingest(username, item)
        if self.batcher is None or message is None:
            return
        delay = 0.05
        while True:
            outcome: asyncio.Future[BaseException | None] = (
                asyncio.get_running_loop().create_future()
            )
            await self.batcher.put(message, functools.partial(_resolve, outcome))
            if await outcome is None:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)

    def hand_over_nowait(self, username: str, item: Any) -> None:
        message = self.to_ingest(username, item)
        if self.batcher is not None and message is not None:
            self.batcher.put_nowait(message, lambda _outcome: None)


def _resolve(future: asyncio.Future[BaseException | None], outcome: BaseException | None) -> None:
    if not future.done():  # the waiting PUBLISH task may have been cancelled (disconnect)
        future.set_result(outcome)


class _DurableHandOffQueue(asyncio.Queue[Any]):
    """A device session's delivered-message queue that admits a message once it is durable."""

    def __init__(self, gate: _Gate, username: str) -> None:
        super().__init__()
        self.gate = gate
        self.username = username

    async def put(self, item: Any) -> None:
        await self.gate.hand_over(self.username, item)
        # Not super().put(): it would call our put_nowait and hand the message over twice.
        super().put_nowait(item)  # unbounded: never full

    def put_nowait(self, item: Any) -> None:
        self.gate.hand_over_nowait(self.username, item)  # QueueFull: amqtt drops QoS 0
        super().put_nowait(item)


class SmdhAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]
    """Devices by registry, the service user by its in-memory password; never anonymous."""

    @dataclass
    class Config:
        gate: Any = None

    async def authenticate(self, *, session: Any) -> bool:
        gate: _Gate = self.context.config.gate
        username, password = session.username, session.password
        if not gate.login_ok(username, password):
            log.info("MQTT login refused for %r", username)
            return False
        if gate.is_service(username):
            return True
        if session.will_flag and not device_may_publish(username, session.will_topic or ""):
            # amqtt 0.12 publishes wills without the publish ACL: refuse foreign will topics.
            log.warning("MQTT login by %r refused: will topic %r", username, session.will_topic)
            return False
        queue = session.delivered_message_queue
        if not (isinstance(queue, _DurableHandOffQueue) and queue.username == username):
            session.delivered_message_queue = _DurableHandOffQueue(gate, username)
        return True


class SmdhTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """Per-device topic ACL; the service user reads everything and writes desired configs."""

    @dataclass
    class Config:
        gate: Any = None

    async def topic_filtering(
        self, *, session: Any = None, topic: str | None = None, action: Any = None
    ) -> bool:
        gate: _Gate = self.context.config.gate
        username = getattr(session, "username", None)
        if not username or not topic:
            return False
        if gate.is_service(username):
            if action == Action.PUBLISH:
                levels = topic.split("/")
                return len(levels) == 4 and topic == desired_topic(levels[1])
            return True
        if action == Action.PUBLISH:
            allowed = device_may_publish(username, topic) and gate.authorize_publish(
                username, topic
            )
            if not allowed:
                log.warning("MQTT publish by %r to %r refused and dropped", username, topic)
            return allowed
        if action == Action.SUBSCRIBE:
            return device_may_subscribe(username, topic)
        return bool(topic == desired_topic(username))  # RECEIVE


class EmbeddedBroker:
    """amqtt on ``listen_host:listen_port`` with SMDH's authentication and ACL.

    With ``handler``, devices' telemetry, scans and reported configurations go straight to
    it in micro-batches (no client hop) and their PUBACKs wait for it; without, an
    ``MqttSource`` logged in as the service user (``service_url``) can subscribe instead.
    With ``certfile`` and ``keyfile`` (PEM) the listener speaks MQTT over TLS only.
    """

    def __init__(
        self,
        listen_host: str,
        listen_port: int,
        authenticate: Authenticate,
        authorize_publish: AuthorizePublish,
        *,
        handler: BatchHandler | None = None,
        service_username: str = "smdh-service",
        service_password: str | None = None,
        capacity: int = 2000,
        max_batch: int = 500,
        certfile: str | Path | None = None,
        keyfile: str | Path | None = None,
    ) -> None:
        if ":" in service_username:
            raise ValueError("the service username must not look like a device (no ':')")
        if (certfile is None) != (keyfile is None):
            raise ValueError("TLS needs both certfile and keyfile")
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.certfile, self.keyfile = certfile, keyfile
        self.batcher = (
            MicroBatcher(handler, capacity=capacity, max_batch=max_batch) if handler else None
        )
        self._gate = _Gate(
            authenticate,
            authorize_publish,
            service_username,
            service_password or secrets.token_urlsafe(32),
            self.batcher,
        )
        self._broker: Any = None
        self._batcher_task: asyncio.Task[None] | None = None

    @property
    def tls(self) -> bool:
        return self.certfile is not None

    @property
    def service_url(self) -> str:
        """``mqtt://`` (``mqtts://``) URL with the service credentials, for an ``MqttSource``."""
        user = quote(self._gate.service_username, safe="")
        password = quote(self._gate.service_password, safe="")
        scheme = "mqtts" if self.tls else "mqtt"
        return f"{scheme}://{user}:{password}@{self.listen_host}:{self.listen_port}"

    async def start(self) -> None:
        plugins = {
            f"{__name__}.SmdhAuthPlugin": {"gate": self._gate},
            f"{__name__}.SmdhTopicPlugin": {"gate": self._gate},
        }
        bind = f"{self.listen_host}:{self.listen_port}"
        listener = (
            ListenerConfig(bind=bind, ssl=True, certfile=self.certfile, keyfile=self.keyfile)
            if self.tls
            else ListenerConfig(bind=bind)
        )
        config = BrokerConfig(listeners={"default": listener}, plugins=plugins)
        # One namespace for all instances: amqtt keeps the last manager per namespace.
        self._broker = CheckedBroker(
            config, plugin_namespace="smdh.embedded_broker", check_login=self._gate.login_ok
        )
        if self.batcher is not None:
            self._batcher_task = asyncio.create_task(self.batcher.run(), name="mqtt-batcher")
        try:
            await self._broker.start()
        except Exception:
            await self._stop_batcher()
            self._broker = None
            raise

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()
        await self._stop_batcher()

    async def _stop_batcher(self) -> None:
        task, self._batcher_task = self._batcher_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def publish_desired(self, device_key: str, config: Mapping[str, object]) -> None:
        """Retain the desired configuration and deliver it to the device if connected."""
        if self._broker is None:
            raise RuntimeError("the embedded broker is not running")
        topic = desired_topic(device_key)
        payload = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
        await self._broker.retain_message(None, topic, payload, 1)
        await self._broker.internal_message_broadcast(topic, payload, 1)
