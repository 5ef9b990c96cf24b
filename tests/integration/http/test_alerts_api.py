"""The alerting API on a real socket: rules CRUD, the issue's CO2 story (one critical alert
on /v1/alerts, on /v1/stream and at a signed webhook within a second; a repeat reading adds
nothing; acknowledge; 800 ppm clears), tenant isolation both ways, roles, channels and
deliveries."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from smdh.adapters.embedded.notifiers import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from tests.integration.alerts.receivers import Receiver
from tests.integration.http.conftest import (
    Client,
    Device,
    EventStream,
    TenantFixture,
    World,
    assert_problem,
    register,
    seed_tenant,
    send,
)

pytestmark = pytest.mark.integration
CO2_RULE = "default-air_quality-co2-dangerous"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture(scope="module")
def tenant(world: World) -> TenantFixture:
    return seed_tenant(world.container, "alertco")


@pytest.fixture(scope="module")
def sensor(client: Client, tenant: TenantFixture) -> Device:
    return register(client, tenant.tokens["admin"], "co2-sensor-1", tenant.site_id)


def _now(world: World) -> float:
    return world.container.clock().now().timestamp()


def _alerts(client: Client, token: str, query: str = "") -> list[dict[str, Any]]:
    reply = client.get(f"/v1/alerts?device_id=co2-sensor-1{query}", token=token)
    assert reply.status == 200, reply.text
    return list(reply.json()["items"])


def test_rules_crud(client: Client, tenant: TenantFixture) -> None:
    admin, viewer = tenant.tokens["admin"], tenant.tokens["viewer"]
    rule = {"rule_id": "hot-press", "name": "Hot press", "measure": "temperature_c",
            "comparison": "gt", "threshold": 90, "severity": "critical",
            "scope": {"sensor_type": "machine"}, "channels": ["in_app", "webhook"]}  # fmt: skip
    created = client.post("/v1/alert-rules", rule, token=admin)
    assert created.status == 201, created.text
    assert created.headers["Location"] == "/v1/alert-rules/hot-press"
    assert created.json()["threshold"] == 90.0 and created.json()["enabled"] is True
    assert_problem(client.post("/v1/alert-rules", rule, token=admin), 409)
    assert_problem(client.post("/v1/alert-rules", rule, token=viewer), 403)
    listed = client.get("/v1/alert-rules", token=viewer).json()["items"]
    assert [r["rule_id"] for r in listed] == ["hot-press"]
    body = {k: v for k, v in rule.items() if k != "rule_id"} | {"threshold": 95}
    stale = client.request("PUT", "/v1/alert-rules/hot-press", body, token=admin,
                           headers={"If-Match": '"7"'})  # fmt: skip
    assert_problem(stale, 412)
    replaced = client.request("PUT", "/v1/alert-rules/hot-press", body, token=admin,
                              headers={"If-Match": created.headers["ETag"]})  # fmt: skip
    assert replaced.status == 200, replaced.text
    assert replaced.json()["threshold"] == 95.0 and replaced.json()["version"] == 2
    disabled = client.post("/v1/alert-rules/hot-press/disable", token=admin)
    assert disabled.json()["enabled"] is False
    assert client.post("/v1/alert-rules/hot-press/enable", token=admin).json()["enabled"]
    assert client.request("DELETE", "/v1/alert-rules/hot-press", token=admin).status == 204
    assert_problem(client.get("/v1/alert-rules/hot-press", token=admin), 404)


def test_channels_show_a_generated_secret_once(
    client: Client, tenant: TenantFixture, receiver: Receiver
) -> None:
    admin = tenant.tokens["admin"]
    body = {"webhooks": [{"url": receiver.url("/smdh")}], "default_channels": ["webhook"],
            "email_recipients": ["ops@alertco.example"]}  # fmt: skip
    assert_problem(client.request("PUT", "/v1/notification-channels", body,
                                  token=tenant.tokens["editor"]), 403)  # fmt: skip
    reply = client.request("PUT", "/v1/notification-channels", body, token=admin)
    assert reply.status == 200, reply.text
    secret = reply.json()["webhooks"][0]["secret"]
    assert secret.startswith("whsec_") and len(secret) > 20
    shown = client.get("/v1/notification-channels", token=admin).json()
    assert shown["webhooks"] == [{"url": receiver.url("/smdh"), "min_severity": "info",
                                  "secret": None}]  # fmt: skip
    # sending the webhook again without its secret keeps it
    again = client.request("PUT", "/v1/notification-channels", body, token=admin)
    assert again.json()["webhooks"][0]["secret"] is None
    receiver.secret = secret  # type: ignore[attr-defined]
    mute = {"muted_channels": ["email"]}
    viewer = tenant.tokens["viewer"]
    prefs = client.request("PUT", "/v1/me/notification-preferences", mute, token=viewer)
    assert prefs.status == 200 and prefs.json()["muted_channels"] == ["email"]


def test_co2_story(
    client: Client, world: World, tenant: TenantFixture, sensor: Device, receiver: Receiver
) -> None:
    admin, editor, viewer = (tenant.tokens[r] for r in ("admin", "editor", "viewer"))
    defaults = client.post("/v1/alert-rules/defaults", {"sensor_type": "air_quality"},
                           token=editor)  # fmt: skip
    assert defaults.status == 200, defaults.text
    assert CO2_RULE in {r["rule_id"] for r in defaults.json()["items"]}
    secret = receiver.secret  # type: ignore[attr-defined]
    before = len(receiver.requests)
    headers = {"Authorization": f"Bearer {viewer}"}
    with EventStream(client.port, "/v1/stream", headers) as stream:
        assert stream.status == 200
        started = time.monotonic()
        sent = send(client, sensor, {"timestamp": _now(world), "co2_ppm": 6000})
        assert sent.status == 202, sent.text
        alert_event = None
        while time.monotonic() - started < 1.0:
            event = stream.next_event(timeout=1.0 - (time.monotonic() - started))
            if event is not None and event[0] == "alert":
                alert_event = event[1]
                break
        assert alert_event is not None, "no alert on the stream within 1 s"
        assert alert_event["type"] == "alert.raised" and alert_event["severity"] == "critical"
        alerts = _alerts(client, viewer)
        assert len(alerts) == 1 and alerts[0]["severity"] == "critical"
        assert alerts[0]["state"] == "active" and alerts[0]["value"] == 6000.0
        assert time.monotonic() - started < 1.0
        assert receiver.wait_for(before + 1, timeout=1.0 - (time.monotonic() - started))
    alert_id = alerts[0]["alert_id"]
    assert alert_id == f"{CO2_RULE}:co2-sensor-1:1" and alert_event["alert_id"] == alert_id
    hook_headers, hook_body = receiver.requests[before]
    assert verify_signature(secret, hook_headers[TIMESTAMP_HEADER], hook_body,
                            hook_headers[SIGNATURE_HEADER])  # fmt: skip
    assert hook_headers["Idempotency-Key"].endswith(f":1:webhook:{receiver.url('/smdh')}")

    # a second identical reading: still exactly one alert
    send(client, sensor, {"timestamp": _now(world) + 1, "co2_ppm": 6000})
    assert len(_alerts(client, viewer)) == 1
    assert len(_alerts(client, viewer, "&state=active&severity=critical")) == 1
    assert _alerts(client, viewer, "&severity=info") == []

    # viewers look, editors acknowledge; the other tenant sees nothing of it
    one = f"/v1/alerts/{alert_id}"
    assert_problem(client.post(one + "/acknowledge", {"note": "x"}, token=viewer), 403)
    for token in (world.b.tokens["admin"], world.b.tokens["editor"]):
        assert_problem(client.get(one, token=token), 404, "not-found")
        assert_problem(client.post(one + "/acknowledge", {"note": "x"}, token=token), 404)
        theirs = client.get("/v1/alerts", token=token).json()["items"]
        assert all(a["alert_id"] != alert_id for a in theirs)
    acked = client.post(one + "/acknowledge", {"note": "opening the vents"}, token=editor)
    assert acked.status == 200, acked.text
    assert acked.json()["state"] == "acknowledged"
    by = f"user:alertco/{tenant.users['editor']}"  # the principal's actor name
    assert acked.json()["acknowledged_by"] == by
    assert_problem(client.post(one + "/acknowledge", {}, token=editor), 409)
    history = client.get(one + "/history", token=viewer).json()["entries"]
    ack = [h for h in history if h["event_type"] == "AlertAcknowledged"]
    assert ack and ack[0]["data"] == {"by": by, "note": "opening the vents"}
    assert ack[0]["actor"] == by
    audit = client.get("/v1/audit?limit=500", token=admin).json()["items"]
    assert any(e["event_type"] == "AlertAcknowledged" and e["actor"] == by for e in audit)

    # 800 ppm clears it
    send(client, sensor, {"timestamp": _now(world) + 2, "co2_ppm": 800})
    cleared = client.get(one, token=viewer).json()
    assert cleared["state"] == "cleared" and cleared["cleared_at"] is not None
    assert len(_alerts(client, viewer)) == 1

    # every transition reached the webhook once; the delivery log shows them as sent
    assert receiver.wait_for(before + 3, timeout=2.0)
    types = [h["X-SMDH-Event"] for h, _ in receiver.requests[before:]]
    # once each; a delivery retried after a slow first attempt may arrive after a later one
    # (receivers order by the alert's version in the body), so compare without order
    assert sorted(types) == ["alert.acknowledged", "alert.cleared", "alert.raised"]
    rows = client.get("/v1/deliveries?limit=500", token=admin).json()["items"]
    webhooks = [r for r in rows if r["channel"] == "webhook" and r["alert_id"] == alert_id]
    assert {r["status"] for r in webhooks} == {"sent"} and len(webhooks) == 3
    assert_problem(client.get("/v1/deliveries", token=editor), 403)


def test_a_dead_webhook_shows_in_the_delivery_log(
    client: Client, world: World, tenant: TenantFixture, sensor: Device
) -> None:
    with Receiver() as gone:
        url = gone.url("/gone")
    admin = tenant.tokens["admin"]
    body = {"webhooks": [{"url": url, "secret": "a-secret-of-20-chars"}],
            "default_channels": ["webhook"]}  # fmt: skip
    assert client.request("PUT", "/v1/notification-channels", body, token=admin).status == 200
    send(client, sensor, {"timestamp": _now(world) + 3, "co2_ppm": 7000})
    deadline = time.monotonic() + 3
    failing: list[dict[str, Any]] = []
    while not failing and time.monotonic() < deadline:
        rows = client.get("/v1/deliveries?limit=500", token=admin).json()["items"]
        failing = [r for r in rows if r["recipient"] == url and r["last_error"]]
        time.sleep(0.05)
    assert failing and failing[0]["status"] in ("pending", "failed")
    assert failing[0]["attempts"] >= 1
