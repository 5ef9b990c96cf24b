"""Read models (device registry, tenant directory) and the tenant-scoped queries over them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from smdh.application import commands as c
from smdh.application.principals import Principal
from smdh.application.projections import DeviceRegistry, TenantDirectory
from smdh.application.queries import Queries
from smdh.application.system import Application
from smdh.application.unit_of_work import UnitOfWork
from smdh.domain.alerts.rules import RuleScope
from smdh.domain.assets.device import DeviceStatus
from smdh.domain.shared.errors import NotFound, PermissionDenied
from smdh.domain.shared.events import EventContext
from smdh.domain.shared.ids import DeviceId, RuleId, SiteId, TenantId, UserId
from smdh.domain.tenancy.roles import Role
from smdh.domain.tenancy.tenant import Tenant, TenantStatus

ACME = TenantId("acme")
M1 = DeviceId("m-1")
HOT = RuleId("hot")


def rule_cmd(
    principal: Principal, cls: type[c.DefineAlertRule] = c.DefineAlertRule, **kw: Any
) -> Any:
    fields: dict[str, Any] = {
        "tenant_id": ACME,
        "rule_id": HOT,
        "name": "Too hot",
        "scope": RuleScope(sensor_type="machine"),
        "measure": "temperature_c",
        "comparison": "gt",
        "threshold": 80,
    }
    fields.update(kw)
    return cls(principal=principal, **fields)


# --- device registry -------------------------------------------------------------------------


@pytest.mark.usefixtures("with_device")
def test_device_registry_follows_the_device(app: Application, admin: Principal) -> None:
    entry = app.devices.lookup("acme", "m-1")
    assert entry is not None
    assert (entry.tenant_id, entry.device_id, entry.site_id) == ("acme", "m-1", "plant-1")
    assert (entry.sensor_type, entry.name, entry.version) == ("machine", "Press m-1", 1)
    assert entry.registered_at == app.clock.now().isoformat()
    assert entry.accepts_readings
    assert app.devices.count("acme") == 1
    assert app.devices.lookup("globex", "m-1") is None

    app.execute(
        c.ChangeDeviceProfile(
            principal=admin,
            tenant_id=ACME,
            device_id=M1,
            site_id=SiteId("plant-1"),
            name="Big press",
            metadata={"bay": 4},
        )
    )
    hash_before = app.devices.lookup("acme", "m-1").credential_hash  # type: ignore[union-attr]
    app.execute(c.RotateDeviceCredentials(principal=admin, tenant_id=ACME, device_id=M1))
    app.execute(c.DecommissionDevice(principal=admin, tenant_id=ACME, device_id=M1))

    entry = app.devices.lookup("acme", "m-1")
    assert entry is not None
    assert (entry.name, dict(entry.metadata)) == ("Big press", {"bay": 4})
    assert entry.credential_hash != hash_before
    assert entry.status is DeviceStatus.DECOMMISSIONED
    assert not entry.accepts_readings
    assert entry.version == 4
    assert app.devices.count("acme") == 0
    assert app.devices.count("acme", active_only=False) == 1
    assert app.devices.list("acme", status="decommissioned") == [entry]
    assert app.devices.list("acme", status="active") == []


def test_device_list_filters(
    app: Application, register_device: Callable[..., Any], admin: Principal
) -> None:
    app.execute(
        c.RegisterSite(
            principal=admin, tenant_id=ACME, site_id=SiteId("plant-2"), name="P2", timezone="UTC"
        )
    )
    register_device("m-2")
    register_device("e-1", sensor_type="energy", site_id=SiteId("plant-2"))
    register_device("m-1")
    assert [e.device_id for e in app.devices.list("acme")] == ["e-1", "m-1", "m-2"]
    assert [e.device_id for e in app.devices.list("acme", site_id="plant-2")] == ["e-1"]
    assert [e.device_id for e in app.devices.list("acme", sensor_type="machine")] == [
        "m-1",
        "m-2",
    ]
    assert app.devices.list("globex") == []


# --- tenant directory ------------------------------------------------------------------------


def test_directory_follows_members(app: Application, admin: Principal) -> None:
    assert [u.user_id for u in app.directory.list_users("acme")] == ["alice", "bob", "carol"]
    app.execute(
        c.ChangeUserRole(principal=admin, tenant_id=ACME, user_id=UserId("carol"), role=Role.EDITOR)
    )
    app.execute(c.RemoveUser(principal=admin, tenant_id=ACME, user_id=UserId("bob")))
    carol = app.directory.user("acme", "carol")
    assert carol is not None
    assert (carol.role, carol.email) == (Role.EDITOR, "carol@acme.example")
    assert app.directory.user("acme", "bob") is None
    assert [u.user_id for u in app.directory.list_users("acme")] == ["alice", "carol"]
    assert [u.user_id for u in app.directory.list_users("globex")] == ["gina"]
    tenant = app.directory.tenant("acme")
    assert tenant is not None
    assert tenant.version == app.events.current_version("tenant:acme")


def test_directory_follows_rules(app: Application, editor: Principal) -> None:
    app.execute(rule_cmd(editor))
    entry = app.directory.rule("acme", "hot")
    assert entry is not None
    assert (entry.enabled, entry.version, entry.definition.threshold) == (True, 1, 80.0)

    app.execute(rule_cmd(editor, c.UpdateAlertRule, threshold=90, severity="critical"))
    app.execute(c.DisableAlertRule(principal=editor, tenant_id=ACME, rule_id=HOT))
    entry = app.directory.rule("acme", "hot")
    assert entry is not None
    assert (entry.enabled, entry.version, entry.definition.threshold) == (False, 3, 90.0)
    assert entry.definition.severity == "critical"

    app.execute(c.EnableAlertRule(principal=editor, tenant_id=ACME, rule_id=HOT))
    assert app.directory.rule("acme", "hot").enabled  # type: ignore[union-attr]
    app.execute(c.DeleteAlertRule(principal=editor, tenant_id=ACME, rule_id=HOT))
    assert app.directory.rule("acme", "hot") is None
    assert app.directory.list_rules("acme") == []


def test_directory_follows_tenant_status(app: Application, operator: Principal) -> None:
    app.execute(c.SuspendTenant(principal=operator, tenant_id=ACME, reason="unpaid"))
    assert app.directory.tenant("acme").status is TenantStatus.SUSPENDED  # type: ignore[union-attr]
    app.execute(c.ReactivateTenant(principal=operator, tenant_id=ACME))
    assert app.directory.tenant("acme").status is TenantStatus.ACTIVE  # type: ignore[union-attr]


@pytest.mark.usefixtures("with_device")
def test_erasure_forgets_the_tenants_data(app: Application, editor: Principal) -> None:
    app.execute(rule_cmd(editor))
    ctx = EventContext(app.clock.now(), "operator:root")
    with UnitOfWork(app.events) as uow:
        tenant = uow.get(Tenant, "tenant:acme", what="tenant acme")
        tenant.request_erasure(ctx)
        tenant.complete_erasure(ctx)
        uow.commit()
    app.refresh()
    assert app.devices.lookup("acme", "m-1") is None
    assert app.directory.list_users("acme") == []
    assert app.directory.list_sites("acme") == []
    assert app.directory.list_rules("acme") == []
    entry = app.directory.tenant("acme")
    assert entry is not None
    assert (entry.status, entry.name) == (TenantStatus.ERASED, "")
    assert [u.user_id for u in app.directory.list_users("globex")] == ["gina"]


# --- catching up -----------------------------------------------------------------------------


@pytest.mark.usefixtures("with_device")
def test_catch_up_is_idempotent(app: Application, admin: Principal) -> None:
    assert app.refresh() == 0
    users_before = app.directory.list_users("acme")
    devices_before = list(app.devices)
    assert app.refresh() == 0
    assert app.directory.list_users("acme") == users_before
    assert list(app.devices) == devices_before

    fresh = DeviceRegistry()
    total = len(app.events.read_all(limit=10_000))
    assert fresh.catch_up(app.events) == total
    assert fresh.catch_up(app.events) == 0
    assert fresh.position == app.devices.position == total
    assert list(fresh) == devices_before


def test_catch_up_in_small_pages_equals_one_big_page(app: Application) -> None:
    paged, whole = TenantDirectory(), TenantDirectory()
    paged.catch_up(app.events, batch=1)
    whole.catch_up(app.events)
    assert paged.position == whole.position
    assert paged.users == whole.users
    assert paged.sites == whole.sites
    assert paged.tenants == whole.tenants


def test_a_second_process_sees_changes_after_refresh(app: Application, admin: Principal) -> None:
    other = Application(
        events=app.events,
        clock=app.clock,
        ids=app.ids,
        device_secret_hasher=app.device_secret_hasher,
        sensors=app.sensors,
    )
    assert other.directory.tenant("acme") is None  # nothing read yet
    assert other.refresh() > 0
    assert other.directory.user("acme", "alice") is not None

    app.execute(c.RenameTenant(principal=admin, tenant_id=ACME, name="Renamed by one"))
    assert other.directory.tenant("acme").name == "acme Corp"  # type: ignore[union-attr]
    other.refresh()
    assert other.directory.tenant("acme").name == "Renamed by one"  # type: ignore[union-attr]

    # and the other way round
    other.execute(c.RenameTenant(principal=admin, tenant_id=ACME, name="Renamed by two"))
    app.refresh()
    assert app.directory.tenant("acme").name == "Renamed by two"  # type: ignore[union-attr]


# --- queries: tenant scoping -----------------------------------------------------------------

QUERIES: list[tuple[str, Callable[[Queries, Principal], object]]] = [
    ("tenant", lambda q, p: q.tenant(p, ACME)),
    ("list_sites", lambda q, p: q.list_sites(p, ACME)),
    ("site", lambda q, p: q.site(p, ACME, "plant-1")),
    ("list_users", lambda q, p: q.list_users(p, ACME)),
    ("user", lambda q, p: q.user(p, ACME, "alice")),
    ("list_devices", lambda q, p: q.list_devices(p, ACME)),
    ("device", lambda q, p: q.device(p, ACME, "m-1")),
    ("list_rules", lambda q, p: q.list_rules(p, ACME)),
    ("rule", lambda q, p: q.rule(p, ACME, "hot")),
]


@pytest.fixture
def seeded(app: Application, editor: Principal, with_device: Any) -> Application:
    app.execute(rule_cmd(editor))
    return app


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("query", [q[1] for q in QUERIES], ids=[q[0] for q in QUERIES])
def test_another_tenants_user_gets_not_found_from_every_query(
    queries: Queries, other_admin: Principal, query: Callable[[Queries, Principal], object]
) -> None:
    with pytest.raises(NotFound) as info:
        query(queries, other_admin)
    assert not isinstance(info.value, PermissionDenied)


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("query", [q[1] for q in QUERIES], ids=[q[0] for q in QUERIES])
def test_the_tenants_own_viewer_sees_everything(
    queries: Queries, viewer: Principal, query: Callable[[Queries, Principal], object]
) -> None:
    answer = query(queries, viewer)
    assert answer
    rows: list[Any] = answer if isinstance(answer, list) else [answer]
    assert all(row.tenant_id == "acme" for row in rows)


@pytest.mark.usefixtures("seeded")
def test_globex_sees_only_globex(queries: Queries, other_admin: Principal) -> None:
    globex = TenantId("globex")
    assert queries.list_devices(other_admin, globex) == []
    assert queries.list_rules(other_admin, globex) == []
    assert [s.site_id for s in queries.list_sites(other_admin, globex)] == ["g-plant"]
    # asking its own tenant for acme's device id finds nothing either
    with pytest.raises(NotFound):
        queries.device(other_admin, globex, "m-1")


@pytest.mark.usefixtures("seeded")
def test_tenant_list_is_for_operators(
    queries: Queries, operator: Principal, admin: Principal
) -> None:
    assert [t.tenant_id for t in queries.list_tenants(operator)] == ["acme", "globex"]
    assert queries.tenant(operator, ACME).name == "acme Corp"
    with pytest.raises(PermissionDenied):
        queries.list_tenants(admin)


@pytest.mark.usefixtures("seeded")
def test_a_device_principal_cannot_query(queries: Queries, device_principal: Principal) -> None:
    with pytest.raises(PermissionDenied):
        queries.list_devices(device_principal, ACME)
