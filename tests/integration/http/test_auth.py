"""Sign-in, bearer tokens, principals, request ids and the access log."""

from __future__ import annotations

import json
import logging

import pytest

from smdh.application.principals import Principal
from tests.integration.http.conftest import (
    ROOT_PASSWORD,
    USER_PASSWORD,
    Client,
    World,
    assert_problem,
)


def test_operator_signs_in_and_calls_an_operator_route(client: Client) -> None:
    reply = client.post("/v1/auth/token", {"username": "root", "password": ROOT_PASSWORD})
    assert reply.status == 200, reply.text
    token = reply.json()
    assert token["token_type"] == "Bearer"
    assert 0 < token["expires_in"] <= 3600
    assert reply.headers["Cache-Control"] == "no-store"
    listed = client.get("/v1/tenants", token=token["access_token"])
    assert listed.status == 200
    assert {"acme", "globex"} <= {t["tenant_id"] for t in listed.json()["items"]}


def test_tenant_user_signs_in_with_tenant(client: Client, world: World) -> None:
    body = {"tenant": "acme", "username": world.a.users["admin"], "password": USER_PASSWORD}
    reply = client.post("/v1/auth/token", body)
    assert reply.status == 200, reply.text
    me = client.get("/v1/me", token=reply.json()["access_token"]).json()
    assert me == {"kind": "user", "subject": "acme-admin", "tenant_id": "acme", "role": "admin"}


@pytest.mark.parametrize(
    "body",
    [
        {"tenant": "acme", "username": "acme-admin", "password": "wrong-password"},
        {"tenant": "globex", "username": "acme-admin", "password": USER_PASSWORD},
        {"tenant": "nope", "username": "acme-admin", "password": USER_PASSWORD},
        {"username": "acme-admin", "password": USER_PASSWORD},
        {"username": "root", "password": "not-the-password"},
        {"username": "' OR 1=1 --", "password": "x"},
    ],
)
def test_bad_credentials_are_401(client: Client, body: dict[str, str]) -> None:
    problem = assert_problem(client.post("/v1/auth/token", body), 401, "unauthenticated")
    assert problem["detail"] == "unknown user or wrong password"


def test_token_request_with_unknown_field_is_400_naming_it(client: Client) -> None:
    body = {"username": "root", "password": ROOT_PASSWORD, "admin": True}
    problem = assert_problem(client.post("/v1/auth/token", body), 400, "invalid-body")
    assert "admin" in problem["detail"]


def test_missing_or_malformed_authorization_is_401(client: Client) -> None:
    reply = client.get("/v1/sites")
    assert_problem(reply, 401, "unauthenticated")
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    for header in ("Basic cm9vdDpyb290", "Bearer", "Bearer not.a.jwt", "token"):
        assert_problem(client.get("/v1/sites", headers={"Authorization": header}), 401)


def test_device_principals_are_refused_on_user_routes(client: Client, world: World) -> None:
    token = world.token(Principal.device("acme", "acme-m1"))
    for path in ("/v1/sites", "/v1/devices", "/v1/tenant", "/v1/me", "/v1/tenants"):
        assert_problem(client.get(path, token=token), 403, "permission-denied")


def test_removed_member_token_stops_working(client: Client, world: World) -> None:
    admin = world.a.tokens["admin"]
    created = client.post(
        "/v1/users",
        {"user_id": "temp-user", "email": "t@acme.io", "role": "viewer"},
        token=admin,
    )
    assert created.status == 201, created.text
    token = world.token(Principal.user("acme", "temp-user", "viewer"))
    assert client.get("/v1/sites", token=token).status == 200
    assert client.request("DELETE", "/v1/users/temp-user", token=admin).status == 204
    assert_problem(client.get("/v1/sites", token=token), 401)


def test_stale_role_in_token_is_replaced_by_current_role(client: Client, world: World) -> None:
    # a token claiming admin for a user who is a viewer acts as a viewer
    forged_role = world.token(Principal.user("acme", world.a.users["viewer"], "admin"))
    body = {"site_id": "x-site", "name": "X", "timezone": "UTC"}
    assert_problem(client.post("/v1/sites", body, token=forged_role), 403)


def test_request_id_is_echoed_or_generated(client: Client) -> None:
    reply = client.get("/healthz", headers={"X-Request-Id": "abc-12345678"})
    assert reply.headers["X-Request-Id"] == "abc-12345678"
    reply = client.get("/healthz", headers={"X-Request-Id": "bad id\u00e9"[:6]})
    assert reply.headers["X-Request-Id"] != "bad id"
    assert len(reply.headers["X-Request-Id"]) == 32


def test_access_log_is_json_without_secrets(
    client: Client, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    token = world.a.tokens["viewer"]
    with caplog.at_level(logging.INFO, logger="smdh.http.access"):
        client.get("/v1/sites", token=token, headers={"X-Request-Id": "log-test-0001"})
    lines = [r.getMessage() for r in caplog.records if r.name == "smdh.http.access"]
    entry = next(json.loads(line) for line in lines if "log-test-0001" in line)
    assert entry["method"] == "GET"
    assert entry["path"] == "/v1/sites"
    assert entry["status"] == 200
    assert entry["actor"] == "user:acme/acme-viewer"
    assert isinstance(entry["duration_ms"], float)
    assert all(token not in line for line in lines)


def test_health_and_readiness(client: Client) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["status"] == "ready"
