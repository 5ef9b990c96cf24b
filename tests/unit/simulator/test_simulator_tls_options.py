"""``smdh simulate`` and TLS: what it trusts (``--tls-ca``, else the device file's
``tls.ca_file``) and where it connects when a hub listens on every address."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from smdh.entrypoints.simulator.command import (
    add_simulate_parser,
    load_device_file,
    local_url,
    simulate,
)

DEVICE = {"device_id": "a-1", "sensor_type": "air_quality", "username": "t:a-1", "password": "s"}


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_simulate_parser(parser.add_subparsers())
    return parser.parse_args(["simulate", *argv])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtts://0.0.0.0:8883", "mqtts://127.0.0.1:8883"),
        ("https://0.0.0.0:8443", "https://127.0.0.1:8443"),
        ("mqtts://[::]:8883", "mqtts://[::1]:8883"),
        ("mqtts://hub.plant.example:8883", "mqtts://hub.plant.example:8883"),
        ("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1883"),
        ("", ""),
    ],
)
def test_a_wildcard_bind_address_means_this_machine(url: str, expected: str) -> None:
    assert local_url(url) == expected


def test_the_device_file_names_what_to_trust(tmp_path: Path) -> None:
    demo = tmp_path / "demo.json"
    demo.write_text(json.dumps({"devices": [DEVICE], "tls": {"ca_file": "/etc/hub/cert.pem"}}))
    assert load_device_file(demo).ca_file == "/etc/hub/cert.pem"
    demo.write_text(json.dumps({"devices": [DEVICE], "tls": {"ca_file": "certs/cert.pem"}}))
    assert load_device_file(demo).ca_file == str(tmp_path / "certs" / "cert.pem")
    demo.write_text(json.dumps({"devices": [DEVICE]}))
    assert load_device_file(demo).ca_file is None


def test_a_missing_tls_ca_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = tmp_path / "demo.json"
    demo.write_text(json.dumps({"mqtt": "mqtts://127.0.0.1:8883", "devices": [DEVICE]}))
    args = parse("--devices", str(demo), "--tls-ca", str(tmp_path / "nope.pem"))
    assert args.tls_ca == str(tmp_path / "nope.pem")
    with pytest.raises(SystemExit) as raised:
        simulate(args)
    assert raised.value.code == 2
    assert f"--tls-ca {tmp_path / 'nope.pem'}: no such file" in capsys.readouterr().err
