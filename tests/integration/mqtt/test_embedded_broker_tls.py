"""The embedded broker with a TLS listener (``certfile``/``keyfile``): devices log in with
their passwords over TLS, without a client certificate or with one the hub cannot verify;
clear-text clients get no CONNACK; a refused login over TLS is answered cleanly."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from smdh.adapters.embedded.mqtt_broker import EmbeddedBroker
from smdh.adapters.embedded.mqtt_messages import telemetry_topic
from smdh.entrypoints.tls import SelfSigned, write_self_signed
from tests.integration.mqtt.conftest import (
    DeviceClient,
    DeviceLogin,
    Fleet,
    RecordingHandler,
    free_port,
    wait_until,
)

pytestmark = pytest.mark.integration

Devices = Callable[..., DeviceClient]
MakeBroker = Callable[..., EmbeddedBroker]


@pytest.fixture
def cert(tmp_path: Path) -> SelfSigned:
    return write_self_signed(tmp_path / "server")


def tls_device(
    devices: Devices, broker: EmbeddedBroker, login: DeviceLogin, ca: Path
) -> DeviceClient:
    device = devices(broker.listen_port, login)
    device.client.tls_set(ca_certs=str(ca))
    return device


def test_a_device_logs_in_with_its_password_over_tls(
    make_embedded: MakeBroker, fleet: Fleet, devices: Devices, cert: SelfSigned
) -> None:
    handler = RecordingHandler()
    broker = make_embedded(handler, certfile=cert.cert, keyfile=cert.key)
    assert broker.service_url.startswith("mqtts://")
    device = tls_device(devices, broker, fleet.a, cert.cert)
    assert not device.connect().is_failure
    device.publish(telemetry_topic(fleet.a.key), b'{"spindle_rpm": 900}').wait_for_publish(5)
    assert [m.payload for m in handler.messages] == [b'{"spindle_rpm": 900}']


def test_a_client_certificate_the_hub_cannot_verify_does_not_matter(
    make_embedded: MakeBroker, fleet: Fleet, devices: Devices, cert: SelfSigned, tmp_path: Path
) -> None:
    own = write_self_signed(tmp_path / "device", ["press-1.example"])
    broker = make_embedded(RecordingHandler(), certfile=cert.cert, keyfile=cert.key)
    device = devices(broker.listen_port, fleet.a)
    device.client.tls_set(ca_certs=str(cert.cert), certfile=str(own.cert), keyfile=str(own.key))
    assert not device.connect().is_failure


def test_a_clear_text_client_gets_no_connack(
    make_embedded: MakeBroker, fleet: Fleet, devices: Devices, cert: SelfSigned
) -> None:
    handler = RecordingHandler()
    broker = make_embedded(handler, certfile=cert.cert, keyfile=cert.key)
    device = devices(broker.listen_port, fleet.a)
    with pytest.raises(AssertionError, match="no CONNACK"):
        device.connect(timeout_s=2.0)
    assert handler.messages == []


def test_a_refused_login_over_tls_is_answered_without_an_unhandled_error(
    make_embedded: MakeBroker,
    fleet: Fleet,
    devices: Devices,
    cert: SelfSigned,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = make_embedded(RecordingHandler(), certfile=cert.cert, keyfile=cert.key)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            wrong = DeviceLogin(fleet.a.username, "not-the-secret")
            device = tls_device(devices, broker, wrong, cert.cert)
            assert device.connect().getName() == "Not authorized"
            device.close()
        assert wait_until(lambda: "login refused" in caplog.text)
        # the device hangs up after its CONNACK 5; closing our side must not blow up then
        wait_until(lambda: "Unhandled exception" in caplog.text, 1.0)
    assert "Unhandled exception" not in caplog.text, caplog.text
    # and the broker still serves the device with the right password
    device = tls_device(devices, broker, fleet.a, cert.cert)
    assert not device.connect().is_failure


def test_tls_needs_both_files(fleet: Fleet, cert: SelfSigned) -> None:
    with pytest.raises(ValueError, match="both certfile and keyfile"):
        EmbeddedBroker(
            "127.0.0.1",
            free_port(),
            fleet.checks.authenticate,
            fleet.checks.authorize_publish,
            certfile=cert.cert,
        )
