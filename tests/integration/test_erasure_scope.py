"""Erasure removes exactly what it names: nothing of another tenant, nothing of another
device, whatever the ids look like (device and rule ids may contain ':'; a device may be
named like a sensor type, a site or a state). Local profile, real SQLite files, the events
read back from a fresh container as after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from smdh.application import commands as c
from smdh.application.principals import Principal
from smdh.domain.alerts.rules import RuleScope
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId
from smdh.entrypoints.container import Container, build_container

pytestmark = pytest.mark.integration
ROOT = Principal.operator("root")


def _world(path: Path) -> Container:
    container = build_container("local", path)
    app = container.application()
    for tenant in ("acme", "globex"):
        app.execute(c.RegisterTenant(principal=ROOT, tenant_id=TenantId(tenant), name=tenant))
        app.execute(
            c.RegisterSite(principal=ROOT, tenant_id=TenantId(tenant), site_id=SiteId("plant"),
                           name="Plant", timezone="UTC")
        )  # fmt: skip
    # acme's ids spell the other tenant's name and common values of other events
    for device in ("globex:press-1", "machine", "plant", "m1"):
        app.execute(
            c.RegisterDevice(principal=ROOT, tenant_id=TenantId("acme"), device_id=DeviceId(device),
                             site_id=SiteId("plant"), sensor_type="machine", name=device)
        )  # fmt: skip
    for device in ("machine", "m1"):  # a rule for one device each
        app.execute(
            c.DefineAlertRule(principal=ROOT, tenant_id=TenantId("acme"), rule_id=f"hot-{device}",
                              name="Hot", scope=RuleScope(device_id=DeviceId(device)),
                              measure="temperature_c", comparison="ge", threshold=90.0)
        )  # fmt: skip
    return container


def _rules(container: Container) -> set[str]:
    return {e.rule_id for e in container.application().directory.list_rules("acme")}


def _devices_after_restart(path: Path, tenant: str) -> set[str]:
    fresh = build_container("local", path)
    fresh.application().refresh()
    found = {entry.device_id for entry in fresh.application().devices.list(TenantId(tenant))}
    fresh.event_store().close()
    return found


def test_erasing_a_tenant_leaves_other_tenants_alone(tmp_path: Path) -> None:
    container = _world(tmp_path)
    container.erasure_service().erase_tenant(ROOT, "globex", confirm="globex")
    container.event_store().close()
    assert _devices_after_restart(tmp_path, "acme") == {"globex:press-1", "machine", "plant", "m1"}


def test_erasing_a_device_leaves_the_tenants_other_devices_and_sites_alone(tmp_path: Path) -> None:
    container = _world(tmp_path)
    alerting = container.alerting_service()
    alerting.tick()  # the running hub has indexed both rules
    assert {r.rule_id for r in alerting.index.rules()} == {"hot-machine", "hot-m1"}
    service = container.erasure_service()
    service.erase_device(ROOT, "acme", "machine", confirm="machine")
    service.erase_device(ROOT, "acme", "plant", confirm="plant")
    # the rule scoped to the erased device goes with it, in the running hub's index too
    assert _rules(container) == {"hot-m1"}
    alerting.tick()
    assert {r.rule_id for r in alerting.index.rules()} == {"hot-m1"}
    container.event_store().close()
    assert _devices_after_restart(tmp_path, "acme") == {"globex:press-1", "m1"}
    fresh = build_container("local", tmp_path)
    fresh.application().refresh()
    assert fresh.application().directory.site(TenantId("acme"), SiteId("plant")) is not None
    assert _rules(fresh) == {"hot-m1"}
