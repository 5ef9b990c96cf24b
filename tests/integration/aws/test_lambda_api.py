"""API Gateway HTTP API (v2, JWT authorizer claims) -> the same route table as aiohttp."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from smdh.application import commands as c
from smdh.application.principals import Principal
from smdh.domain.shared.ids import SiteId, TenantId, UserId
from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.container import Container
from smdh.entrypoints.lambdas import api
from tests.integration.aws.aws_profile import aws_container
from tests.integration.aws.lambda_support import FakeContext, event, install, installed

pytestmark = pytest.mark.integration
__all__ = ["installed"]
ROOT = Principal.operator("root")


@pytest.fixture
def container(
    monkeypatch: pytest.MonkeyPatch,
    moto_server: str,
    aws_clients: Callable[[str], Any],
    installed: list[Container],
) -> Container:
    built = aws_container(monkeypatch, moto_server, aws_clients)
    app = built.application()
    for tenant in ("acme", "globex"):
        tid = TenantId(tenant)
        app.execute(c.RegisterTenant(principal=ROOT, tenant_id=tid, name=f"{tenant} Ltd"))
        for role in Role:
            user = UserId(f"{tenant}-{role.value}")
            app.execute(
                c.InviteUser(
                    principal=ROOT, tenant_id=tid, user_id=user, email=f"{user}@ex.io", role=role
                )
            )
        app.execute(
            c.RegisterSite(
                principal=ROOT,
                tenant_id=tid,
                site_id=SiteId(f"{tenant}-plant"),
                name="Plant",
                timezone="Europe/Berlin",
            )
        )
    install(installed, built)
    api._services.cache_clear()
    return built


def request(
    method: str,
    path: str,
    *,
    tenant: str | None = "acme",
    groups: str = "[viewer]",
    user: str = "acme-viewer",
    body: Any = None,
    query: str = "",
) -> dict[str, Any]:
    sent = copy.deepcopy(event("apigw_v2_jwt.json"))
    sent["rawPath"] = path
    sent["rawQueryString"] = query
    sent["requestContext"]["http"].update(method=method, path=path)
    claims = sent["requestContext"]["authorizer"]["jwt"]["claims"]
    claims.update({"cognito:groups": groups, "cognito:username": user})
    if tenant is None:
        claims.pop("custom:tenant_id")
    else:
        claims["custom:tenant_id"] = tenant
    if body is not None:
        sent["body"] = json.dumps(body)
        sent["headers"]["content-type"] = "application/json"
    reply: dict[str, Any] = api.handler(sent, FakeContext())  # type: ignore[arg-type]
    return reply


def body(reply: dict[str, Any]) -> Any:
    return json.loads(reply["body"]) if reply["body"] else None


def test_the_documented_event_lists_the_callers_sites(container: Container) -> None:
    reply = api.handler(event("apigw_v2_jwt.json"), FakeContext())  # type: ignore[arg-type]
    assert reply["statusCode"] == 200, reply
    assert [s["site_id"] for s in body(reply)["items"]] == ["acme-plant"]
    assert reply["headers"]["X-Request-Id"] == "Rk3cZhz0liAEMEw="


def test_tenants_are_isolated(container: Container) -> None:
    assert request("GET", "/v1/sites/acme-plant")["statusCode"] == 200
    other = request("GET", "/v1/sites/globex-plant")
    assert other["statusCode"] == 404
    assert (
        body(other)["type"] == "https://smdh.dev/problems/not-found" or body(other)["status"] == 404
    )
    assert other["headers"]["Content-Type"] == "application/problem+json"


def test_roles_and_claims_follow_the_cognito_rules(container: Container) -> None:
    created = request(
        "POST",
        "/v1/sites",
        body={"site_id": "acme-2", "name": "Second", "timezone": "Europe/Berlin"},
    )
    assert created["statusCode"] == 403  # a viewer may not register sites
    admin = request(
        "POST",
        "/v1/sites",
        groups="[admin viewer]",
        user="acme-admin",
        body={"site_id": "acme-2", "name": "Second", "timezone": "Europe/Berlin"},
    )
    assert admin["statusCode"] == 201, admin
    me = body(request("GET", "/v1/me", groups="[platform-operators]", tenant=None, user="root"))
    assert me["kind"] == "operator"
    assert request("GET", "/v1/sites", tenant=None)["statusCode"] == 401  # no tenant claim
    assert request("GET", "/v1/sites", tenant="nobody")["statusCode"] == 401


def test_http_level_problems_come_from_the_same_validation(container: Container) -> None:
    assert request("GET", "/v1/sites", query="limit=0")["statusCode"] == 400
    assert request("GET", "/v1/sites", query="bogus=1")["statusCode"] == 400
    assert request("GET", "/v1/nothing-here")["statusCode"] == 404
    assert request("DELETE", "/v1/sites")["statusCode"] == 405
    bad = request("POST", "/v1/sites", groups="[admin]", user="acme-admin", body={"x": 1})
    assert bad["statusCode"] == 400 and body(bad)["code"] == "invalid-body"
