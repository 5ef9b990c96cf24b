"""FR-4 and FR-5: devices, their credentials and configuration."""

from __future__ import annotations

from tests.integration.http.conftest import Client, World, assert_problem


def test_register_returns_credentials_once(client: Client, world: World) -> None:
    editor = world.a.tokens["editor"]
    body = {
        "device_id": "aq-1",
        "site_id": world.a.site_id,
        "sensor_type": "air_quality",
        "name": "Hall AQ",
        "metadata": {"floor": 2, "vendor": "acme"},
    }
    created = client.post("/v1/devices", body, token=editor)
    assert created.status == 201, created.text
    registration = created.json()
    secret = registration["credentials"]["secret"]
    assert registration["credentials"]["username"] == "acme:aq-1"
    assert len(secret) >= 32
    assert registration["device"]["metadata"] == {"floor": 2, "vendor": "acme"}
    got = client.get("/v1/devices/aq-1", token=world.a.tokens["viewer"])
    assert got.status == 200
    assert secret not in got.text and "hash" not in got.text
    listed = client.get("/v1/devices", token=editor)
    assert secret not in listed.text and "credential" not in listed.text
    assert_problem(client.post("/v1/devices", body, token=editor), 409, "already-exists")


def test_register_validation(client: Client, world: World) -> None:
    editor = world.a.tokens["editor"]
    base = {"device_id": "v-1", "site_id": world.a.site_id, "sensor_type": "machine", "name": "V"}
    assert_problem(
        client.post("/v1/devices", {**base, "sensor_type": "toaster"}, token=editor),
        400,
        "unknown-sensor-type",
    )
    assert_problem(
        client.post("/v1/devices", {**base, "site_id": "nowhere"}, token=editor), 404, "not-found"
    )
    assert_problem(client.post("/v1/devices", {**base, "secret": "x"}, token=editor), 400)
    assert_problem(client.post("/v1/devices", {**base, "metadata": {"a": [1]}}, token=editor), 400)
    assert_problem(client.post("/v1/devices", base, token=world.a.tokens["viewer"]), 403)


def test_filters(client: Client, world: World) -> None:
    editor = world.a.tokens["editor"]
    client.post(
        "/v1/devices",
        {
            "device_id": "meter-1",
            "site_id": world.a.site_id,
            "sensor_type": "energy",
            "name": "Meter",
        },
        token=editor,
    )
    by_type = client.get("/v1/devices?sensor_type=energy", token=editor).json()["items"]
    assert [d["device_id"] for d in by_type] == ["meter-1"]
    by_site = client.get(f"/v1/devices?site_id={world.a.site_id}", token=editor).json()["items"]
    assert {"meter-1", world.a.device_id} <= {d["device_id"] for d in by_site}
    assert client.get("/v1/devices?site_id=other", token=editor).json()["items"] == []
    active = client.get("/v1/devices?status=active", token=editor).json()["items"]
    assert all(d["status"] == "active" for d in active)
    assert_problem(client.get("/v1/devices?status=broken", token=editor), 400, "invalid-query")


def test_update_configuration_rotate_decommission(client: Client, world: World) -> None:
    editor = world.a.tokens["editor"]
    created = client.post(
        "/v1/devices",
        {
            "device_id": "press-9",
            "site_id": world.a.site_id,
            "sensor_type": "machine",
            "name": "Press 9",
            "ideal_cycle_time_s": 12.5,
        },
        token=editor,
    )
    first_secret = created.json()["credentials"]["secret"]
    updated = client.patch(
        "/v1/devices/press-9", {"name": "Press Nine"}, token=editor, headers={"If-Match": '"1"'}
    )
    assert updated.status == 200, updated.text
    assert updated.json()["name"] == "Press Nine"
    assert updated.json()["ideal_cycle_time_s"] == 12.5
    assert updated.headers["ETag"] == '"2"'

    desired = client.request(
        "PUT",
        "/v1/devices/press-9/configuration/desired",
        {"configuration": {"sampling_interval_s": 5}},
        token=editor,
    )
    assert desired.status == 200, desired.text
    config = client.get("/v1/devices/press-9/configuration", token=world.a.tokens["viewer"]).json()
    assert config["desired"] == {"sampling_interval_s": 5}
    assert config["reported"] == {}
    assert config["pending"] == {"sampling_interval_s": 5}
    bad = client.request(
        "PUT",
        "/v1/devices/press-9/configuration/desired",
        {"configuration": {"sampling_interval_s": 0}},
        token=editor,
    )
    assert_problem(bad, 400, "validation-error")

    rotated = client.post("/v1/devices/press-9/credentials/rotate", token=editor)
    assert rotated.status == 200, rotated.text
    assert rotated.json()["secret"] != first_secret
    assert rotated.headers["Cache-Control"] == "no-store"

    stale = client.post(
        "/v1/devices/press-9/decommission",
        {"reason": "scrapped"},
        token=editor,
        headers={"If-Match": '"1"'},
    )
    assert_problem(stale, 412)
    gone = client.post("/v1/devices/press-9/decommission", {"reason": "scrapped"}, token=editor)
    assert gone.status == 200, gone.text
    assert gone.json()["status"] == "decommissioned"
    again = client.post("/v1/devices/press-9/decommission", token=editor)
    assert_problem(again, 409, "device-decommissioned")
    assert_problem(client.patch("/v1/devices/press-9", {"name": "X"}, token=editor), 409)


def test_viewer_cannot_write_devices(client: Client, world: World) -> None:
    viewer, device = world.a.tokens["viewer"], world.a.device_id
    assert_problem(client.patch(f"/v1/devices/{device}", {"name": "X"}, token=viewer), 403)
    assert_problem(client.post(f"/v1/devices/{device}/credentials/rotate", token=viewer), 403)
    assert_problem(client.post(f"/v1/devices/{device}/decommission", token=viewer), 403)
    assert_problem(
        client.request(
            "PUT",
            f"/v1/devices/{device}/configuration/desired",
            {"configuration": {}},
            token=viewer,
        ),
        403,
    )
