"""The start-up warning when the hub listens in clear text where others can reach it."""

from __future__ import annotations

from pathlib import Path

import pytest

from smdh.entrypoints.serve import HubOptions, cleartext_warning, is_loopback, warn_if_cleartext
from smdh.entrypoints.tls import TlsFiles

ANY_V4, ANY_V6 = "0.0.0.0", "::"  # noqa: S104 - what the warning is about
TLS = TlsFiles(Path("/etc/smdh/cert.pem"), Path("/etc/smdh/key.pem"))


def warnings_logged(options: HubOptions, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.clear()
    with caplog.at_level("WARNING", logger="smdh.serve"):
        warn_if_cleartext(options)
    return [r.getMessage() for r in caplog.records if r.name == "smdh.serve"]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "localhost", "LOCALHOST"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", [ANY_V4, ANY_V6, "", "192.168.1.20", "hub.plant.example"])
def test_addresses_others_can_reach(host: str) -> None:
    assert not is_loopback(host)


def test_no_warning_on_loopback(caplog: pytest.LogCaptureFixture) -> None:
    options = HubOptions(http=("127.0.0.1", 8080), mqtt_listen=("::1", 1883))
    assert warnings_logged(options, caplog) == []


def test_one_warning_for_both_listeners_on_every_address(caplog: pytest.LogCaptureFixture) -> None:
    options = HubOptions(http=(ANY_V4, 8080), mqtt_listen=(ANY_V4, 1883))
    [message] = warnings_logged(options, caplog)
    assert "HTTP on 0.0.0.0:8080 and MQTT on 0.0.0.0:1883" in message
    assert "clear text" in message
    assert "passwords" in message and "tokens" in message
    assert "--tls-cert CERT.pem --tls-key KEY.pem" in message
    assert "smdh tls-cert" in message


def test_the_warning_names_only_the_exposed_listener(caplog: pytest.LogCaptureFixture) -> None:
    options = HubOptions(http=("127.0.0.1", 8080), mqtt_listen=("10.0.0.5", 1883))
    [message] = warnings_logged(options, caplog)
    assert message.startswith("MQTT on 10.0.0.5:1883 without TLS")
    assert "HTTP on" not in message


def test_no_warning_with_tls(caplog: pytest.LogCaptureFixture) -> None:
    options = HubOptions(http=(ANY_V4, 8443), mqtt_listen=(ANY_V6, 8883), tls=TLS)
    assert warnings_logged(options, caplog) == []


def test_an_external_broker_is_not_the_hubs_listener() -> None:
    # with --mqtt the embedded broker does not run: --mqtt-listen binds nothing
    options = HubOptions(
        http=("127.0.0.1", 8080), mqtt_listen=(ANY_V4, 1883), mqtt_url="mqtts://broker:8883"
    )
    assert cleartext_warning(options) is None
