"""Broken object-level authorization matrix: every route, tenant A's admin/editor/viewer
against tenant B's resources. Never B's data; 404 where the role may act, 403 where it may
not; operator-only routes refuse every tenant user."""

from __future__ import annotations

from typing import Any

import pytest

from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.http.core import AccessKind, Route
from smdh.entrypoints.http.routes import all_routes
from tests.integration.http.conftest import Client, EventStream, World

B = {
    "tenant_id": "globex",
    "site_id": "globex-plant",
    "device_id": "globex-m1",
    "user_id": "globex-admin",
}
# Per operation: a body (valid in shape) and a query string. Bodies of creates refer to B's
# objects where they can (a device at B's site); otherwise they create in A's own tenant.
CASES: dict[str, tuple[Any, str]] = {
    "getMe": (None, ""),
    "listTenants": (None, ""),
    "createTenant": ({"tenant_id": "bola-x", "name": "X"}, ""),
    "getTenant": (None, ""),
    "suspendTenant": ({"reason": "r"}, ""),
    "reactivateTenant": (None, ""),
    "getOwnTenant": (None, ""),
    "updateOwnTenant": ({"name": "acme Ltd"}, ""),
    "listSites": (None, ""),
    "createSite": ({"site_id": "bola-site", "name": "S", "timezone": "UTC"}, ""),
    "getSite": (None, ""),
    "updateSite": ({"name": "Mine now"}, ""),
    "listUsers": (None, ""),
    "inviteUser": ({"user_id": "bola-user", "email": "b@acme.io", "role": "viewer"}, ""),
    "getUser": (None, ""),
    "changeUserRole": ({"role": "viewer"}, ""),
    "removeUser": (None, ""),
    "listDevices": (None, "site_id=globex-plant"),
    "registerDevice": (
        {"device_id": "bola-dev", "site_id": "globex-plant", "sensor_type": "machine", "name": "D"},
        "",
    ),
    "getDevice": (None, ""),
    "updateDevice": ({"name": "Mine now"}, ""),
    "getDeviceConfiguration": (None, ""),
    "setDesiredConfiguration": ({"configuration": {"sampling_interval_s": 1}}, ""),
    "rotateDeviceCredentials": (None, ""),
    "decommissionDevice": ({"reason": "stolen"}, ""),
    "listAudit": (None, "tenant=globex"),
    "getDeviceLatest": (None, ""),
    "listDeviceReadings": (None, "measure=rpm"),
    "listDeadLetters": (None, ""),
    "streamLive": (None, ""),
    "ingest": ({"timestamp": 1767600000, "rpm": 1}, ""),  # device credentials only: 403
}
B_DATA = ("globex Ltd", "globex-admin@", "globex-editor@", "globex-viewer@")
TARGETS_B_BY_BODY_OR_QUERY = {"registerDevice", "listAudit"}
PROTECTED = [r for r in all_routes() if r.access.kind is not AccessKind.PUBLIC]


def test_every_protected_route_is_in_the_matrix() -> None:
    assert {r.operation_id for r in PROTECTED} == set(CASES)


def _path(route: Route) -> str:
    path = route.path
    for name in route.path_params:
        path = path.replace("{" + name + "}", B[name])
    return path


def _allowed(route: Route, role: str) -> bool:
    if route.access.kind in (AccessKind.OPERATOR, AccessKind.DEVICE):
        return False
    return Role(role).at_least(route.access.min_role or Role.VIEWER)


@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: r.operation_id)
def test_tenant_a_gets_nothing_of_tenant_b(
    client: Client, world: World, route: Route, role: str
) -> None:
    body, query = CASES[route.operation_id]
    path = _path(route) + (f"?{query}" if query else "")
    if route.content_type == "text/event-stream":  # never ends: read the start only
        headers = {"Authorization": f"Bearer {world.a.tokens[role]}"}
        with EventStream(client.port, path, headers) as stream:
            assert stream.status == 200
            assert b"globex" not in stream.first_chunk()
        return
    reply = client.request(route.method, path, body, token=world.a.tokens[role])
    assert reply.status < 500, reply.text
    # B's data (names, e-mails, anything under its ids) never appears; an error may only
    # echo the id the caller sent
    assert not any(marker in reply.text for marker in B_DATA), reply.text
    if reply.status < 400:
        assert "globex" not in reply.text.lower(), reply.text
    if not _allowed(route, role):
        assert reply.status == 403, reply.text
    elif route.path_params or route.operation_id in TARGETS_B_BY_BODY_OR_QUERY:
        assert reply.status == 404, reply.text
        assert reply.json()["code"] == "not-found"
    else:
        assert reply.status in (200, 201, 409), reply.text  # A's own collection / creation


@pytest.mark.parametrize(
    "route",
    [
        r
        for r in PROTECTED
        if r.method == "GET" and r.path_params and r.access.kind is AccessKind.TENANT
    ],
    ids=lambda r: r.operation_id,
)
def test_control_b_reads_its_own(client: Client, world: World, route: Route) -> None:
    reply = client.request(route.method, _path(route), token=world.b.tokens["viewer"])
    assert reply.status == 200, reply.text
