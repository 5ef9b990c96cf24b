"""A live SMDH API on a free 127.0.0.1 port, and a small world of two tenants to test with.

The server runs the real ``create_app`` under ``aiohttp.web.AppRunner`` + ``TCPSite`` in a
background thread with its own event loop, so tests (and schemathesis) talk plain HTTP to it.
Tokens are real: issued by the container's token authority or by ``POST /v1/auth/token``.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web

from smdh.application import commands as c
from smdh.application.ports import TokenVerifier
from smdh.application.principals import Principal
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId, UserId
from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.container import Container, build_container
from smdh.entrypoints.http.app import create_app
from smdh.entrypoints.http.ratelimit import RateLimit
from smdh.entrypoints.http.settings import HttpSettings

ROOT = Principal.operator("root")
ROOT_PASSWORD = "root-password-1"
USER_PASSWORD = "user-password-1"
GENEROUS = HttpSettings(
    rate_limit=RateLimit(rate=10_000.0, burst=100_000),
    login_limit=RateLimit(rate=10_000.0, burst=100_000),
)


class LiveServer:
    """``create_app(container)`` served on 127.0.0.1:<free port> from a background thread."""

    def __init__(
        self,
        container: Container,
        verifier: TokenVerifier | None = None,
        settings: HttpSettings | None = None,
    ) -> None:
        self.container = container
        self.verifier = verifier
        self.settings = settings
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _start(self) -> None:
        app = create_app(self.container, self.verifier, self.settings)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # the only way to learn the port chosen for port 0
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def __enter__(self) -> LiveServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@attrs.frozen
class Reply:
    status: int
    headers: Mapping[str, str]
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")


class Client:
    """Plain ``http.client``: sends the path exactly as given (no normalisation)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            return Reply(response.status, dict(response.getheaders()), response.read())
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("PATCH", path, body, **kw)


@attrs.frozen
class TenantFixture:
    tenant_id: str
    site_id: str
    device_id: str
    tokens: Mapping[str, str]  # role -> token
    users: Mapping[str, str]  # role -> user id


@attrs.frozen
class World:
    container: Container
    operator_token: str
    a: TenantFixture
    b: TenantFixture

    def token(self, principal: Principal) -> str:
        return self.container.token_authority().issue(principal).access_token


def new_container(tmp: Path) -> Container:
    container = build_container("memory", tmp)
    container.application().refresh()
    return container


def seed_tenant(container: Container, tenant: str) -> TenantFixture:
    app = container.application()
    tid = TenantId(tenant)
    app.execute(c.RegisterTenant(principal=ROOT, tenant_id=tid, name=f"{tenant} Ltd"))
    users = {role.value: f"{tenant}-{role.value}" for role in Role}
    tokens: dict[str, str] = {}
    for role in Role:
        user = UserId(users[role.value])
        app.execute(
            c.InviteUser(
                principal=ROOT, tenant_id=tid, user_id=user, email=f"{user}@ex.io", role=role
            )
        )
        principal = Principal.user(tid, user, role)
        tokens[role.value] = container.token_authority().issue(principal).access_token
    container.identity().set_user_password(tid, UserId(users["admin"]), USER_PASSWORD)
    site, device = SiteId(f"{tenant}-plant"), DeviceId(f"{tenant}-m1")
    app.execute(
        c.RegisterSite(
            principal=ROOT, tenant_id=tid, site_id=site, name="Plant", timezone="Europe/Berlin"
        )
    )
    app.execute(
        c.RegisterDevice(
            principal=ROOT,
            tenant_id=tid,
            device_id=device,
            site_id=site,
            sensor_type="machine",
            name="Press",
        )
    )
    return TenantFixture(tenant, site, device, tokens, users)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, World]]:
    container = new_container(tmp_path_factory.mktemp("smdh-http"))
    container.identity().set_operator_password("root", ROOT_PASSWORD)
    world = World(
        container=container,
        operator_token=container.token_authority().issue(ROOT).access_token,
        a=seed_tenant(container, "acme"),
        b=seed_tenant(container, "globex"),
    )
    with LiveServer(container, settings=GENEROUS) as server:
        yield server, world


@pytest.fixture(scope="session")
def world(live: tuple[LiveServer, World]) -> World:
    return live[1]


@pytest.fixture(scope="session")
def client(live: tuple[LiveServer, World]) -> Client:
    return Client(live[0].port)


def basic_auth(username: str, secret: str) -> dict[str, str]:
    """A device's ``Authorization: Basic`` header (username ``tenant:device``)."""
    raw = base64.b64encode(f"{username}:{secret}".encode()).decode("ascii")
    return {"Authorization": f"Basic {raw}"}


class EventStream:
    """A server-sent events client on a raw socket: status, headers, then parsed events."""

    def __init__(self, port: int, path: str, headers: Mapping[str, str] | None = None) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        self._conn.request("GET", path, headers=dict(headers or {}))
        self.response = self._conn.getresponse()
        self.status = self.response.status
        self.headers = dict(self.response.getheaders())
        self._buffer = b""

    def _frame(self, deadline: float) -> bytes | None:
        while b"\n\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            sock = self._conn.sock
            if sock is not None:
                sock.settimeout(remaining)
            try:
                chunk = self.response.read1(65536)
            except TimeoutError:
                return None
            if not chunk:
                return None
            self._buffer += chunk
        frame, self._buffer = self._buffer.split(b"\n\n", 1)
        return frame

    def next_event(self, timeout: float = 2.0) -> tuple[str, Any] | None:
        """The next ``event:``/``data:`` pair (comments skipped), or None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._frame(deadline)
            if frame is None:
                return None
            fields = dict(
                line.split(": ", 1) for line in frame.decode().splitlines() if ": " in line
            )
            if "event" in fields:
                return fields["event"], json.loads(fields.get("data", "null"))

    def first_chunk(self, timeout: float = 2.0) -> bytes:
        return self._frame(time.monotonic() + timeout) or b""

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@attrs.frozen
class Device:
    device_id: str
    username: str
    secret: str

    @property
    def auth(self) -> dict[str, str]:
        return basic_auth(self.username, self.secret)


def register(client: Client, token: str, device_id: str, site_id: str) -> Device:
    body = {"device_id": device_id, "site_id": site_id, "sensor_type": "air_quality",
            "name": device_id}  # fmt: skip
    reply = client.post("/v1/devices", body, token=token)
    assert reply.status == 201, reply.text
    credentials = reply.json()["credentials"]
    return Device(device_id, credentials["username"], credentials["secret"])


def send(client: Client, device: Device, payload: Any) -> Reply:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {**device.auth, "Content-Type": "application/json"}
    return client.request("POST", "/v1/ingest", raw=raw, headers=headers)


def assert_problem(reply: Reply, status: int, code: str | None = None) -> dict[str, Any]:
    assert reply.status == status, reply.text
    assert reply.headers.get("Content-Type", "").startswith("application/problem+json")
    body = reply.json()
    assert body["status"] == status
    assert body["type"].startswith("https://smdh.dev/problems/")
    assert body["request_id"] == reply.headers["X-Request-Id"]
    if code is not None:
        assert body["code"] == code, body
    return dict(body)
