"""Use cases for tenants, their members and their sites."""

from __future__ import annotations

from smdh.application import commands as c
from smdh.application.authorization import authorize_operator, authorize_tenant
from smdh.application.ports import Clock
from smdh.application.unit_of_work import UnitOfWork
from smdh.domain.shared.errors import AlreadyExists
from smdh.domain.shared.events import EventContext
from smdh.domain.tenancy.roles import Role
from smdh.domain.tenancy.site import Site, SiteDetails, site_aggregate_id
from smdh.domain.tenancy.tenant import (
    Branding,
    RetentionPolicy,
    Tenant,
    TenantQuotas,
    tenant_aggregate_id,
)


def context(command: c.Command, clock: Clock) -> EventContext:
    return EventContext(occurred_at=clock.now(), actor=command.principal.actor)


def load_tenant(uow: UnitOfWork, command: c.TenantCommand, *, pinned: bool = False) -> Tenant:
    return uow.get(
        Tenant,
        tenant_aggregate_id(command.tenant_id),
        what=f"tenant {command.tenant_id}",
        expected_version=command.expected_version if pinned else None,
    )


def register_tenant(command: c.RegisterTenant, uow: UnitOfWork, clock: Clock) -> int:
    authorize_operator(command.principal)
    if uow.exists(tenant_aggregate_id(command.tenant_id)):
        raise AlreadyExists(f"tenant {command.tenant_id} already exists")
    defaults = TenantQuotas()
    quotas = TenantQuotas(
        max_devices=defaults.max_devices if command.max_devices is None else command.max_devices,
        max_readings_per_second=(
            defaults.max_readings_per_second
            if command.max_readings_per_second is None
            else command.max_readings_per_second
        ),
    )
    tenant = Tenant.register(command.tenant_id, command.name, context(command, clock), quotas)
    uow.add(tenant)
    uow.commit()
    return tenant.version


def _change_tenant(
    command: c.TenantCommand, uow: UnitOfWork, clock: Clock, *, minimum: Role = Role.ADMIN
) -> tuple[Tenant, EventContext]:
    authorize_tenant(command.principal, command.tenant_id, minimum)
    return load_tenant(uow, command, pinned=True), context(command, clock)


def rename_tenant(command: c.RenameTenant, uow: UnitOfWork, clock: Clock) -> int:
    tenant, ctx = _change_tenant(command, uow, clock)
    tenant.rename(command.name, ctx)
    uow.commit()
    return tenant.version


def set_tenant_branding(command: c.SetTenantBranding, uow: UnitOfWork, clock: Clock) -> int:
    tenant, ctx = _change_tenant(command, uow, clock)
    branding = Branding.create(
        command.display_name, command.logo_url, command.primary_colour, command.secondary_colour
    )
    tenant.set_branding(branding, ctx)
    uow.commit()
    return tenant.version


def set_tenant_retention(command: c.SetTenantRetention, uow: UnitOfWork, clock: Clock) -> int:
    tenant, ctx = _change_tenant(command, uow, clock)
    tenant.set_retention(RetentionPolicy(command.raw_days, command.rollup_days), ctx)
    uow.commit()
    return tenant.version


def set_tenant_quotas(command: c.SetTenantQuotas, uow: UnitOfWork, clock: Clock) -> int:
    authorize_operator(command.principal)  # quotas are the operator's to set, not the tenant's
    tenant = load_tenant(uow, command, pinned=True)
    quotas = TenantQuotas(command.max_devices, command.max_readings_per_second)
    tenant.set_quotas(quotas, context(command, clock))
    uow.commit()
    return tenant.version


def suspend_tenant(command: c.SuspendTenant, uow: UnitOfWork, clock: Clock) -> int:
    authorize_operator(command.principal)
    tenant = load_tenant(uow, command, pinned=True)
    tenant.suspend(command.reason, context(command, clock))
    uow.commit()
    return tenant.version


def reactivate_tenant(command: c.ReactivateTenant, uow: UnitOfWork, clock: Clock) -> int:
    authorize_operator(command.principal)
    tenant = load_tenant(uow, command, pinned=True)
    tenant.reactivate(context(command, clock))
    uow.commit()
    return tenant.version


def request_tenant_erasure(command: c.RequestTenantErasure, uow: UnitOfWork, clock: Clock) -> int:
    """Operator only; the tenant stops changing and its users are refused from now on."""
    authorize_operator(command.principal)
    tenant = load_tenant(uow, command, pinned=True)
    tenant.request_erasure(context(command, clock))
    uow.commit()
    return tenant.version


def invite_user(command: c.InviteUser, uow: UnitOfWork, clock: Clock) -> int:
    tenant, ctx = _change_tenant(command, uow, clock)
    tenant.invite_user(command.user_id, command.email, command.role, ctx)
    uow.commit()
    return tenant.version


def change_user_role(command: c.ChangeUserRole, uow: UnitOfWork, clock: Clock) -> int:
    tenant, ctx = _change_tenant(command, uow, clock)
    tenant.change_role(command.user_id, command.role, ctx)
    uow.commit()
    return tenant.version


def remove_user(command: c.RemoveUser, uow: UnitOfWork, clock: Clock) -> int:
    tenant, ctx = _change_tenant(command, uow, clock)
    tenant.remove_user(command.user_id, ctx)
    uow.commit()
    return tenant.version


def register_site(command: c.RegisterSite, uow: UnitOfWork, clock: Clock) -> int:
    authorize_tenant(command.principal, command.tenant_id, Role.ADMIN)
    tenant = load_tenant(uow, command)
    tenant.ensure_active()
    aggregate_id = site_aggregate_id(command.tenant_id, command.site_id)
    if uow.exists(aggregate_id):
        raise AlreadyExists(f"site {command.site_id} already exists")
    details = SiteDetails.create(
        command.name, command.timezone, command.address, command.tariff_ref, command.shifts
    )
    site = Site.register(command.tenant_id, command.site_id, details, context(command, clock))
    uow.add(site)
    uow.commit()
    return site.version


def change_site_details(command: c.ChangeSiteDetails, uow: UnitOfWork, clock: Clock) -> int:
    authorize_tenant(command.principal, command.tenant_id, Role.ADMIN)
    site = uow.get(
        Site,
        site_aggregate_id(command.tenant_id, command.site_id),
        what=f"site {command.site_id}",
        expected_version=command.expected_version,
    )
    details = SiteDetails.create(
        command.name, command.timezone, command.address, command.tariff_ref, command.shifts
    )
    site.change_details(details, context(command, clock))
    uow.commit()
    return site.version
