"""The real hub as a subprocess: ``python -m smdh.entrypoints.cli ... serve --demo``.

``hubs`` starts hubs on free ports and guarantees every process it started is gone at the
end of the test (SIGKILL after a grace period). Helpers talk to a hub the way an operator
and devices do: HTTP with the demo admin token or a device's Basic credentials,
``mosquitto_pub`` for MQTT publishes, paho for subscriptions.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

STARTUP_TIMEOUT_S = 30.0
READY_LINE = "Ctrl-C to stop."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout_s: float = 10.0, step_s: float = 0.05) -> Any:
    """The first truthy value of ``condition()`` within the timeout, else the last one."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step_s)


def mosquitto_pub_binary() -> str:
    found = shutil.which("mosquitto_pub")
    if found is None:
        pytest.fail(
            "mosquitto_pub is not installed; install mosquitto-clients "
            "(CI does: apt-get install mosquitto mosquitto-clients)"
        )
    return found


@attrs.define
class HttpReply:
    status: int
    body: Any
    headers: dict[str, str]


def http_request(
    method: str,
    url: str,
    *,
    token: str | None = None,
    basic: tuple[str, str] | None = None,
    body: bytes | str | dict[str, Any] | list[Any] | None = None,
    timeout_s: float = 10.0,
) -> HttpReply:
    headers: dict[str, str] = {}
    data: bytes | None = None
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if basic is not None:
        pair = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
    if isinstance(body, dict | list):
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    elif body is not None:
        data = body.encode() if isinstance(body, str) else body
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            raw, status, got = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, dict(error.headers)
    try:
        parsed: Any = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return HttpReply(status, parsed, got)


@attrs.define
class Hub:
    """One hub process and what its demo.json says."""

    data_dir: Path
    http_port: int
    mqtt_port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    demo: dict[str, Any] = attrs.field(factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def token(self) -> str:
        return str(self.demo["admin"]["token"])

    def device(self, device_id: str) -> dict[str, Any]:
        found = [d for d in self.demo["devices"] if d["device_id"] == device_id]
        assert found, f"no {device_id} in demo.json"
        return dict(found[0])

    def login(self, device_id: str) -> tuple[str, str]:
        entry = self.device(device_id)
        return str(entry["username"]), str(entry["password"])

    def get(self, path: str, token: str | None = None) -> HttpReply:
        return http_request("GET", self.url + path, token=token or self.token)

    def put(self, path: str, body: dict[str, Any]) -> HttpReply:
        return http_request("PUT", self.url + path, token=self.token, body=body)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def latest(self, device_id: str) -> dict[str, Any]:
        reply = self.get(f"/v1/devices/{device_id}/latest")
        assert reply.status == 200, reply
        values: dict[str, Any] = reply.body["values"]
        return values

    def readings(self, device_id: str, start: float, end: float) -> list[dict[str, Any]]:
        reply = self.get(
            f"/v1/devices/{device_id}/readings?from={start:.3f}&to={end:.3f}&limit=10000"
        )
        assert reply.status == 200, reply
        assert not reply.body["truncated"], "widen the limit: readings were truncated"
        items: list[dict[str, Any]] = reply.body["items"]
        return items

    def dead_letters(self) -> list[dict[str, Any]]:
        letters: list[dict[str, Any]] = []
        after = 0
        while True:
            reply = self.get(f"/v1/dead-letters?after={after}&limit=500")
            assert reply.status == 200, reply
            letters += reply.body["items"]
            if not reply.body["items"] or reply.body["next_cursor"] is None:
                return letters
            after = letters[-1]["id"]

    def publish(self, device_id: str, topic: str, message: str, *, login: str = "") -> int:
        """``mosquitto_pub -q 1`` as ``device_id`` (or the device named by ``login``)."""
        username, password = self.login(login or device_id)
        argv = [
            mosquitto_pub_binary(),
            "-h", "127.0.0.1", "-p", str(self.mqtt_port),
            "-u", username, "-P", password,
            "-q", "1", "-t", topic, "-m", message,
        ]  # fmt: skip
        completed = subprocess.run(argv, capture_output=True, timeout=15, check=False)  # noqa: S603
        return completed.returncode

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def wait(self, timeout_s: float) -> int | None:
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None


def hub_argv(
    data_dir: Path, http_port: int, mqtt_port: int, extra: tuple[str, ...] = ()
) -> list[str]:
    return [
        sys.executable, "-m", "smdh.entrypoints.cli", "--data-dir", str(data_dir),
        "serve", "--demo", "--no-simulator",
        "--http", f"127.0.0.1:{http_port}", "--mqtt-listen", f"127.0.0.1:{mqtt_port}",
        *extra,
    ]  # fmt: skip


class Hubs:
    """Starts hubs and stops every one of them at teardown."""

    def __init__(self) -> None:
        self.started: list[Hub] = []

    def start(self, data_dir: Path, *extra: str, mqtt_port: int | None = None) -> Hub:
        data_dir.mkdir(parents=True, exist_ok=True)
        http_port, mqtt_port = free_port(), mqtt_port or free_port()
        log_path = data_dir / f"hub-{len(self.started)}-{secrets.token_hex(3)}.out"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                hub_argv(data_dir, http_port, mqtt_port, extra),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        hub = Hub(data_dir, http_port, mqtt_port, process, log_path)
        self.started.append(hub)
        ready = wait_until(
            lambda: READY_LINE in hub.output() or process.poll() is not None, STARTUP_TIMEOUT_S
        )
        if not ready or process.poll() is not None:
            self.kill(hub)
            pytest.fail(f"the hub did not start (exit {process.poll()}):\n{hub.output()[-4000:]}")
        healthy = wait_until(lambda: _healthy(hub.url), 10.0)
        assert healthy, f"/healthz did not answer:\n{hub.output()[-4000:]}"
        hub.demo = json.loads((data_dir / "demo.json").read_text())
        assert hub.demo["http"] == hub.url
        return hub

    def interrupt(self, hub: Hub, timeout_s: float = 10.0) -> int | None:
        """SIGINT (Ctrl-C) and the exit code within ``timeout_s`` (None: it hung)."""
        hub.signal(signal.SIGINT)
        code = hub.wait(timeout_s)
        if code is None:
            self.kill(hub)
        return code

    def kill(self, hub: Hub) -> None:
        if hub.process.poll() is None:
            hub.process.kill()
        hub.process.wait(10)

    def close(self) -> None:
        for hub in self.started:
            if hub.process.poll() is None:
                hub.signal(signal.SIGINT)
        for hub in self.started:
            if hub.wait(5.0) is None:
                self.kill(hub)


def _healthy(url: str) -> bool:
    try:
        return http_request("GET", url + "/healthz", timeout_s=2.0).status == 200
    except OSError:
        return False


@pytest.fixture
def hubs() -> Iterator[Hubs]:
    started = Hubs()
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def module_hubs() -> Iterator[Hubs]:
    started = Hubs()
    try:
        yield started
    finally:
        started.close()
