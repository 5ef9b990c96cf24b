"""A moto server for the whole test session, and boto3 clients pointed at it.

``moto_server`` starts one ``ThreadedMotoServer`` on 127.0.0.1 and a free port (stopped when
the session ends) and returns its endpoint URL. ``aws_clients`` is a factory
``make_client(service_name) -> boto3 client`` in eu-central-1 with dummy credentials that
are set in the environment for the test only, so nothing ever reads or writes ``~/.aws``.
``moto_reset`` (autouse in this folder) wipes all moto state before each test.
``emulate_timestream_writes`` makes moto's Timestream tables apply the service's documented
upsert rules for one test (see ``timestream_emulator``).

Other test folders can reuse these by importing them into their own ``conftest.py``::

    from tests.integration.aws.conftest import aws_clients, moto_reset, moto_server  # noqa
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from moto.server import ThreadedMotoServer

from tests.integration.aws.timestream_emulator import install_write_semantics

REGION = "eu-central-1"

_DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # never fall back to the developer's real configuration or instance metadata
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The endpoint URL of a moto server running for the whole session."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Dummy AWS credentials and region in the environment (undone after the test)."""
    for name, value in _DUMMY_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return dict(_DUMMY_ENV)


@pytest.fixture
def moto_reset(moto_server: str) -> Iterator[None]:
    """Every test starts with an empty moto account."""
    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    yield


@pytest.fixture
def aws_clients(
    moto_server: str, aws_env: dict[str, str], moto_reset: None
) -> Callable[[str], Any]:
    """``make_client(service_name)``: a boto3 client talking to the moto server."""
    config = Config(retries={"max_attempts": 2, "mode": "standard"})

    def make_client(service_name: str) -> Any:
        return boto3.session.Session(region_name=REGION).client(
            service_name,  # type: ignore[call-overload]
            region_name=REGION,
            endpoint_url=moto_server,
            aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=aws_env["AWS_SESSION_TOKEN"],
            config=config,
        )

    return make_client


@pytest.fixture
def emulate_timestream_writes(monkeypatch: pytest.MonkeyPatch, moto_reset: None) -> None:
    """moto's Timestream tables reject and replace records as Timestream does (this test)."""
    install_write_semantics(monkeypatch)
