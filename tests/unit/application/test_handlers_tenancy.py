"""Tenancy use cases through the bus: tenants, members, sites, roles and If-Match."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from returns.result import Success

from smdh.application import commands as c
from smdh.application.principals import Principal
from smdh.application.system import Application
from smdh.domain.shared.errors import (
    AlreadyExists,
    DomainError,
    InvalidIdentifier,
    InvalidTimezone,
    InvariantViolation,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    TenantIsSuspended,
    ValidationError,
)
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId, UserId
from smdh.domain.tenancy.roles import Role
from smdh.domain.tenancy.site import Shift
from smdh.domain.tenancy.tenant import TenantStatus

ACME = TenantId("acme")
Fail = Callable[..., DomainError]


def tenant_version(app: Application, tenant: str = "acme") -> int:
    return app.events.current_version(f"tenant:{tenant}")


def site_cmd(principal: Principal, site: str = "plant-2", **kw: Any) -> c.RegisterSite:
    fields: dict[str, Any] = {"name": "Plant 2", "timezone": "UTC"}
    fields.update(kw)
    return c.RegisterSite(principal=principal, tenant_id=ACME, site_id=SiteId(site), **fields)


def invite(principal: Principal, user: str = "dave", role: Role = Role.VIEWER) -> c.InviteUser:
    return c.InviteUser(
        principal=principal,
        tenant_id=ACME,
        user_id=UserId(user),
        email=f"{user}@acme.example",
        role=role,
    )


# --- tenants -------------------------------------------------------------------------------


def test_operator_registers_a_tenant(app: Application, operator: Principal) -> None:
    result = app.handle(
        c.RegisterTenant(principal=operator, tenant_id=TenantId("initech"), name="Initech")
    )
    assert result == Success(1)
    entry = app.directory.tenant("initech")
    assert entry is not None
    assert (entry.name, entry.status, entry.version) == ("Initech", TenantStatus.ACTIVE, 1)


def test_register_tenant_twice_is_already_exists(
    app: Application, operator: Principal, failure: Fail
) -> None:
    result = app.handle(c.RegisterTenant(principal=operator, tenant_id=ACME, name="Again"))
    failure(result, AlreadyExists, "tenant acme already exists")


def test_register_tenant_with_explicit_zero_quota_keeps_zero(
    app: Application, operator: Principal
) -> None:
    app.execute(
        c.RegisterTenant(
            principal=operator,
            tenant_id=TenantId("trial"),
            name="Trial",
            max_devices=0,
            max_readings_per_second=0,
        )
    )
    entry = app.directory.tenant("trial")
    assert entry is not None
    # 0 is a valid quota (TenantQuotas accepts it); only None means "the default"
    assert (entry.quotas.max_devices, entry.quotas.max_readings_per_second) == (0, 0)


def test_a_raw_invalid_tenant_id_never_reaches_the_store(
    app: Application, operator: Principal, failure: Fail
) -> None:
    # A plain str where a TenantId is expected must be refused, not stored: a stored
    # 'Bad Tenant' makes every projection catch-up raise InvalidIdentifier from then on.
    before = app.events.read_all(limit=10_000)
    try:
        command = c.RegisterTenant(
            principal=operator,
            tenant_id="Bad Tenant/../x",  # type: ignore[arg-type]
            name="Bad",
        )
    except InvalidIdentifier:
        command = None
    if command is not None:
        failure(app.handle(command), InvalidIdentifier)
    assert app.events.read_all(limit=10_000) == before
    assert app.refresh() == 0


def test_unknown_tenant_is_not_found(app: Application, operator: Principal, failure: Fail) -> None:
    result = app.handle(c.RenameTenant(principal=operator, tenant_id=TenantId("nope"), name="X"))
    failure(result, NotFound, "tenant nope not found")


@pytest.mark.parametrize("who", ["admin", "editor", "viewer", "device_principal", "other_admin"])
@pytest.mark.parametrize(
    "make",
    [
        lambda p: c.RegisterTenant(principal=p, tenant_id=TenantId("evil"), name="Evil"),
        lambda p: c.SuspendTenant(principal=p, tenant_id=ACME, reason="because"),
        lambda p: c.ReactivateTenant(principal=p, tenant_id=ACME),
        lambda p: c.SetTenantQuotas(
            principal=p, tenant_id=ACME, max_devices=10**6, max_readings_per_second=10**6
        ),
    ],
    ids=["register", "suspend", "reactivate", "quotas"],
)
def test_operator_only_commands_refuse_everyone_else(
    app: Application, request: pytest.FixtureRequest, who: str, make: Any, failure: Fail
) -> None:
    principal: Principal = request.getfixturevalue(who)
    before = app.events.read_all(limit=10_000)
    failure(app.handle(make(principal)), PermissionDenied, "not a platform operator")
    assert app.events.read_all(limit=10_000) == before


def test_admin_renames_brands_and_sets_retention(app: Application, admin: Principal) -> None:
    app.execute(c.RenameTenant(principal=admin, tenant_id=ACME, name="ACME AG"))
    app.execute(
        c.SetTenantBranding(
            principal=admin, tenant_id=ACME, display_name="ACME", primary_colour="#112233"
        )
    )
    app.execute(c.SetTenantRetention(principal=admin, tenant_id=ACME, raw_days=30, rollup_days=90))
    entry = app.directory.tenant("acme")
    assert entry is not None
    assert entry.name == "ACME AG"
    assert entry.branding is not None
    assert entry.branding.primary_colour == "#112233"
    assert (entry.retention.raw_days, entry.retention.rollup_days) == (30, 90)


def test_bad_branding_and_retention_are_validation_failures(
    app: Application, admin: Principal, failure: Fail
) -> None:
    version = tenant_version(app)
    result = app.handle(
        c.SetTenantBranding(
            principal=admin, tenant_id=ACME, display_name="A", logo_url="javascript:alert(1)"
        )
    )
    failure(result, ValidationError, "logo_url")
    result = app.handle(
        c.SetTenantRetention(principal=admin, tenant_id=ACME, raw_days=0, rollup_days=90)
    )
    failure(result, ValidationError, "raw_days")
    assert tenant_version(app) == version


@pytest.mark.parametrize("who", ["editor", "viewer"])
def test_tenant_settings_are_for_admins(
    app: Application, request: pytest.FixtureRequest, who: str, failure: Fail
) -> None:
    principal: Principal = request.getfixturevalue(who)
    result = app.handle(c.RenameTenant(principal=principal, tenant_id=ACME, name="Mine"))
    failure(result, PermissionDenied, "admin required")


# --- suspension ----------------------------------------------------------------------------


def test_suspended_tenant_cannot_register_devices_or_sites(
    app: Application, operator: Principal, admin: Principal, editor: Principal, failure: Fail
) -> None:
    app.execute(c.SuspendTenant(principal=operator, tenant_id=ACME, reason="unpaid"))
    entry = app.directory.tenant("acme")
    assert entry is not None
    assert entry.status is TenantStatus.SUSPENDED
    failure(app.handle(site_cmd(admin)), TenantIsSuspended, "acme is suspended")
    result = app.handle(
        c.RegisterDevice(
            principal=editor,
            tenant_id=ACME,
            device_id=DeviceId("m-9"),
            site_id=SiteId("plant-1"),
            sensor_type="machine",
            name="Press",
        )
    )
    failure(result, TenantIsSuspended, "acme is suspended")
    assert app.devices.lookup("acme", "m-9") is None

    failure(
        app.handle(c.SuspendTenant(principal=operator, tenant_id=ACME, reason="again")),
        InvariantViolation,
        "already suspended",
    )
    app.execute(c.ReactivateTenant(principal=operator, tenant_id=ACME))
    assert app.handle(site_cmd(admin)) == Success(1)


def test_reactivate_only_a_suspended_tenant(
    app: Application, operator: Principal, failure: Fail
) -> None:
    result = app.handle(c.ReactivateTenant(principal=operator, tenant_id=ACME))
    failure(result, InvariantViolation, "not suspended")


# --- members -------------------------------------------------------------------------------


def test_admin_invites_and_editor_cannot(
    app: Application, admin: Principal, editor: Principal, viewer: Principal, failure: Fail
) -> None:
    failure(app.handle(invite(editor)), PermissionDenied, "editor; admin required")
    failure(app.handle(invite(viewer)), PermissionDenied, "viewer; admin required")
    assert isinstance(app.handle(invite(admin)), Success)
    user = app.directory.user("acme", "dave")
    assert user is not None
    assert user.role is Role.VIEWER
    failure(app.handle(invite(admin)), AlreadyExists, "dave is already a member")


def test_invite_with_a_bad_email_is_a_validation_failure(
    app: Application, admin: Principal, failure: Fail
) -> None:
    result = app.handle(
        c.InviteUser(
            principal=admin, tenant_id=ACME, user_id=UserId("x"), email="nope", role=Role.VIEWER
        )
    )
    failure(result, ValidationError, "not an e-mail address")


def test_last_admin_cannot_be_removed_or_demoted(
    app: Application, admin: Principal, failure: Fail
) -> None:
    alice = UserId("alice")
    result = app.handle(c.RemoveUser(principal=admin, tenant_id=ACME, user_id=alice))
    failure(result, InvariantViolation, "last admin")
    result = app.handle(
        c.ChangeUserRole(principal=admin, tenant_id=ACME, user_id=alice, role=Role.EDITOR)
    )
    failure(result, InvariantViolation, "last admin")
    user = app.directory.user("acme", "alice")
    assert user is not None
    assert user.role is Role.ADMIN

    app.execute(
        c.ChangeUserRole(principal=admin, tenant_id=ACME, user_id=UserId("bob"), role=Role.ADMIN)
    )
    app.execute(c.RemoveUser(principal=admin, tenant_id=ACME, user_id=alice))
    assert app.directory.user("acme", "alice") is None


def test_unknown_member_is_not_found(app: Application, admin: Principal, failure: Fail) -> None:
    result = app.handle(c.RemoveUser(principal=admin, tenant_id=ACME, user_id=UserId("zed")))
    failure(result, NotFound, "user zed not found")


# --- sites ---------------------------------------------------------------------------------


def test_register_site_with_shifts(app: Application, admin: Principal) -> None:
    shifts = (Shift.create("Early", (0, 1, 2, 3, 4), "06:00", "14:00"),)
    assert app.handle(site_cmd(admin, timezone="America/Chicago", shifts=shifts)) == Success(1)
    entry = app.directory.site("acme", "plant-2")
    assert entry is not None
    assert entry.details.timezone == "America/Chicago"
    assert entry.details.shifts == shifts


@pytest.mark.parametrize("zone", ["Mars/Base", "../../etc/passwd", "", "Europe"])
def test_register_site_with_a_bad_timezone(
    app: Application, admin: Principal, zone: str, failure: Fail
) -> None:
    failure(app.handle(site_cmd(admin, timezone=zone)), InvalidTimezone, "timezone")
    assert app.directory.site("acme", "plant-2") is None


def test_site_errors(app: Application, admin: Principal, editor: Principal, failure: Fail) -> None:
    failure(app.handle(site_cmd(admin, "plant-1")), AlreadyExists, "site plant-1 already exists")
    failure(app.handle(site_cmd(editor)), PermissionDenied, "admin required")
    result = app.handle(
        c.ChangeSiteDetails(
            principal=admin, tenant_id=ACME, site_id=SiteId("nowhere"), name="N", timezone="UTC"
        )
    )
    failure(result, NotFound, "site nowhere not found")


def test_change_site_details(app: Application, admin: Principal) -> None:
    result = app.handle(
        c.ChangeSiteDetails(
            principal=admin,
            tenant_id=ACME,
            site_id=SiteId("plant-1"),
            name="Plant One",
            timezone="Europe/Vienna",
        )
    )
    assert result == Success(2)
    entry = app.directory.site("acme", "plant-1")
    assert entry is not None
    assert (entry.details.name, entry.details.timezone, entry.version) == (
        "Plant One",
        "Europe/Vienna",
        2,
    )


# --- isolation and If-Match ----------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda p: c.RenameTenant(principal=p, tenant_id=ACME, name="Pwned"),
        lambda p: invite(p, "mallory", Role.ADMIN),
        lambda p: c.RemoveUser(principal=p, tenant_id=ACME, user_id=UserId("bob")),
        site_cmd,
        lambda p: c.ChangeSiteDetails(
            principal=p, tenant_id=ACME, site_id=SiteId("plant-1"), name="X", timezone="UTC"
        ),
    ],
    ids=["rename", "invite", "remove", "register-site", "change-site"],
)
def test_another_tenants_admin_gets_not_found(
    app: Application, other_admin: Principal, make: Any, failure: Fail
) -> None:
    version = tenant_version(app)
    failure(app.handle(make(other_admin)), NotFound, "not found")
    assert tenant_version(app) == version
    assert app.directory.user("acme", "mallory") is None


def test_stale_expected_version_fails_and_stores_nothing(
    app: Application, admin: Principal, failure: Fail
) -> None:
    current = tenant_version(app)
    before = app.events.read_all(limit=10_000)
    stale = c.RenameTenant(
        principal=admin, tenant_id=ACME, name="Renamed", expected_version=current - 1
    )
    failure(app.handle(stale), PreconditionFailed, f"at version {current}, not {current - 1}")
    assert app.events.read_all(limit=10_000) == before
    entry = app.directory.tenant("acme")
    assert entry is not None
    assert entry.name == "acme Corp"

    fresh = c.RenameTenant(
        principal=admin, tenant_id=ACME, name="Renamed", expected_version=current
    )
    assert app.handle(fresh) == Success(current + 1)


def test_stale_expected_version_on_a_site(
    app: Application, admin: Principal, failure: Fail
) -> None:
    command = c.ChangeSiteDetails(
        principal=admin,
        tenant_id=ACME,
        site_id=SiteId("plant-1"),
        name="Plant One",
        timezone="UTC",
        expected_version=7,
    )
    failure(app.handle(command), PreconditionFailed, "site plant-1 is at version 1")
