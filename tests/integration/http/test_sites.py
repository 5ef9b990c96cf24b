"""FR-2: sites with timezone, address, tariff and shift calendar."""

from __future__ import annotations

from tests.integration.http.conftest import Client, World, assert_problem

SHIFTS = [
    {"name": "early", "weekdays": [0, 1, 2, 3, 4], "start": "06:00", "end": "14:00"},
    {"name": "night", "weekdays": [0, 1, 2, 3, 4], "start": "22:00", "end": "06:00"},
]


def test_create_get_update_list(client: Client, world: World) -> None:
    admin = world.a.tokens["admin"]
    body = {
        "site_id": "berlin-1",
        "name": "Berlin",
        "timezone": "Europe/Berlin",
        "address": "Hauptstr. 1",
        "tariff_ref": "tou-2026",
        "shifts": SHIFTS,
    }
    created = client.post("/v1/sites", body, token=admin)
    assert created.status == 201, created.text
    assert created.headers["ETag"] == '"1"'
    assert created.json()["shifts"][1]["end"] == "06:00"
    got = client.get("/v1/sites/berlin-1", token=world.a.tokens["viewer"])
    assert got.json() == created.json()
    assert_problem(client.post("/v1/sites", body, token=admin), 409, "already-exists")

    updated = client.patch(
        "/v1/sites/berlin-1",
        {"timezone": "Europe/Paris", "tariff_ref": None},
        token=admin,
        headers={"If-Match": "1"},
    )
    assert updated.status == 200, updated.text
    view = updated.json()
    assert (view["timezone"], view["tariff_ref"], view["address"]) == (
        "Europe/Paris",
        None,
        "Hauptstr. 1",
    )
    assert updated.headers["ETag"] == '"2"'
    stale = client.patch(
        "/v1/sites/berlin-1", {"name": "B"}, token=admin, headers={"If-Match": '"1"'}
    )
    assert_problem(stale, 412, "precondition-failed")
    assert_problem(
        client.patch("/v1/sites/berlin-1", {"name": "B"}, token=admin, headers={"If-Match": "x"}),
        400,
        "invalid-if-match",
    )

    listed = client.get("/v1/sites", token=admin).json()
    assert "berlin-1" in [s["site_id"] for s in listed["items"]]


def test_validation_errors(client: Client, world: World) -> None:
    admin = world.a.tokens["admin"]
    cases = [
        ({"site_id": "s1", "name": "S", "timezone": "Mars/Olympus"}, "invalid-timezone"),
        ({"site_id": "s1", "name": "S", "timezone": "../etc/passwd"}, "invalid-timezone"),
        ({"site_id": "s 1", "name": "S", "timezone": "UTC"}, "invalid-body"),
        ({"site_id": "s1", "name": "S", "timezone": "UTC", "extra": 1}, "invalid-body"),
        (
            {
                "site_id": "s1",
                "name": "S",
                "timezone": "UTC",
                "shifts": [{"name": "x", "weekdays": [7], "start": "06:00", "end": "07:00"}],
            },
            "invalid-body",
        ),
        ({"site_id": "s1", "name": 5, "timezone": "UTC"}, "invalid-body"),
    ]
    for body, code in cases:
        assert_problem(client.post("/v1/sites", body, token=admin), 400, code)
    assert_problem(
        client.post(
            "/v1/sites", raw=b"{not json", token=admin, headers={"Content-Type": "application/json"}
        ),
        400,
        "malformed-json",
    )
    assert_problem(
        client.post(
            "/v1/sites",
            raw=b"site_id=x",
            token=admin,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        415,
    )


def test_editor_and_viewer_cannot_write_sites(client: Client, world: World) -> None:
    for role in ("editor", "viewer"):
        token = world.a.tokens[role]
        body = {"site_id": "nope", "name": "N", "timezone": "UTC"}
        assert_problem(client.post("/v1/sites", body, token=token), 403)
        assert_problem(
            client.patch(f"/v1/sites/{world.a.site_id}", {"name": "N"}, token=token), 403
        )


def test_pagination(client: Client, world: World) -> None:
    admin = world.a.tokens["admin"]
    for i in range(5):
        body = {"site_id": f"page-{i}", "name": f"P{i}", "timezone": "UTC"}
        assert client.post("/v1/sites", body, token=admin).status == 201
    seen: list[str] = []
    cursor = None
    while True:
        path = "/v1/sites?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(path, token=admin).json()
        assert len(page["items"]) <= 2
        seen += [s["site_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert {f"page-{i}" for i in range(5)} <= set(seen)
    assert_problem(client.get("/v1/sites?cursor=garbage!!", token=admin), 400, "invalid-cursor")
    assert_problem(client.get("/v1/sites?limit=501", token=admin), 400, "invalid-query")
    assert_problem(client.get("/v1/sites?limit=1&limit=2", token=admin), 400, "invalid-query")
    assert_problem(client.get("/v1/sites?tenant=globex", token=admin), 400, "invalid-query")
