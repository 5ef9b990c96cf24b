"""Broken object-level authorization matrix: every route, tenant A's admin/editor/viewer
against tenant B's resources. Never B's data; 404 where the role may act, 403 where it may
not; operator-only routes refuse every tenant user."""

from __future__ import annotations

from typing import Any

import pytest

from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.http.core import AccessKind, Route
from smdh.entrypoints.http.routes import all_routes
from tests.integration.alerts.seeding import seed_rule_and_alert
from tests.integration.http.conftest import Client, EventStream, World

B = {
    "tenant_id": "globex",
    "site_id": "globex-plant",
    "device_id": "globex-m1",
    "user_id": "globex-admin",
    "rule_id": "globex-rule",
    "alert_id": "globex-rule:globex-m1:1",
    "job_id": "globex-job",
}
ALERT_RULE = {"name": "Hot", "measure": "temperature_c", "comparison": "gt", "threshold": 90}
# Per operation: a body (valid in shape) and a query string. Bodies of creates refer to B's
# objects where they can (a device at B's site); otherwise they create in A's own tenant.
CASES: dict[str, tuple[Any, str]] = {
    "getMe": (None, ""),
    "listTenants": (None, ""),
    "createTenant": ({"tenant_id": "bola-x", "name": "X"}, ""),
    "getTenant": (None, ""),
    "suspendTenant": ({"reason": "r"}, ""),
    "reactivateTenant": (None, ""),
    "eraseTenant": ({"confirm": "globex"}, ""),
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
    "eraseDevice": ({"confirm": "globex-m1"}, ""),
    "listAudit": (None, "tenant=globex"),
    "getDeviceLatest": (None, ""),
    "listDeviceReadings": (None, "measure=rpm"),
    "listDeadLetters": (None, ""),
    "streamLive": (None, ""),
    "getOeeMetrics": (None, "site_id=globex-plant"),
    "getEnergyMetrics": (None, "device_id=globex-m1"),
    "getAirQualityMetrics": (None, "site_id=globex-plant"),
    "listJobs": (None, "site_id=globex-plant"),
    "getJob": (None, ""),
    "exportDataset": (None, "dataset=readings"),
    "listAlertRules": (None, ""),
    "createAlertRule": ({"rule_id": "bola-rule", **ALERT_RULE}, ""),
    "enableDefaultAlertRules": ({"sensor_type": "machine"}, ""),
    "getAlertRule": (None, ""),
    "replaceAlertRule": (ALERT_RULE, ""),
    "deleteAlertRule": (None, ""),
    "enableAlertRule": (None, ""),
    "disableAlertRule": (None, ""),
    "listAlerts": (None, "device_id=globex-m1"),
    "getAlert": (None, ""),
    "getAlertHistory": (None, ""),
    "acknowledgeAlert": ({"note": "mine now"}, ""),
    "snoozeAlert": ({"until": "2030-01-01T00:00:00+00:00"}, ""),
    "getNotificationChannels": (None, ""),
    "setNotificationChannels": ({"email_recipients": ["ops@acme.example"]}, ""),
    "getMyNotificationPreferences": (None, ""),
    "setMyNotificationPreferences": ({"min_severity": "warning"}, ""),
    "listDeliveries": (None, "status=failed"),
    "ingest": ({"timestamp": 1767600000, "rpm": 1}, ""),  # device credentials only: 403
}
B_DATA = ("globex Ltd", "globex-admin@", "globex-editor@", "globex-viewer@")
TARGETS_B_BY_BODY_OR_QUERY = {
    "registerDevice",
    "listAudit",
    "getOeeMetrics",
    "getEnergyMetrics",
    "getAirQualityMetrics",
    "listJobs",
}
# B has no scanned jobs in this world: getJob is a 404 for B too (tests/integration/http/
# test_metrics_api.py reads a job of its own tenant).
NO_OBJECT_OF_B = {"getJob"}
PROTECTED = [r for r in all_routes() if r.access.kind is not AccessKind.PUBLIC]


@pytest.fixture(scope="module", autouse=True)
def _b_has_an_alert(world: World) -> None:
    """B's rule ``globex-rule`` and its alert ``globex-rule:globex-m1:1`` (set up once)."""
    seed_rule_and_alert(world.container, "globex", "globex-rule", "globex-m1")


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
        if r.method == "GET"
        and r.path_params
        and r.access.kind is AccessKind.TENANT
        and r.operation_id not in NO_OBJECT_OF_B
    ],
    ids=lambda r: r.operation_id,
)
def test_control_b_reads_its_own(client: Client, world: World, route: Route) -> None:
    reply = client.request(route.method, _path(route), token=world.b.tokens["viewer"])
    assert reply.status == 200, reply.text
