"""TLS on the hub's own listeners, as a user runs it: ``smdh tls-cert`` makes a self-signed
pair, ``smdh serve --demo --tls-cert --tls-key`` serves HTTPS and MQTT over TLS in a
subprocess, devices connect with paho trusting that certificate, the operator reads the API
over HTTPS. Clear-text clients get nothing; a bad certificate or key stops ``smdh serve``
with exit status 2 before it listens; the demo's own simulator and ``smdh simulate
--tls-ca`` publish over TLS.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from smdh.entrypoints import cli
from smdh.entrypoints.container import build_container
from smdh.entrypoints.serve import HubEndpoints, HubOptions, run_hub
from smdh.entrypoints.tls import TlsFiles, load_tls_files
from tests.integration.hub.conftest import (
    READY_LINE,
    STARTUP_TIMEOUT_S,
    free_port,
    hub_argv,
    wait_until,
)

pytestmark = pytest.mark.integration

AIR = "air-001"
CLI = [sys.executable, "-m", "smdh.entrypoints.cli"]


def make_cert(directory: Path, *extra: str) -> TlsFiles:
    """``smdh tls-cert --out DIR``, the way a user makes a trial pair."""
    assert cli.main(["tls-cert", "--out", str(directory), *extra]) == 0
    return TlsFiles(directory / "cert.pem", directory / "key.pem")


# --- clients ---------------------------------------------------------------------------------


def trusting(cafile: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


def https_get(url: str, context: ssl.SSLContext, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - https:// only
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class TlsDevice:
    """A paho device: TLS trusting ``cafile`` (None: a clear-text client)."""

    def __init__(
        self,
        port: int,
        login: tuple[str, str],
        cafile: Path | None,
        client_cert: TlsFiles | None = None,
    ) -> None:
        self.port = port
        self.connacks: list[ReasonCode] = []
        self.disconnects = 0
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"tls-test-{secrets.token_hex(4)}",
            protocol=mqtt.MQTTv311,
        )
        self.client.username_pw_set(*login)
        if cafile is not None:
            self.client.tls_set(
                ca_certs=str(cafile),
                certfile=str(client_cert.cert) if client_cert else None,
                keyfile=str(client_cert.key) if client_cert else None,
            )
        self.client.on_connect = lambda _c, _u, _f, rc, _p: self.connacks.append(rc)
        self.client.on_disconnect = lambda *_args: self._disconnected()

    def _disconnected(self) -> None:
        self.disconnects += 1

    def connect(self, timeout_s: float = 10.0) -> ReasonCode | None:
        """The CONNACK's reason code, or None if none came within the timeout."""
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        wait_until(lambda: self.connacks, timeout_s)
        return self.connacks[-1] if self.connacks else None

    def publish(self, topic: str, payload: str) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(10)
        assert info.is_published(), "no PUBACK within 10 s"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def devices() -> Iterator[list[TlsDevice]]:
    made: list[TlsDevice] = []
    yield made
    for device in made:
        device.close()


# --- the hub as a subprocess -----------------------------------------------------------------


@attrs.define
class TlsHub:
    data_dir: Path
    http_port: int
    mqtt_port: int
    tls: TlsFiles
    process: subprocess.Popen[bytes]
    log_path: Path
    demo: dict[str, Any] = attrs.field(factory=dict)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.http_port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def login(self, device_id: str) -> tuple[str, str]:
        entry = next(d for d in self.demo["devices"] if d["device_id"] == device_id)
        return str(entry["username"]), str(entry["password"])

    def get(self, path: str) -> tuple[int, Any]:
        return https_get(self.url + path, trusting(self.tls.cert), self.demo["admin"]["token"])

    def latest(self, device_id: str) -> dict[str, Any]:
        status, body = self.get(f"/v1/devices/{device_id}/latest")
        assert status == 200, body
        values: dict[str, Any] = body["values"]
        return values

    def stop(self) -> int | None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            return None


def start_tls_hub(data_dir: Path, tls: TlsFiles, *, simulator: bool = False) -> TlsHub:
    data_dir.mkdir(parents=True, exist_ok=True)
    http_port, mqtt_port = free_port(), free_port()
    argv = hub_argv(data_dir, http_port, mqtt_port, ("--tls-cert", str(tls.cert)))
    argv += ["--tls-key", str(tls.key)]
    if simulator:
        argv.remove("--no-simulator")
    log_path = data_dir / f"hub-{secrets.token_hex(3)}.out"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    hub = TlsHub(data_dir, http_port, mqtt_port, tls, process, log_path)
    ready = wait_until(
        lambda: READY_LINE in hub.output() or process.poll() is not None, STARTUP_TIMEOUT_S
    )
    if not ready or process.poll() is not None:
        hub.stop()
        pytest.fail(f"the TLS hub did not start (exit {process.poll()}):\n{hub.output()[-4000:]}")
    hub.demo = json.loads((data_dir / "demo.json").read_text())
    return hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsHub]:
    tls = make_cert(tmp_path_factory.mktemp("tls-certs"), "--host", "hub.plant.example")
    started = start_tls_hub(tmp_path_factory.mktemp("tls-hub") / "data", tls)
    try:
        yield started
    finally:
        code = started.stop()
        assert code == 0, f"exit {code} after SIGINT:\n{started.output()[-4000:]}"
        assert "Traceback" not in started.output(), started.output()[-4000:]


def air_sample(timestamp: float) -> str:
    return json.dumps({"timestamp": timestamp, "co2_ppm": 800, "pm25_ugm3": 35.9, "pm10_ugm3": 40})


# --- the done-when ---------------------------------------------------------------------------


def test_demo_json_names_the_tls_endpoints_and_what_to_trust(hub: TlsHub) -> None:
    assert hub.demo["http"] == f"https://127.0.0.1:{hub.http_port}"
    assert hub.demo["mqtt"] == f"mqtts://127.0.0.1:{hub.mqtt_port}"
    assert hub.demo["tls"] == {"ca_file": str(hub.tls.cert.absolute())}
    assert Path(hub.demo["tls"]["ca_file"]).is_absolute()
    assert "without TLS" not in hub.output()  # no clear-text warning


def test_a_device_publishes_over_tls_and_https_serves_the_reading(
    hub: TlsHub, devices: list[TlsDevice]
) -> None:
    device = TlsDevice(hub.mqtt_port, hub.login(AIR), hub.tls.cert)  # no client certificate
    devices.append(device)
    rc = device.connect()
    assert rc is not None and not rc.is_failure, rc
    now = float(int(time.time()))
    device.publish(f"sensors/demo:{AIR}/telemetry", air_sample(now))

    def served() -> dict[str, Any] | None:
        values = hub.latest(AIR)
        co2 = values.get("co2_ppm")
        return values if co2 is not None and co2["epoch"] == now else None

    values = wait_until(served, timeout_s=10.0)
    assert values, f"no reading at {now} over HTTPS within 10 s: {hub.latest(AIR)}"
    assert values["co2_ppm"]["value"] == 800
    assert values["aqi_instant"]["value"] == 102


def test_wrong_credentials_over_tls_are_still_refused(
    hub: TlsHub, devices: list[TlsDevice]
) -> None:
    username, _ = hub.login(AIR)
    device = TlsDevice(hub.mqtt_port, (username, "not-the-password"), hub.tls.cert)
    devices.append(device)
    rc = device.connect()
    assert rc is not None and rc.getName() == "Not authorized", rc  # CONNACK 5


def test_a_device_with_its_own_client_certificate_still_logs_in_by_password(
    hub: TlsHub, devices: list[TlsDevice], tmp_path: Path
) -> None:
    """amqtt asks for a client certificate (CERT_OPTIONAL) and would refuse one from a CA the
    host does not trust; the hub asks for none (devices log in with username/password)."""
    own = make_cert(tmp_path / "device-cert", "--host", "device.example")
    device = TlsDevice(hub.mqtt_port, hub.login(AIR), hub.tls.cert, client_cert=own)
    devices.append(device)
    rc = device.connect()
    assert rc is not None and not rc.is_failure, rc


def test_a_clear_text_mqtt_client_gets_no_connack(hub: TlsHub, devices: list[TlsDevice]) -> None:
    device = TlsDevice(hub.mqtt_port, hub.login(AIR), cafile=None)
    devices.append(device)
    assert device.connect(timeout_s=3.0) is None
    assert wait_until(lambda: device.disconnects, 5.0), "the hub kept the clear-text connection"


def test_a_clear_text_connect_packet_is_answered_with_no_connack(hub: TlsHub) -> None:
    """The same on the wire: a CONNECT in clear text gets no CONNACK (0x20) back."""
    username, password = (part.encode() for part in hub.login(AIR))
    body = b"\x00\x04MQTT\x04\xc2\x00\x1e" + b"\x00\x03raw"
    body += len(username).to_bytes(2, "big") + username + len(password).to_bytes(2, "big")
    body += password
    with socket.create_connection(("127.0.0.1", hub.mqtt_port), timeout=5) as sock:
        sock.sendall(bytes([0x10, len(body)]) + body)
        try:
            reply = sock.recv(16)
        except (TimeoutError, ConnectionResetError):
            reply = b""
    assert not reply.startswith(b"\x20"), reply  # empty (closed) or a TLS alert (0x15)


def test_plain_http_to_the_https_port_fails(hub: TlsHub) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", hub.http_port, timeout=5)
    try:
        with pytest.raises((http.client.HTTPException, OSError)):
            connection.request("GET", "/healthz")
            connection.getresponse()
    finally:
        connection.close()


def test_an_https_client_that_does_not_trust_the_certificate_fails(hub: TlsHub) -> None:
    with pytest.raises(urllib.error.URLError) as raised:
        https_get(hub.url + "/healthz", ssl.create_default_context())
    assert isinstance(raised.value.reason, ssl.SSLCertVerificationError)


def test_old_tls_versions_are_refused(hub: TlsHub) -> None:
    context = trusting(hub.tls.cert)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1 itself
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that this client can offer TLS 1.1
    for port in (hub.http_port, hub.mqtt_port):
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
            pytest.raises(ssl.SSLError),  # an alert, or the hub hangs up
        ):
            context.wrap_socket(sock, server_hostname="127.0.0.1").close()


def test_smdh_simulate_with_tls_ca_publishes_over_tls(hub: TlsHub, tmp_path: Path) -> None:
    # a device file without "tls": the CA comes from --tls-ca only
    air = [d for d in hub.demo["devices"] if d["sensor_type"] == "air_quality"][:2]
    devices_file = tmp_path / "devices.json"
    devices_file.write_text(json.dumps({"mqtt": hub.demo["mqtt"], "devices": air}))
    base = [*CLI, "--json", "simulate", "--devices", str(devices_file), "--duration", "2"]
    base += ["--seed", "7"]
    trusted = subprocess.run(  # noqa: S603
        [*base, "--tls-ca", str(hub.tls.cert)], capture_output=True, timeout=60, check=False
    )
    assert trusted.returncode == 0, trusted.stderr.decode()[-2000:]
    report = json.loads(trusted.stdout)
    assert report["published"] > 0, trusted.stderr.decode()[-2000:]
    assert report["failed"] == 0
    # without it the system's CAs do not know the self-signed certificate: nothing gets in
    untrusted = subprocess.run(base, capture_output=True, timeout=60, check=False)  # noqa: S603
    assert json.loads(untrusted.stdout)["published"] == 0
    assert b"CERTIFICATE_VERIFY_FAILED" in untrusted.stderr


def test_smdh_simulate_takes_the_ca_from_the_demo_file(hub: TlsHub) -> None:
    argv = [*CLI, "--json", "simulate", "--devices", str(hub.data_dir / "demo.json")]
    argv += ["--duration", "2", "--type", "air_quality", "--seed", "3"]
    completed = subprocess.run(argv, capture_output=True, timeout=60, check=False)  # noqa: S603
    assert completed.returncode == 0, completed.stderr.decode()[-2000:]
    assert json.loads(completed.stdout)["published"] > 0, completed.stderr.decode()[-2000:]


def test_the_demo_simulator_publishes_over_tls(tmp_path: Path) -> None:
    tls = make_cert(tmp_path / "certs")
    hub = start_tls_hub(tmp_path / "data", tls, simulator=True)
    try:
        # machines report every few seconds of simulated time, starting now
        started = time.time() - 1
        fresh = wait_until(
            lambda: [
                m
                for m in hub.latest("machine-001").values()
                if isinstance(m, dict) and m["epoch"] >= started
            ],
            timeout_s=20.0,
            step_s=0.5,
        )
        assert fresh, f"no simulated reading over TLS:\n{hub.output()[-4000:]}"
        assert "cannot connect" not in hub.output(), hub.output()[-4000:]
    finally:
        code = hub.stop()
    assert code == 0, f"exit {code} after SIGINT:\n{hub.output()[-4000:]}"


# --- bad certificates stop `smdh serve` before it listens ----------------------------------


def serve_with(tmp_path: Path, *tls_args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    http_port = free_port()
    argv = [*CLI, "--data-dir", str(tmp_path / "data"), "serve", "--http"]
    argv += [f"127.0.0.1:{http_port}", "--mqtt-listen", f"127.0.0.1:{free_port()}", *tls_args]
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    return completed, http_port


def test_a_key_that_does_not_match_the_certificate_exits_2(tmp_path: Path) -> None:
    one, other = make_cert(tmp_path / "one"), make_cert(tmp_path / "other")
    completed, http_port = serve_with(
        tmp_path, "--tls-cert", str(one.cert), "--tls-key", str(other.key)
    )
    assert completed.returncode == 2, completed
    assert "does not match the certificate" in completed.stderr
    assert str(other.key) in completed.stderr
    assert "Traceback" not in completed.stderr
    assert "serving" not in completed.stdout
    with pytest.raises(OSError):  # nothing listens
        socket.create_connection(("127.0.0.1", http_port), timeout=1).close()


def test_a_missing_certificate_file_exits_2(tmp_path: Path) -> None:
    tls = make_cert(tmp_path / "certs")
    missing = tmp_path / "nowhere" / "cert.pem"
    completed, _ = serve_with(tmp_path, "--tls-cert", str(missing), "--tls-key", str(tls.key))
    assert completed.returncode == 2, completed
    assert f"--tls-cert {missing}: no such file" in completed.stderr
    assert "serving" not in completed.stdout


def test_half_a_pair_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tls = make_cert(tmp_path / "certs")
    capsys.readouterr()
    code = cli.main(["--data-dir", str(tmp_path / "data"), "serve", "--tls-cert", str(tls.cert)])
    assert code == 2
    assert "give both or neither" in capsys.readouterr().err


# --- run_hub in-process: the endpoints and the warning ----------------------------------------


def run_briefly(options: HubOptions, data_dir: Path) -> HubEndpoints:
    container = build_container("local", str(data_dir))
    seen: list[HubEndpoints] = []
    stop = asyncio.Event()

    def started(endpoints: HubEndpoints) -> None:
        seen.append(endpoints)
        stop.set()

    async def main() -> None:
        await run_hub(container, options, on_started=started, stop=stop)

    asyncio.run(main())
    return seen[0]


def test_run_hub_reports_https_and_mqtts_endpoints(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    made = make_cert(tmp_path / "certs")
    tls = load_tls_files(made.cert, made.key)
    http_port, mqtt_port = free_port(), free_port()
    options = HubOptions(
        http=("127.0.0.1", http_port), mqtt_listen=("127.0.0.1", mqtt_port), tls=tls
    )
    with caplog.at_level("WARNING", logger="smdh.serve"):
        endpoints = run_briefly(options, tmp_path / "data")
    assert endpoints == HubEndpoints(
        f"https://127.0.0.1:{http_port}", f"mqtts://127.0.0.1:{mqtt_port}"
    )
    assert not [r for r in caplog.records if "clear text" in r.getMessage()]


def test_run_hub_warns_once_when_clear_text_listens_on_every_address(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    options = HubOptions(http=("0.0.0.0", free_port()), mqtt_listen=("0.0.0.0", free_port()))  # noqa: S104
    with caplog.at_level("WARNING", logger="smdh.serve"):
        endpoints = run_briefly(options, tmp_path / "data")
    assert endpoints.http_url.startswith("http://")
    warnings = [r for r in caplog.records if "clear text" in r.getMessage()]
    assert len(warnings) == 1, caplog.text
    assert "--tls-cert" in warnings[0].getMessage()
