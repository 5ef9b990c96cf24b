"""FR-3: invite with a role, list, change role, remove; the last admin stays."""

from __future__ import annotations

from tests.integration.http.conftest import Client, World, assert_problem


def test_invite_sign_in_change_role_remove(client: Client, world: World) -> None:
    admin = world.a.tokens["admin"]
    body = {
        "user_id": "dave@acme.io",
        "email": "dave@acme.io",
        "role": "viewer",
        "password": "dave-password-1",
    }
    created = client.post("/v1/users", body, token=admin)
    assert created.status == 201, created.text
    assert created.json() == {"user_id": "dave@acme.io", "email": "dave@acme.io", "role": "viewer"}
    assert "password" not in created.text
    assert_problem(client.post("/v1/users", body, token=admin), 409, "already-exists")
    signed_in = client.post(
        "/v1/auth/token",
        {"tenant": "acme", "username": "dave@acme.io", "password": "dave-password-1"},
    )
    assert signed_in.status == 200

    got = client.get("/v1/users/dave@acme.io", token=world.a.tokens["viewer"])
    assert got.status == 200
    changed = client.patch(
        "/v1/users/dave@acme.io",
        {"role": "editor"},
        token=admin,
        headers={"If-Match": got.headers["ETag"]},
    )
    assert changed.status == 200, changed.text
    assert changed.json()["role"] == "editor"
    stale = client.patch(
        "/v1/users/dave@acme.io",
        {"role": "admin"},
        token=admin,
        headers={"If-Match": got.headers["ETag"]},
    )
    assert_problem(stale, 412)
    assert_problem(client.patch("/v1/users/dave@acme.io", {"role": "god"}, token=admin), 400)

    users = [u["user_id"] for u in client.get("/v1/users", token=admin).json()["items"]]
    assert "dave@acme.io" in users and "acme-admin" in users
    assert world.container.credentials().password_hash("acme", "dave@acme.io") is not None
    assert client.request("DELETE", "/v1/users/dave@acme.io", token=admin).status == 204
    assert_problem(client.get("/v1/users/dave@acme.io", token=admin), 404, "not-found")
    assert world.container.credentials().password_hash("acme", "dave@acme.io") is None
    assert_problem(client.request("DELETE", "/v1/users/dave@acme.io", token=admin), 404)


def test_last_admin_cannot_be_removed(client: Client, world: World) -> None:
    admin = world.b.tokens["admin"]
    user = world.b.users["admin"]
    assert_problem(client.request("DELETE", f"/v1/users/{user}", token=admin), 409)
    assert_problem(client.patch(f"/v1/users/{user}", {"role": "viewer"}, token=admin), 409)


def test_short_password_and_bad_email_are_400(client: Client, world: World) -> None:
    admin = world.a.tokens["admin"]
    short = {"user_id": "eve", "email": "eve@acme.io", "role": "viewer", "password": "short"}
    assert_problem(client.post("/v1/users", short, token=admin), 400)
    bad_email = {"user_id": "eve", "email": "not-an-email", "role": "viewer"}
    assert_problem(client.post("/v1/users", bad_email, token=admin), 400, "validation-error")


def test_non_admins_cannot_manage_users(client: Client, world: World) -> None:
    for role in ("editor", "viewer"):
        token = world.a.tokens[role]
        assert client.get("/v1/users", token=token).status == 200
        body = {"user_id": "mallory", "email": "m@acme.io", "role": "admin"}
        assert_problem(client.post("/v1/users", body, token=token), 403)
        assert_problem(
            client.patch(f"/v1/users/{world.a.users[role]}", {"role": "admin"}, token=token), 403
        )
        assert_problem(
            client.request("DELETE", f"/v1/users/{world.a.users['admin']}", token=token), 403
        )


def _sign_in(client: Client, tenant: str, username: str, password: str) -> int:
    body = {"tenant": tenant, "username": username, "password": password}
    return client.post("/v1/auth/token", body).status


def test_removing_a_user_deletes_its_password_hash_for_that_tenant_only(
    client: Client, world: World
) -> None:
    """Data minimisation: the hash goes with the membership it opened. The same user id's
    membership of another tenant keeps its own password; invited back, the removed user has
    none until one is set (the old one opens nothing)."""
    credentials = world.container.credentials()
    a_admin, b_admin = world.a.tokens["admin"], world.b.tokens["admin"]
    user = "frank@both.io"
    for token, password in ((a_admin, "frank-at-acme-1"), (b_admin, "frank-at-globex-1")):
        body = {"user_id": user, "email": user, "role": "viewer", "password": password}
        assert client.post("/v1/users", body, token=token).status == 201
    assert _sign_in(client, "acme", user, "frank-at-acme-1") == 200

    assert client.request("DELETE", f"/v1/users/{user}", token=a_admin).status == 204

    assert credentials.password_hash("acme", user) is None
    assert credentials.password_hash("globex", user) is not None
    assert _sign_in(client, "globex", user, "frank-at-globex-1") == 200
    assert _sign_in(client, "acme", user, "frank-at-acme-1") == 401
    again = {"user_id": user, "email": user, "role": "viewer"}
    assert client.post("/v1/users", again, token=a_admin).status == 201
    assert credentials.password_hash("acme", user) is None
    assert _sign_in(client, "acme", user, "frank-at-acme-1") == 401
