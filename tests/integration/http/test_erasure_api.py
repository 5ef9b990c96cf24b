"""GDPR erasure over HTTP on the embedded (local profile) stores: a device's readings go and
nothing else does; only a tenant's admin (device) or the operator (tenant, device) may erase,
and only with a confirmation that repeats the id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from smdh.application import commands as c
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId
from smdh.domain.telemetry import DeviceSample
from smdh.entrypoints.container import Container, build_container
from tests.integration.alerts.seeding import seed_rule_and_alert
from tests.integration.http.conftest import (
    GENEROUS,
    ROOT,
    Client,
    LiveServer,
    TenantFixture,
    World,
    assert_problem,
    seed_tenant,
)

pytestmark = pytest.mark.integration
T0 = 1_767_592_800.0  # 2026-01-05T06:00:00Z
RANGE = f"from={T0:.0f}&to={T0 + 3600:.0f}"


@attrs.frozen
class Erasable:
    client: Client
    container: Container
    operator: str
    a: TenantFixture  # acme: devices acme-m1 and acme-m2
    b: TenantFixture  # globex: globex-m1
    c: TenantFixture  # initech: erased whole by the last test


def _fill(container: Container, tenant: TenantFixture, device: str, base: float) -> None:
    samples = [
        DeviceSample(tenant.tenant_id, tenant.site_id, device, "machine", T0 + k,
                     {"power_watts": base + k, "state": "running", "cycle_count": k})
        for k in range(0, 600, 10)
    ]  # fmt: skip
    container.telemetry_store().write(samples)
    container.rollup_store().on_stored(samples)


def _add_device(container: Container, tenant: TenantFixture, device: str) -> None:
    container.application().execute(
        c.RegisterDevice(principal=ROOT, tenant_id=TenantId(tenant.tenant_id),
                         device_id=DeviceId(device), site_id=SiteId(tenant.site_id),
                         sensor_type="machine", name=device)
    )  # fmt: skip


@pytest.fixture(scope="module")
def erasable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Erasable]:
    path: Path = tmp_path_factory.mktemp("erasure")
    container = build_container("local", path)
    container.application().refresh()
    a, b, c_ = (seed_tenant(container, t) for t in ("acme", "globex", "initech"))
    _add_device(container, a, "acme-m2")
    for tenant, device, base in ((a, "acme-m1", 1000.0), (a, "acme-m2", 2000.0),
                                 (b, "globex-m1", 3000.0), (c_, "initech-m1", 4000.0)):  # fmt: skip
        _fill(container, tenant, device, base)
    operator = container.token_authority().issue(ROOT).access_token
    with LiveServer(container, settings=GENEROUS) as server:
        yield Erasable(Client(server.port), container, operator, a, b, c_)
    container.telemetry_store().close()


def _readings(e: Erasable, device: str, token: str) -> Any:
    reply = e.client.get(f"/v1/devices/{device}/readings?measure=power_watts&{RANGE}", token=token)
    assert reply.status == 200, reply.text
    return reply.json()


def _erase_device(e: Erasable, device: str, token: str, body: Any, query: str = "") -> Any:
    return e.client.post(f"/v1/devices/{device}/erasure{query}", body, token=token)


def test_unconfirmed_erasure_is_refused_and_erases_nothing(erasable: Erasable) -> None:
    e, admin = erasable, erasable.a.tokens["admin"]
    before = _readings(e, "acme-m2", admin)
    assert_problem(_erase_device(e, "acme-m2", admin, None), 400, "invalid-body")
    assert_problem(_erase_device(e, "acme-m2", admin, {}), 400, "invalid-body")
    problem = assert_problem(
        _erase_device(e, "acme-m2", admin, {"confirm": "acme-m1"}), 400, "erasure-not-confirmed"
    )
    assert '"confirm": "acme-m2"' in problem["detail"]
    reply = e.client.post(
        "/v1/tenants/initech/erasure", {"confirm": "acme"}, token=erasable.operator
    )
    assert_problem(reply, 400, "erasure-not-confirmed")
    assert _readings(e, "acme-m2", admin) == before
    assert e.client.get("/v1/tenants/initech", token=e.operator).json()["status"] == "active"


def test_only_an_admin_of_the_tenant_erases_a_device(erasable: Erasable) -> None:
    e = erasable
    confirm = {"confirm": "acme-m2"}
    for role in ("viewer", "editor"):
        assert_problem(_erase_device(e, "acme-m2", e.a.tokens[role], confirm), 403)
    # another tenant's admin: the device does not exist for them, by path or by ?tenant=
    assert_problem(_erase_device(e, "acme-m2", e.b.tokens["admin"], confirm), 404, "not-found")
    reply = _erase_device(e, "acme-m2", e.b.tokens["admin"], confirm, "?tenant=acme")
    assert_problem(reply, 404, "not-found")
    # a tenant is erased by the operator only
    for token in (e.a.tokens["admin"], e.c.tokens["admin"]):
        reply = e.client.post("/v1/tenants/initech/erasure", {"confirm": "initech"}, token=token)
        assert_problem(reply, 403)
    # the operator names the device's tenant
    reply = _erase_device(e, "acme-m2", e.operator, confirm)
    assert_problem(reply, 400, "invalid-query")
    assert _readings(e, "acme-m2", e.a.tokens["viewer"])["items"]


def test_erasing_a_device_removes_its_readings_and_nothing_else(erasable: Erasable) -> None:
    e, admin = erasable, erasable.a.tokens["admin"]
    kept_a = _readings(e, "acme-m1", admin)
    kept_b = _readings(e, "globex-m1", e.b.tokens["viewer"])
    assert len(_readings(e, "acme-m2", admin)["items"]) == 60 and kept_a["items"]

    reply = _erase_device(e, "acme-m2", admin, {"confirm": "acme-m2"})

    assert reply.status == 200, reply.text
    report = reply.json()
    assert (report["tenant_id"], report["device_id"]) == ("acme", "acme-m2")
    assert report["telemetry_rows"] >= 60 and report["purged_rows"] >= 1  # its events too
    assert_problem(e.client.get("/v1/devices/acme-m2", token=admin), 404, "not-found")
    assert_problem(
        e.client.get(f"/v1/devices/acme-m2/readings?{RANGE}", token=admin), 404, "not-found"
    )
    assert_problem(_erase_device(e, "acme-m2", admin, {"confirm": "acme-m2"}), 404)
    # registered again under the same id, the device has no past
    body = {"device_id": "acme-m2", "site_id": "acme-plant", "sensor_type": "machine",
            "name": "again"}  # fmt: skip
    assert e.client.post("/v1/devices", body, token=admin).status == 201
    assert _readings(e, "acme-m2", admin)["items"] == []
    bucketed = e.client.get(
        f"/v1/devices/acme-m2/readings?measure=power_watts&bucket=1m&{RANGE}", token=admin
    )
    assert bucketed.status == 200 and bucketed.json()["buckets"] == []
    # the tenant's other device and the other tenant are untouched
    assert _readings(e, "acme-m1", admin) == kept_a
    assert _readings(e, "globex-m1", e.b.tokens["viewer"]) == kept_b


def _alert_ids(e: Erasable, token: str, query: str = "") -> set[str]:
    reply = e.client.get(f"/v1/alerts{query}", token=token)
    assert reply.status == 200, reply.text
    return {item["alert_id"] for item in reply.json()["items"]}


def test_erasing_a_device_drops_its_alerts_from_the_running_hub(erasable: Erasable) -> None:
    """The alert board lives in memory: the device's alerts leave it with their events,
    not at the next restart."""
    e, admin, viewer = erasable, erasable.a.tokens["admin"], erasable.a.tokens["viewer"]
    _add_device(e.container, e.a, "acme-m3")
    erased = seed_rule_and_alert(e.container, "acme", "m3-hot", "acme-m3")
    kept = seed_rule_and_alert(e.container, "acme", "m1-hot", "acme-m1")
    acked = e.client.post(f"/v1/alerts/{erased}/acknowledge", {"note": "on it"}, token=admin)
    assert acked.status == 200, acked.text
    assert {erased, kept} <= _alert_ids(e, viewer)
    assert _alert_ids(e, viewer, "?device_id=acme-m3") == {erased}

    reply = _erase_device(e, "acme-m3", admin, {"confirm": "acme-m3"})

    assert reply.status == 200, reply.text
    listed = _alert_ids(e, viewer)
    assert erased not in listed and kept in listed
    assert _alert_ids(e, viewer, "?device_id=acme-m3") == set()
    assert _alert_ids(e, viewer, "?state=acknowledged") & {erased} == set()
    assert_problem(e.client.get(f"/v1/alerts/{erased}", token=viewer), 404, "not-found")
    assert_problem(e.client.get(f"/v1/alerts/{erased}/history", token=viewer), 404)
    assert e.client.get(f"/v1/alerts/{kept}", token=viewer).status == 200
    board = e.container.alerting_service().board
    assert board.list("acme", device_id="acme-m3") == []
    assert board.latest_episode("acme", "m3-hot", "acme-m3") == 0
    # the store keeps none of its events either, the acknowledgement included, so a restart
    # cannot bring the alert back and the device registered again starts at episode 1
    stored = e.container.event_store().read_all(limit=100_000)
    assert [s.event for s in stored if "acme-m3" in s.event.aggregate_id] == []
    assert e.container.event_store().load(f"alert:acme:{kept}")


def test_the_operator_erases_a_tenant(erasable: Erasable) -> None:
    e = erasable
    seed_rule_and_alert(e.container, "initech", "initech-hot", "initech-m1")
    assert _alert_ids(e, e.c.tokens["viewer"]) == {"initech-hot:initech-m1:1"}
    kept_a = _readings(e, "acme-m1", e.a.tokens["viewer"])
    reply = e.client.post("/v1/tenants/initech/erasure", {"confirm": "initech"}, token=e.operator)
    assert reply.status == 200, reply.text
    report = reply.json()
    assert report["tenant_id"] == "initech" and report["device_id"] is None
    assert report["telemetry_rows"] >= 60 and report["purged_rows"] > 0
    # its users are refused, its data is gone, a second erasure finds nothing
    reply = e.client.get("/v1/devices", token=e.c.tokens["admin"])
    assert reply.status in (401, 403), reply.text
    assert e.container.telemetry_store().query_range("initech", "initech-m1", 0, 2e9) == []
    events = e.container.event_store().read_all(limit=100_000)
    assert all(s.event.tenant_id != "initech" for s in events)
    reply = e.client.post("/v1/tenants/initech/erasure", {"confirm": "initech"}, token=e.operator)
    assert_problem(reply, 404, "not-found")
    shown = e.client.get("/v1/tenants/initech", token=e.operator).json()
    assert (shown["status"], shown["name"]) == ("erased", "")  # until a restart forgets it
    assert _readings(e, "acme-m1", e.a.tokens["viewer"]) == kept_a
    # the running hub's alert board forgot the tenant's alerts with their events
    assert e.container.alerting_service().board.list("initech") == []
    # the operator may also erase one device, naming its tenant
    reply = _erase_device(e, "globex-m1", e.operator, {"confirm": "globex-m1"}, "?tenant=globex")
    assert reply.status == 200, reply.text
    assert e.container.telemetry_store().query_range("globex", "globex-m1", 0, 2e9) == []


def test_profiles_without_erasure_answer_501(client: Client, world: World) -> None:
    """The memory profile (these other tests' server) has no erasure adapters."""
    reply = client.post("/v1/tenants/acme/erasure", {"confirm": "acme"}, token=world.operator_token)
    assert_problem(reply, 501, "erasure-unavailable")
    assert client.get("/v1/tenants/acme", token=world.operator_token).json()["status"] == "active"
