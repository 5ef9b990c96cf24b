"""Injection strings in every path and query parameter: 400 or 404, never 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from smdh.entrypoints.http.core import Route
from smdh.entrypoints.http.routes import all_routes
from tests.integration.http.conftest import Client, EventStream, World

NASTY = [
    "' OR 1=1 --",
    '"; DROP TABLE events; --',
    "../",
    "../../etc/passwd",
    "..%2F..%2Fetc",
    "%00",
    "\x00",
    "acme\n",
    "\u0430cme",  # Cyrillic small a: a homoglyph of acme
    "\uff41cme",  # fullwidth small a
    "globex-plant\u200b",  # zero-width space
    "${jndi:ldap://127.0.0.1/a}",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "a" * 10_240,
]
BODIES = {
    "suspendTenant": {"reason": "r"},
    "updateSite": {"name": "n"},
    "changeUserRole": {"role": "viewer"},
    "updateDevice": {"name": "n"},
    "setDesiredConfiguration": {"configuration": {}},
}
WITH_PATH = [r for r in all_routes() if r.path_params]
WITH_QUERY = [r for r in all_routes() if r.query]


def _token(world: World, route: Route) -> str:
    if route.access.kind.value == "operator":
        return world.operator_token
    return world.a.tokens["admin"]


def _ok(status: int) -> bool:
    return status in (400, 404)


@pytest.mark.parametrize("route", WITH_PATH, ids=lambda r: r.operation_id)
def test_path_parameters(client: Client, world: World, route: Route) -> None:
    for nasty in NASTY:
        path = route.path
        for name in route.path_params:
            path = path.replace("{" + name + "}", quote(nasty, safe=""))
        body = BODIES.get(route.operation_id)
        reply = client.request(route.method, path, body, token=_token(world, route))
        assert _ok(reply.status), (nasty[:40], reply.status, reply.text[:300])
        assert "Traceback" not in reply.text


@pytest.mark.parametrize("route", WITH_QUERY, ids=lambda r: r.operation_id)
def test_query_parameters(client: Client, world: World, route: Route) -> None:
    for param in route.query:
        for nasty in NASTY:
            path = f"{route.path}?{param.name}={quote(nasty, safe='')}"
            reply = client.request(route.method, path, token=_token(world, route))
            assert _ok(reply.status), (param.name, nasty[:40], reply.status, reply.text[:300])


def test_raw_unencoded_traversal(client: Client, world: World) -> None:
    token = world.a.tokens["admin"]
    for path in ("/v1/sites/../tenants", "/v1/devices/..%2f..%2ftenants", "/v1/sites/%2e%2e"):
        reply = client.get(path, token=token)
        assert _ok(reply.status), (path, reply.status)


def test_injection_in_body_ids(client: Client, world: World) -> None:
    token = world.a.tokens["admin"]
    for nasty in NASTY:
        body = {"site_id": nasty, "name": "x", "timezone": "UTC"}
        assert client.post("/v1/sites", body, token=token).status == 400
        login = {"tenant": nasty, "username": nasty, "password": nasty or "x"}
        assert client.post("/v1/auth/token", login).status in (400, 401)


def test_query_token_of_the_stream(client: Client) -> None:
    for nasty in NASTY:
        with EventStream(client.port, f"/v1/stream?access_token={quote(nasty, safe='')}") as s:
            assert s.status in (400, 401), (nasty[:40], s.status)
