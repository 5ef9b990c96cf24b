"""Running SMDH against an external mosquitto (2.0+): configuration and process helpers.

Used by the integration tests, and a worked example for operators (docs/reliability.md).

Credentials: device usernames are ``"{tenant}:{device}"``, and mosquitto's ``password_file``
cannot hold them (``mosquitto_passwd`` refuses ':' and the broker splits lines at the first
':'). So authentication goes through mosquitto's bundled *dynamic security* plugin, whose
JSON file we write directly (PBKDF2-SHA512, the plugin's own format), while authorisation
stays a plain ``acl_file`` with ``%u`` patterns: the plugin has no roles for these clients,
defers every ACL check, and mosquitto falls back to the ACL file.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from smdh.adapters.embedded.mqtt_messages import INGEST_FILTERS

DYNSEC_PLUGIN_PATHS = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)
_PBKDF2_ITERATIONS = 101  # what mosquitto_ctrl writes; device secrets are 256-bit random


def dynsec_plugin_path() -> Path:
    for candidate in DYNSEC_PLUGIN_PATHS:
        if Path(candidate).exists():
            return Path(candidate)
    raise FileNotFoundError("mosquitto_dynamic_security.so not found; install mosquitto 2.0+")


def dynsec_client(username: str, password: str) -> dict[str, object]:
    """A dynamic-security client entry with a PBKDF2-SHA512 password hash and no roles."""
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ITERATIONS, 64)
    return {
        "username": username,
        "password": base64.b64encode(digest).decode("ascii"),
        "salt": base64.b64encode(salt).decode("ascii"),
        "iterations": _PBKDF2_ITERATIONS,
        "roles": [],
    }


def write_credentials(path: Path, users: Iterable[tuple[str, str]]) -> Path:
    """The dynamic-security file for ``(username, password)`` pairs (devices and service).

    Every ACL default is "deny", so the plugin defers to the ``acl_file``. Mosquitto reads
    this file at start: restart it (or use ``mosquitto_ctrl dynsec``) after adding devices.
    """
    document = {
        "clients": [dynsec_client(user, password) for user, password in users],
        "groups": [],
        "roles": [],
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
    }
    _write_private(path, json.dumps(document, indent=1))
    return path


def write_acl_file(path: Path, service_username: str) -> Path:
    """Devices write their own ingest topics and read their own desired config (``%u``)."""
    lines = [f"user {service_username}"]
    lines += [f"topic read {topic_filter}" for topic_filter in INGEST_FILTERS]
    lines += ["topic write devices/+/config/desired", ""]
    lines += [
        "pattern write sensors/%u/telemetry",
        "pattern write events/%u/scan",
        "pattern write devices/%u/config/reported",
        "pattern read devices/%u/config/desired",
    ]
    _write_private(path, "\n".join(lines) + "\n")
    return path


def write_config(
    directory: Path,
    port: int,
    *,
    host: str = "127.0.0.1",
    service_username: str = "smdh-service",
    users: Iterable[tuple[str, str]] = (),
    max_inflight_messages: int = 1000,
    max_queued_messages: int = 100_000,
    autosave_interval_s: int = 10,
) -> Path:
    """Write ``mosquitto.conf`` (+ credentials and ACL) into ``directory``; return its path.

    ``max_inflight_messages`` bounds what mosquitto sends SMDH ahead of acknowledgements;
    ``max_queued_messages`` is how much it holds per client while SMDH is slow or down
    (beyond it mosquitto drops QoS-1 messages); the persistence file is rewritten every
    ``autosave_interval_s`` seconds, which is what a crash of mosquitto itself can lose.
    """
    directory.mkdir(parents=True, exist_ok=True)
    persistence = directory / "persistence"
    persistence.mkdir(exist_ok=True)
    credentials = write_credentials(directory / "dynamic-security.json", users)
    acl = write_acl_file(directory / "acl", service_username)
    config = directory / "mosquitto.conf"
    settings = [
        f"listener {port} {host}",
        "allow_anonymous false",
        f"plugin {dynsec_plugin_path()}",
        f"plugin_opt_config_file {credentials}",
        f"acl_file {acl}",
        "persistence true",
        f"persistence_location {persistence}/",
        f"autosave_interval {autosave_interval_s}",
        f"max_inflight_messages {max_inflight_messages}",
        f"max_queued_messages {max_queued_messages}",
        # Without this, mosquitto started as root switches to the "mosquitto" user, which
        # cannot read these owner-only files.
        f"user {getpass.getuser()}",
        "log_dest stdout",
        "log_type error",
        "log_type warning",
        "log_type notice",
    ]
    _write_private(config, "\n".join(settings) + "\n")
    return config


def start_mosquitto(
    config: Path,
    port: int,
    *,
    host: str = "127.0.0.1",
    binary: str = "mosquitto",
    log_path: Path | None = None,
    timeout_s: float = 10.0,
) -> subprocess.Popen[bytes]:
    """Start mosquitto with ``config``; return once ``host:port`` accepts connections."""
    log_file = (log_path or config.with_suffix(".log")).open("ab")
    try:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [binary, "-c", str(config)], stdout=log_file, stderr=subprocess.STDOUT
        )
    finally:
        log_file.close()  # the child holds its own descriptor
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {process.returncode}; see {log_file.name}")
        if _accepts(host, port):
            return process
        time.sleep(0.05)
    stop_mosquitto(process)
    raise TimeoutError(f"mosquitto did not listen on {host}:{port} within {timeout_s}s")


def stop_mosquitto(process: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """SIGTERM (mosquitto saves its persistence file), SIGKILL if it does not exit."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout_s)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
