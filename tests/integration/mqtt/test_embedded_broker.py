"""The embedded amqtt broker with SMDH's in-process hand-over (no subscriber client hop).

The central property: a device's QoS-1 PUBLISH is acknowledged (PUBACK) only after the batch
handler has returned, i.e. after the message is durable, and a hub killed with SIGKILL before
that loses nothing, because the device still holds the message and resends it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from smdh.adapters.embedded.mqtt_broker import EmbeddedBroker
from smdh.adapters.embedded.mqtt_messages import desired_topic, reported_topic, telemetry_topic
from tests.integration.mqtt.conftest import (
    DeviceClient,
    DeviceLogin,
    Fleet,
    LoopThread,
    RecordingHandler,
    free_port,
    wait_until,
)

pytestmark = pytest.mark.integration

Devices = Callable[..., DeviceClient]
MakeBroker = Callable[..., EmbeddedBroker]


def test_messages_go_to_the_handler_directly(
    make_embedded: MakeBroker, fleet: Fleet, devices: Devices
) -> None:
    handler = RecordingHandler()
    broker = make_embedded(handler)
    device = devices(broker.listen_port, fleet.a)
    assert not device.connect().is_failure

    device.publish(telemetry_topic(fleet.a.key), b'{"spindle_rpm": 900}').wait_for_publish(5)
    device.publish(reported_topic(fleet.a.key), b'{"sample_rate_hz": 1}').wait_for_publish(5)

    # wait_for_publish returned: the PUBACKs came, so the handler has already stored both.
    assert [(m.device_key, m.kind) for m in handler.messages] == [
        (fleet.a.key, "telemetry"),
        (fleet.a.key, "reported"),
    ]
    assert handler.messages[0].payload == b'{"spindle_rpm": 900}'


def test_puback_waits_until_the_handler_has_returned(
    make_embedded: MakeBroker, fleet: Fleet, devices: Devices, loop_thread: LoopThread
) -> None:
    handler = RecordingHandler()
    gate = loop_thread.run(_event())
    handler.gate = gate
    broker = make_embedded(handler)
    device = devices(broker.listen_port, fleet.a)
    device.connect()

    info = device.publish(telemetry_topic(fleet.a.key), b'{"n": 1}')
    assert wait_until(lambda: handler.calls == 1)
    time.sleep(0.5)
    assert not info.is_published()  # the store has not finished: no PUBACK yet

    loop_thread.loop.call_soon_threadsafe(gate.set)
    info.wait_for_publish(5)
    assert info.is_published()
    assert len(handler.messages) == 1


def test_a_failing_store_delays_the_puback_until_a_retry_succeeds(
    make_embedded: MakeBroker, fleet: Fleet, devices: Devices
) -> None:
    handler = RecordingHandler(failures=2)
    broker = make_embedded(handler)
    device = devices(broker.listen_port, fleet.a)
    device.connect()

    device.publish(telemetry_topic(fleet.a.key), b'{"n": 1}').wait_for_publish(10)

    assert handler.calls == 3
    assert [m.payload for m in handler.messages] == [b'{"n": 1}']


def test_spoofed_and_unauthorized_publishes_are_dropped_before_the_handler(
    make_embedded: MakeBroker, fleet: Fleet, devices: Devices
) -> None:
    handler = RecordingHandler()
    # globex's device is connected but no longer accepted (e.g. decommissioned meanwhile).
    broker = make_embedded(handler, authorize_publish=lambda user, _topic: user == fleet.a.key)
    spoofer = devices(broker.listen_port, fleet.a)
    spoofer.connect()
    cut_off = devices(broker.listen_port, fleet.b)
    cut_off.connect()

    spoofer.publish(telemetry_topic(fleet.b.key), b'{"spoofed": 1}').wait_for_publish(5)
    spoofer.publish("sensors/acme:press-1/other", b'{"odd": 1}').wait_for_publish(5)
    cut_off.publish(telemetry_topic(fleet.b.key), b'{"late": 1}').wait_for_publish(5)
    spoofer.publish(telemetry_topic(fleet.a.key), b'{"own": 1}').wait_for_publish(5)

    assert [m.payload for m in handler.messages] == [b'{"own": 1}']


def test_desired_configuration_published_by_the_hub_is_retained(
    make_embedded: MakeBroker, fleet: Fleet, devices: Devices, loop_thread: LoopThread
) -> None:
    broker = make_embedded(RecordingHandler())
    online = devices(broker.listen_port, fleet.a)
    online.connect()
    online.subscribe(desired_topic(fleet.a.key))

    loop_thread.run(broker.publish_desired(fleet.a.key, {"sample_rate_hz": 10}))
    assert wait_until(lambda: len(online.received) == 1)

    later = devices(broker.listen_port, fleet.a)
    later.connect()
    assert not later.subscribe(desired_topic(fleet.a.key))[0].is_failure
    assert wait_until(lambda: len(later.received) >= 1)  # amqtt may send it twice
    assert {m.payload for m in later.received} == {b'{"sample_rate_hz":10}'}


def test_retained_configurations_do_not_leak_to_other_devices(
    make_embedded: MakeBroker, fleet: Fleet, devices: Devices, loop_thread: LoopThread
) -> None:
    broker = make_embedded(RecordingHandler())
    owner = devices(broker.listen_port, fleet.b)
    owner.connect()
    owner.subscribe(desired_topic(fleet.b.key))
    loop_thread.run(broker.publish_desired(fleet.b.key, {"secret_mode": "on"}))
    assert wait_until(lambda: len(owner.received) == 1)

    other = devices(broker.listen_port, fleet.a)
    other.connect()
    other.subscribe(desired_topic(fleet.a.key))

    assert not wait_until(lambda: bool(other.received), 1.0)


def test_a_will_on_another_devices_topic_is_refused(
    make_embedded: MakeBroker, fleet: Fleet, devices: Devices
) -> None:
    broker = make_embedded(RecordingHandler())
    device = devices(broker.listen_port, fleet.a)
    device.client.will_set(telemetry_topic(fleet.b.key), b'{"spoofed": 1}', qos=1)
    assert device.connect().is_failure


def test_devices_may_subscribe_only_to_their_own_desired_topic(
    make_embedded: MakeBroker, fleet: Fleet, devices: Devices
) -> None:
    broker = make_embedded(RecordingHandler())
    device = devices(broker.listen_port, fleet.a)
    device.connect()
    for topic_filter in ("devices/+/config/desired", "#", desired_topic(fleet.b.key)):
        assert device.subscribe(topic_filter)[0].is_failure, topic_filter
    assert not device.subscribe(desired_topic(fleet.a.key))[0].is_failure


def test_a_slow_store_bounds_the_buffer_and_slows_the_devices(
    make_embedded: MakeBroker, fleet: Fleet, devices: Devices
) -> None:
    handler = RecordingHandler(delay_s=0.01)
    broker = make_embedded(handler, capacity=6, max_batch=3)
    senders = []
    for login in (fleet.a, fleet.b):
        sender = devices(broker.listen_port, login)
        sender.connect()
        senders.append((sender, login))
    burst = 200
    infos = [
        sender.publish(telemetry_topic(login.key), json.dumps({"n": n}))
        for n in range(burst)
        for sender, login in senders
    ]
    for info in infos:
        info.wait_for_publish(30)

    assert len({(m.device_key, m.payload) for m in handler.messages}) == 2 * burst
    assert broker.batcher is not None
    assert broker.batcher.high_water <= 6
    assert max(len(batch) for batch in handler.batches) <= 3


# --- kill -9 ---------------------------------------------------------------------------------

HUB = textwrap.dedent(
    """
    import asyncio, sqlite3, sys
    from smdh.adapters.embedded.mqtt_broker import EmbeddedBroker

    port, db, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE IF NOT EXISTS stored (payload TEXT PRIMARY KEY)")

    async def store(batch):
        rows = [(m.payload.decode(),) for m in batch]
        connection.executemany("INSERT OR IGNORE INTO stored VALUES (?)", rows)
        await asyncio.sleep(0.005)  # a store with some latency widens the crash window

    async def main():
        broker = EmbeddedBroker(
            "127.0.0.1", port, lambda u, p: u == "acme:press-1" and p == secret,
            lambda u, t: True, handler=store,
        )
        await broker.start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


def _start_hub(port: int, db: Path, secret: str) -> subprocess.Popen[str]:
    hub = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", HUB, str(port), str(db), secret],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert hub.stdout is not None
    assert hub.stdout.readline().strip() == "ready"
    return hub


def _kill_9(hub: subprocess.Popen[str]) -> None:
    hub.send_signal(signal.SIGKILL)
    hub.wait(10)
    if hub.stdout is not None:
        hub.stdout.close()


def test_kill_9_loses_no_message_the_device_saw_acknowledged(tmp_path: Path) -> None:
    port, db, secret = free_port(), tmp_path / "hub.sqlite3", "s" * 40
    acked: set[int] = set()
    device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="acme-press-1", clean_session=False)
    device.username_pw_set("acme:press-1", secret)
    device.reconnect_delay_set(1, 1)
    device.on_publish = lambda _c, _u, mid, _rc, _p: acked.add(mid)
    hub = _start_hub(port, db, secret)
    try:
        device.connect("127.0.0.1", port, keepalive=5)
        device.loop_start()
        payload_by_mid: dict[int, str] = {}
        for n in range(400):
            payload = json.dumps({"n": n})
            payload_by_mid[device.publish("sensors/acme:press-1/telemetry", payload, qos=1).mid] = (
                payload
            )
            if n == 200:
                _kill_9(hub)
                acked_at_crash = {payload_by_mid[mid] for mid in set(acked)}
                stored_at_crash = _stored(db)
                hub = _start_hub(port, db, secret)
            time.sleep(0.002)
        assert wait_until(lambda: len(acked) == 400, 30), f"{len(acked)} of 400 acknowledged"
    finally:
        device.disconnect()
        device.loop_stop()
        _kill_9(hub)

    assert len(acked_at_crash) < 201  # the crash hit messages in flight, else no proof
    assert acked_at_crash <= stored_at_crash  # every PUBACK was preceded by the commit
    assert len(_stored(db)) == 400  # and the device resent what had not been acknowledged


def _stored(db: Path) -> set[str]:
    with sqlite3.connect(db) as connection:
        return {row[0] for row in connection.execute("SELECT payload FROM stored")}


async def _event() -> asyncio.Event:
    return asyncio.Event()


def _watch_disconnects(device: DeviceClient) -> list[object]:
    seen: list[object] = []
    device.client.on_disconnect = lambda _c, _u, _f, rc, _p: seen.append(rc)
    return seen


@pytest.mark.parametrize("intruder", ["wrong password", "no credentials", "another device"])
def test_a_client_id_cannot_be_taken_over_without_its_own_login(
    make_embedded: MakeBroker,
    fleet: Fleet,
    devices: Devices,
    loop_thread: LoopThread,
    intruder: str,
) -> None:
    """amqtt 0.12 deletes or rewrites a client id's session and disconnects the client using
    it before it authenticates a CONNECT: here a CONNECT that does not log in as the
    session's owner is refused and changes nothing."""
    broker = make_embedded(RecordingHandler())
    victim = devices(broker.listen_port, fleet.a, client_id="press-1", clean_session=False)
    assert not victim.connect().is_failure
    assert not victim.subscribe(desired_topic(fleet.a.key))[0].is_failure
    dropped = _watch_disconnects(victim)

    login = {
        "wrong password": DeviceLogin(fleet.a.username, "not-the-secret"),
        "no credentials": None,
        "another device": fleet.b,
    }[intruder]
    attacker = devices(broker.listen_port, login, client_id="press-1", clean_session=True)
    assert attacker.connect().is_failure

    # the victim stays connected, with its session and subscription
    loop_thread.run(broker.publish_desired(fleet.a.key, {"sample_rate_hz": 5}))
    assert wait_until(lambda: len(victim.received) >= 1)
    assert dropped == []
    assert victim.publish(telemetry_topic(fleet.a.key), b'{"power_watts": 1.0}').rc == 0


def test_a_device_reconnecting_with_its_own_client_id_takes_its_session_over(
    make_embedded: MakeBroker, fleet: Fleet, devices: Devices
) -> None:
    broker = make_embedded(RecordingHandler())
    first = devices(broker.listen_port, fleet.a, client_id="press-1", clean_session=False)
    assert not first.connect().is_failure
    dropped = _watch_disconnects(first)
    first.client.reconnect_delay_set(30, 30)  # a dead old connection, as after a reboot
    again = devices(broker.listen_port, fleet.a, client_id="press-1", clean_session=False)
    assert not again.connect().is_failure
    assert wait_until(lambda: bool(dropped))
