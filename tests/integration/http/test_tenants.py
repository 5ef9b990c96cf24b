"""FR-1: the operator creates, lists, suspends and reactivates tenants; a tenant admin reads
and updates its own profile and white-label branding."""

from __future__ import annotations

from smdh.application.principals import Principal
from tests.integration.http.conftest import Client, World, assert_problem


def test_operator_lifecycle_of_a_tenant(client: Client, world: World) -> None:
    op = world.operator_token
    body = {
        "tenant_id": "initech",
        "name": "Initech",
        "max_devices": 5,
        "admin": {"user_id": "bill", "email": "bill@initech.io", "password": "bill-password-1"},
    }
    created = client.post("/v1/tenants", body, token=op)
    assert created.status == 201, created.text
    assert created.headers["Location"] == "/v1/tenants/initech"
    assert created.json()["quotas"]["max_devices"] == 5
    assert_problem(client.post("/v1/tenants", body, token=op), 409, "already-exists")

    signed_in = client.post(
        "/v1/auth/token",
        {"tenant": "initech", "username": "bill", "password": "bill-password-1"},
    )
    bill = signed_in.json()["access_token"]
    assert client.get("/v1/tenant", token=bill).json()["tenant_id"] == "initech"

    got = client.get("/v1/tenants/initech", token=op)
    version = got.headers["ETag"]
    assert_problem(
        client.post(
            "/v1/tenants/initech/suspend",
            {"reason": "unpaid"},
            token=op,
            headers={"If-Match": '"999"'},
        ),
        412,
        "precondition-failed",
    )
    suspended = client.post(
        "/v1/tenants/initech/suspend",
        {"reason": "unpaid"},
        token=op,
        headers={"If-Match": version},
    )
    assert suspended.status == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    # a suspended tenant's users are refused, and cannot sign in
    assert_problem(client.get("/v1/tenant", token=bill), 403)
    assert_problem(
        client.post(
            "/v1/auth/token",
            {"tenant": "initech", "username": "bill", "password": "bill-password-1"},
        ),
        401,
    )
    assert_problem(client.post("/v1/tenants/initech/suspend", {"reason": "x"}, token=op), 409)
    reactivated = client.post("/v1/tenants/initech/reactivate", token=op)
    assert reactivated.json()["status"] == "active"
    assert client.get("/v1/tenant", token=bill).status == 200


def test_tenant_users_cannot_use_operator_routes(client: Client, world: World) -> None:
    for role, token in world.a.tokens.items():
        assert_problem(client.get("/v1/tenants", token=token), 403), role
        assert_problem(
            client.post("/v1/tenants", {"tenant_id": "x", "name": "X"}, token=token), 403
        )
        assert_problem(client.post("/v1/tenants/acme/suspend", {"reason": "r"}, token=token), 403)
        assert_problem(client.post("/v1/tenants/globex/reactivate", token=token), 403)


def test_operator_has_no_own_tenant(client: Client, world: World) -> None:
    assert_problem(client.get("/v1/tenant", token=world.operator_token), 403)
    assert_problem(client.get("/v1/sites", token=world.operator_token), 403)


def test_admin_updates_profile_and_branding(client: Client, world: World) -> None:
    op = world.operator_token
    client.post(
        "/v1/tenants",
        {
            "tenant_id": "umbrella",
            "name": "Umbrella",
            "admin": {"user_id": "alice", "email": "a@u.io"},
        },
        token=op,
    )
    admin = world.token(Principal.user("umbrella", "alice", "admin"))
    current = client.get("/v1/tenant", token=admin)
    assert current.status == 200
    patch = {
        "name": "Umbrella Corp",
        "branding": {
            "display_name": "Umbrella",
            "primary_colour": "#aa0000",
            "logo_url": "https://u.io/logo.png",
        },
        "retention": {"raw_days": 30, "rollup_days": 365},
    }
    updated = client.patch(
        "/v1/tenant", patch, token=admin, headers={"If-Match": current.headers["ETag"]}
    )
    assert updated.status == 200, updated.text
    view = updated.json()
    assert view["name"] == "Umbrella Corp"
    assert view["branding"]["primary_colour"] == "#AA0000"
    assert view["retention"] == {"raw_days": 30, "rollup_days": 365}
    assert updated.headers["ETag"] == f'"{view["version"]}"'
    stale = client.patch(
        "/v1/tenant", {"name": "Again"}, token=admin, headers={"If-Match": current.headers["ETag"]}
    )
    assert_problem(stale, 412, "precondition-failed")
    assert_problem(client.patch("/v1/tenant", {"colour": "red"}, token=admin), 400, "invalid-body")
    assert_problem(client.patch("/v1/tenant", {"name": None}, token=admin), 400)
    bad_colour = {"branding": {"display_name": "U", "primary_colour": "red"}}
    assert_problem(client.patch("/v1/tenant", bad_colour, token=admin), 400)


def test_editor_and_viewer_cannot_update_tenant(client: Client, world: World) -> None:
    for role in ("editor", "viewer"):
        token = world.a.tokens[role]
        assert client.get("/v1/tenant", token=token).status == 200
        assert_problem(client.patch("/v1/tenant", {"name": "Hacked"}, token=token), 403)
