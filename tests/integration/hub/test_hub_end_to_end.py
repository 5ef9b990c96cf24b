"""The hub end to end, as a user runs it: ``smdh serve --demo --no-simulator`` in a
subprocess, devices publishing with ``mosquitto_pub``, the operator reading the REST API.

Covers the issue's "done when": a reading published over MQTT is served by
``/v1/devices/{id}/latest`` within 10 s with its derived AQI; malformed payloads are dead
letters; a device cannot write another device's data; desired configuration reaches the
device (retained) and its report clears the delta; Ctrl-C stops the hub cleanly and a
restart serves the same data. Once more against an external mosquitto (``--mqtt``).
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from smdh.adapters.embedded import mosquitto
from tests.integration.hub.conftest import Hub, Hubs, free_port, wait_until

pytestmark = pytest.mark.integration

AIR = "air-001"
SERVICE_USER = "smdh-service"
MOSQUITTO = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")


def air_sample(timestamp: float, co2: float = 800) -> str:
    return json.dumps({"timestamp": timestamp, "co2_ppm": co2, "pm25_ugm3": 35.9, "pm10_ugm3": 40})


def telemetry_topic(device_id: str) -> str:
    return f"sensors/demo:{device_id}/telemetry"


@pytest.fixture(scope="module")
def hub(module_hubs: Hubs, tmp_path_factory: pytest.TempPathFactory) -> Hub:
    return module_hubs.start(tmp_path_factory.mktemp("hub-e2e") / "data")


def assert_air_reading_served(hub: Hub, timestamp: float) -> None:
    def served() -> dict[str, Any] | None:
        values = hub.latest(AIR)
        co2 = values.get("co2_ppm")
        return values if co2 is not None and co2["epoch"] == timestamp else None

    values = wait_until(served, timeout_s=10.0)
    assert values, f"no reading at {timestamp} within 10 s: {hub.latest(AIR)}"
    assert values["co2_ppm"]["value"] == 800
    assert values["aqi_instant"]["value"] == 102
    assert values["pm25_ugm3"]["value"] == pytest.approx(35.9)


# --- the done-when ---------------------------------------------------------------


def test_a_reading_published_with_mosquitto_pub_is_served_with_its_aqi(hub: Hub) -> None:
    now = float(int(time.time()))
    assert hub.publish(AIR, telemetry_topic(AIR), air_sample(now)) == 0
    assert_air_reading_served(hub, now)
    items = hub.readings(AIR, now - 1, now + 1)
    assert [i["epoch"] for i in items] == [now]
    assert items[0]["values"]["aqi_instant"] == 102


def test_a_malformed_payload_is_a_malformed_json_dead_letter(hub: Hub) -> None:
    marker = f"{{broken json {secrets.token_hex(4)}"
    assert hub.publish(AIR, telemetry_topic(AIR), marker) == 0

    def letter() -> dict[str, Any] | None:
        return next((x for x in hub.dead_letters() if x["payload"] == marker), None)

    found = wait_until(letter, timeout_s=10.0)
    assert found, "the malformed payload never reached the dead letters"
    assert found["reason_code"] == "malformed-json"
    assert found["device_id"] == AIR
    assert found["source"] == "mqtt"
    assert found["reason"]


def test_an_out_of_range_value_is_a_dead_letter_with_its_code(hub: Hub) -> None:
    now = float(int(time.time())) - 5
    payload = json.dumps({"timestamp": now, "co2_ppm": -3})
    assert hub.publish(AIR, telemetry_topic(AIR), payload) == 0
    found = wait_until(
        lambda: next((x for x in hub.dead_letters() if x["payload"] == payload), None)
    )
    assert found and found["reason_code"] == "out-of-range"
    assert found["index"] == 0


def test_a_device_publishing_on_another_devices_topic_is_never_stored(hub: Hub) -> None:
    now = time.time()
    forged_at = float(int(now)) - 30
    # air-001's credentials on air-002's topic (and on a machine's)
    hub.publish("air-002", telemetry_topic("air-002"), air_sample(forged_at, 777), login=AIR)
    hub.publish(
        "machine-001",
        telemetry_topic("machine-001"),
        json.dumps({"timestamp": forged_at, "power_watts": 777}),
        login=AIR,
    )
    # then air-002 itself publishes: once that is stored, the forgery had its chance
    genuine_at = forged_at + 1
    assert hub.publish("air-002", telemetry_topic("air-002"), air_sample(genuine_at, 555)) == 0
    stored = wait_until(
        lambda: [i["epoch"] for i in hub.readings("air-002", forged_at - 1, genuine_at + 1)]
    )
    assert stored == [genuine_at]
    time.sleep(0.5)
    window = (forged_at - 1, forged_at + 1)
    assert hub.readings("air-002", *window) == []
    assert hub.readings("machine-001", *window) == []
    assert hub.readings(AIR, *window) == []  # not stored under the publisher either
    assert hub.latest("air-002")["co2_ppm"]["value"] == 555


def retained_desired(port: int, username: str, password: str, desired: object) -> bool:
    """True once a newly connecting device receives ``desired`` as a retained message."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _first_copy_is_retained(port, username, password, desired):
            return True
    return False


def _first_copy_is_retained(port: int, username: str, password: str, desired: object) -> bool:
    received: list[mqtt.MQTTMessage] = []
    topic = f"devices/{username}/config/desired"
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.username_pw_set(username, password)
    client.on_message = lambda _c, _u, message: received.append(message)
    client.on_connect = lambda c, *_args: c.subscribe(topic, 1)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    try:
        got = wait_until(
            lambda: [m for m in received if json.loads(m.payload) == desired], timeout_s=1.0
        )
    finally:
        client.disconnect()
        client.loop_stop()
    return bool(got) and got[0].retain


def test_desired_configuration_reaches_the_device_and_its_report_clears_the_delta(
    hub: Hub,
) -> None:
    desired = {"sampling_interval_s": 15, "led": "on", "nonce": secrets.token_hex(4)}
    reply = hub.put(f"/v1/devices/{AIR}/configuration/desired", {"configuration": desired})
    assert reply.status == 200, reply
    assert reply.body["desired"] == desired
    assert reply.body["pending"] == desired

    username, password = hub.login(AIR)
    received: list[mqtt.MQTTMessage] = []
    subscribed = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"air-001-{secrets.token_hex(4)}",
        protocol=mqtt.MQTTv311,
    )
    client.username_pw_set(username, password)
    client.on_message = lambda _c, _u, message: received.append(message)
    client.on_subscribe = lambda *_args: subscribed.set()
    desired_topic = f"devices/demo:{AIR}/config/desired"
    client.on_connect = lambda c, *_args: c.subscribe(desired_topic, qos=1)
    client.connect("127.0.0.1", hub.mqtt_port, keepalive=30)
    client.loop_start()
    try:
        assert subscribed.wait(10), "no SUBACK"
        got = wait_until(
            lambda: [m for m in received if json.loads(m.payload) == desired], timeout_s=10.0
        )
        assert got, f"desired configuration not delivered: {[m.payload for m in received]}"
        assert got[0].topic == desired_topic
        assert retained_desired(hub.mqtt_port, username, password, desired)
        info = client.publish(f"devices/demo:{AIR}/config/reported", json.dumps(desired), qos=1)
        info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()

    def caught_up() -> dict[str, Any] | None:
        body: dict[str, Any] = hub.get(f"/v1/devices/{AIR}/configuration").body
        return body if body["reported"] == desired else None

    config = wait_until(caught_up, timeout_s=10.0)
    assert config, hub.get(f"/v1/devices/{AIR}/configuration").body
    assert config["desired"] == desired
    assert config["pending"] == {}


# --- clean stop and restart --------------------------------------------------------------


def test_sigint_stops_cleanly_and_a_restart_serves_the_same_data(
    hubs: Hubs, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = hubs.start(data_dir)
    now = float(int(time.time()))
    assert first.publish(AIR, telemetry_topic(AIR), air_sample(now)) == 0
    assert_air_reading_served(first, now)
    old_token, old_login, before = first.token, first.login(AIR), first.latest(AIR)

    started = time.monotonic()
    code = hubs.interrupt(first, timeout_s=10.0)
    assert code == 0, f"exit {code} after SIGINT:\n{first.output()[-4000:]}"
    assert time.monotonic() - started < 10.0
    assert "Traceback" not in first.output(), first.output()[-4000:]

    second = hubs.start(data_dir)
    assert second.login(AIR) == old_login  # the device keeps its credentials
    assert_air_reading_served(second, now)
    assert second.latest(AIR) == before
    # the first run's admin token is still valid (the signing key is in the data dir)
    assert second.get(f"/v1/devices/{AIR}/latest", token=old_token).status == 200
    # and the restarted hub keeps ingesting
    later = now + 1
    assert second.publish(AIR, telemetry_topic(AIR), air_sample(later)) == 0
    assert wait_until(lambda: hub_epoch(second) == later)
    assert hubs.interrupt(second) == 0


def hub_epoch(hub: Hub) -> float | None:
    co2 = hub.latest(AIR).get("co2_ppm")
    return None if co2 is None else float(co2["epoch"])


# --- an external mosquitto ---------------------------------------------------------------


@pytest.fixture
def mosquitto_process() -> Iterator[list[Any]]:
    processes: list[Any] = []
    try:
        yield processes
    finally:
        for process in processes:
            mosquitto.stop_mosquitto(process)


def test_the_hub_behind_an_external_mosquitto(
    hubs: Hubs, tmp_path: Path, mosquitto_process: list[Any]
) -> None:
    if MOSQUITTO is None:
        pytest.fail("mosquitto is not installed (CI: apt-get install mosquitto)")
    data_dir = tmp_path / "data"
    # a first run creates the demo devices and their secrets ...
    seeded = hubs.start(data_dir)
    devices = [(d["username"], d["password"]) for d in seeded.demo["devices"]]
    assert hubs.interrupt(seeded) == 0
    # ... which mosquitto then knows, next to the hub's own service user
    port = free_port()
    service_password = secrets.token_urlsafe(24)
    config = mosquitto.write_config(
        tmp_path / "mosquitto",
        port,
        service_username=SERVICE_USER,
        users=[*devices, (SERVICE_USER, service_password)],
    )
    mosquitto_process.append(mosquitto.start_mosquitto(config, port, binary=MOSQUITTO))
    url = f"mqtt://{SERVICE_USER}:{service_password}@127.0.0.1:{port}"
    hub = hubs.start(data_dir, "--mqtt", url, mqtt_port=port)
    assert hub.demo["mqtt"] == f"mqtt://127.0.0.1:{port}"  # no service secret in demo.json
    assert service_password not in json.dumps(hub.demo)

    now = float(int(time.time()))
    assert hub.publish(AIR, telemetry_topic(AIR), air_sample(now)) == 0
    assert_air_reading_served(hub, now)

    marker = f"not json {secrets.token_hex(4)}"
    assert hub.publish(AIR, telemetry_topic(AIR), marker) == 0
    letter = wait_until(
        lambda: next((x for x in hub.dead_letters() if x["payload"] == marker), None)
    )
    assert letter and letter["reason_code"] == "malformed-json"

    # mosquitto's ACL keeps air-001 off air-002's topic
    forged_at = now - 30
    hub.publish("air-002", telemetry_topic("air-002"), air_sample(forged_at, 777), login=AIR)
    assert hub.publish("air-002", telemetry_topic("air-002"), air_sample(now - 29, 555)) == 0
    assert wait_until(lambda: hub.readings("air-002", now - 29, now - 28))
    assert hub.readings("air-002", forged_at - 1, forged_at + 1) == []

    # the desired configuration goes out through mosquitto, retained
    desired = {"sampling_interval_s": 30}
    assert (
        hub.put(f"/v1/devices/{AIR}/configuration/desired", {"configuration": desired}).status
        == 200
    )
    username, password = hub.login(AIR)
    received: list[mqtt.MQTTMessage] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.username_pw_set(username, password)
    client.on_message = lambda _c, _u, message: received.append(message)
    client.on_connect = lambda c, *_args: c.subscribe(f"devices/demo:{AIR}/config/desired", 1)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    try:
        got = wait_until(lambda: [m for m in received if json.loads(m.payload) == desired])
        assert got
    finally:
        client.disconnect()
        client.loop_stop()
    # The PUT returns before the broker has the message, so the first copy may have come
    # live; a device connecting afterwards must get it as a retained message.
    assert retained_desired(port, username, password, desired)
    assert hubs.interrupt(hub) == 0
