"""Real MQTT brokers for the ingest tests: the embedded amqtt broker and a mosquitto process.

Asyncio parts (the embedded broker, ``MqttSource``, batch handlers) run on one background
event loop per test (``loop_thread``); devices are ordinary threaded paho clients, so tests
are plain synchronous functions that wait with deadlines.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import attrs
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from smdh.adapters.embedded import mosquitto
from smdh.adapters.embedded.mqtt_broker import DeviceCredentialChecks, EmbeddedBroker
from smdh.adapters.embedded.mqtt_messages import BatchHandler, MqttMessage
from smdh.application import commands as c
from smdh.application.principals import Principal
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId
from smdh.entrypoints.container import build_container

T = TypeVar("T")
OPERATOR = Principal.operator("mqtt-tests")
SERVICE_USER = "smdh-service"
MOSQUITTO = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class LoopThread:
    """An asyncio loop in a daemon thread; ``run`` executes a coroutine on it and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    def close(self) -> None:
        async def cancel_rest() -> None:
            current = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not current]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        self.run(cancel_rest(), 10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    runner = LoopThread()
    yield runner
    runner.close()


@attrs.frozen
class DeviceLogin:
    username: str
    password: str

    @property
    def key(self) -> str:
        return self.username


@attrs.frozen
class Fleet:
    a: DeviceLogin
    b: DeviceLogin
    checks: DeviceCredentialChecks


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    """Two devices in two tenants, registered through the application like the demo does."""
    container = build_container("memory", tmp_path / "data")
    application = container.application()
    logins = []
    for tenant, device in (("acme", "press-1"), ("globex", "meter-7")):
        application.execute(
            c.RegisterTenant(principal=OPERATOR, tenant_id=TenantId(tenant), name=tenant)
        )
        application.execute(
            c.RegisterSite(
                principal=OPERATOR,
                tenant_id=TenantId(tenant),
                site_id=SiteId("plant"),
                name="Plant",
                timezone="Europe/Berlin",
            )
        )
        credentials = application.execute(
            c.RegisterDevice(
                principal=OPERATOR,
                tenant_id=TenantId(tenant),
                device_id=DeviceId(device),
                site_id=SiteId("plant"),
                sensor_type="machine",
                name=device,
            )
        )
        logins.append(DeviceLogin(credentials.username, credentials.secret))
    checks = DeviceCredentialChecks(application.devices, container.device_secret_hasher())
    return Fleet(logins[0], logins[1], checks)


class RecordingHandler:
    """A batch handler that records what it made "durable"; can be slowed or made to fail."""

    def __init__(self, delay_s: float = 0.0, failures: int = 0) -> None:
        self.delay_s = delay_s
        self.failures = failures
        self.calls = 0
        self.batches: list[list[MqttMessage]] = []
        self.gate: asyncio.Event | None = None

    @property
    def messages(self) -> list[MqttMessage]:
        return [m for batch in list(self.batches) for m in batch]

    async def __call__(self, batch: list[MqttMessage]) -> None:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.failures > 0:
            self.failures -= 1
            raise OSError("store unavailable (test)")
        self.batches.append(list(batch))


@attrs.define
class BrokerUnderTest:
    name: str
    port: int
    service_url: str
    embedded: EmbeddedBroker | None = None
    restart: Callable[[], None] | None = None


def start_embedded(
    loop_thread: LoopThread, fleet: Fleet, handler: BatchHandler | None = None, **options: Any
) -> EmbeddedBroker:
    broker = EmbeddedBroker(
        "127.0.0.1",
        free_port(),
        fleet.checks.authenticate,
        options.pop("authorize_publish", fleet.checks.authorize_publish),
        handler=handler,
        service_username=SERVICE_USER,
        **options,
    )
    loop_thread.run(broker.start())
    return broker


@pytest.fixture
def make_embedded(loop_thread: LoopThread, fleet: Fleet) -> Iterator[Callable[..., EmbeddedBroker]]:
    started: list[EmbeddedBroker] = []

    def make(handler: BatchHandler | None = None, **options: Any) -> EmbeddedBroker:
        started.append(start_embedded(loop_thread, fleet, handler, **options))
        return started[-1]

    yield make
    for broker in started:
        loop_thread.run(broker.stop())


@pytest.fixture
def embedded_broker(make_embedded: Callable[..., EmbeddedBroker]) -> BrokerUnderTest:
    broker = make_embedded()
    return BrokerUnderTest("embedded", broker.listen_port, broker.service_url, broker)


@pytest.fixture
def mosquitto_broker(tmp_path: Path, fleet: Fleet) -> Iterator[BrokerUnderTest]:
    if MOSQUITTO is None:
        # In CI (CI=true) the broker is always provided (.ci/run installs it): fail there.
        missing = "mosquitto is not installed (apt-get install mosquitto mosquitto-clients)"
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)  # outside CI only
    port = free_port()
    service_password = secrets.token_urlsafe(24)
    users = [
        (fleet.a.username, fleet.a.password),
        (fleet.b.username, fleet.b.password),
        (SERVICE_USER, service_password),
    ]
    config = mosquitto.write_config(
        tmp_path / "mosquitto", port, service_username=SERVICE_USER, users=users
    )
    processes = [mosquitto.start_mosquitto(config, port, binary=MOSQUITTO)]

    def restart() -> None:
        mosquitto.stop_mosquitto(processes[-1])
        processes.append(mosquitto.start_mosquitto(config, port, binary=MOSQUITTO))

    try:
        url = f"mqtt://{SERVICE_USER}:{service_password}@127.0.0.1:{port}"
        yield BrokerUnderTest("mosquitto", port, url, restart=restart)
    finally:
        mosquitto.stop_mosquitto(processes[-1])


@pytest.fixture(params=["embedded", "mosquitto"])
def broker(request: pytest.FixtureRequest) -> BrokerUnderTest:
    return request.getfixturevalue(f"{request.param}_broker")  # type: ignore[no-any-return]


class DeviceClient:
    """A threaded paho client standing in for a device."""

    def __init__(
        self,
        port: int,
        username: str | None,
        password: str | None,
        *,
        client_id: str = "",
        clean_session: bool = True,
    ) -> None:
        self.port = port
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-{secrets.token_hex(4)}",
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(100)
        self.received: list[mqtt.MQTTMessage] = []
        self._connack: list[ReasonCode] = []
        self._suback: dict[int, list[ReasonCode]] = {}
        self.client.on_connect = lambda _c, _u, _f, rc, _p: self._connack.append(rc)
        self.client.on_subscribe = lambda _c, _u, mid, rcs, _p: self._suback.update({mid: rcs})
        self.client.on_message = lambda _c, _u, message: self.received.append(message)

    def connect(self, timeout_s: float = 5.0) -> ReasonCode:
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        assert wait_until(lambda: bool(self._connack), timeout_s), "no CONNACK"
        if self._connack[-1].is_failure:
            self.close()
        return self._connack[-1]

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos)

    def subscribe(self, topic_filter: str, timeout_s: float = 5.0) -> list[ReasonCode]:
        _, mid = self.client.subscribe(topic_filter, qos=1)
        assert mid is not None
        assert wait_until(lambda: mid in self._suback, timeout_s), "no SUBACK"
        return self._suback[mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def devices() -> Iterator[Callable[..., DeviceClient]]:
    made: list[DeviceClient] = []

    def make(port: int, login: DeviceLogin | None, **options: Any) -> DeviceClient:
        client = DeviceClient(
            port,
            login.username if login else None,
            login.password if login else None,
            **options,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
