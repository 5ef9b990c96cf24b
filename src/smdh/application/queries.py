"""The read side: tenant-scoped questions the API, CLI and dashboards ask.

Each query takes the principal and the tenant asked about and authorizes first; lookups go to
the projections with the tenant as part of the key, so another tenant's rows cannot be
reached even by a caller that forgets to check.
"""

from __future__ import annotations

from typing import TypeVar

from smdh.application.authorization import authorize_operator, authorize_tenant
from smdh.application.principals import Principal
from smdh.application.projections import (
    DeviceEntry,
    DeviceRegistry,
    RuleEntry,
    SiteEntry,
    TenantDirectory,
    TenantEntry,
    UserEntry,
)
from smdh.domain.shared.errors import NotFound
from smdh.domain.shared.ids import TenantId
from smdh.domain.tenancy.roles import Role

T = TypeVar("T")


class Queries:
    def __init__(self, directory: TenantDirectory, devices: DeviceRegistry) -> None:
        self._directory = directory
        self._devices = devices

    def list_tenants(self, principal: Principal) -> list[TenantEntry]:
        authorize_operator(principal)
        return sorted(self._directory.tenants.values(), key=lambda e: e.tenant_id)

    def tenant(self, principal: Principal, tenant_id: TenantId) -> TenantEntry:
        if not principal.is_operator:
            authorize_tenant(principal, tenant_id, Role.VIEWER)
        return _found(self._directory.tenant(tenant_id), f"tenant {tenant_id}")

    def list_sites(self, principal: Principal, tenant_id: TenantId) -> list[SiteEntry]:
        authorize_tenant(principal, tenant_id, Role.VIEWER)
        return self._directory.list_sites(tenant_id)

    def site(self, principal: Principal, tenant_id: TenantId, site_id: str) -> SiteEntry:
        authorize_tenant(principal, tenant_id, Role.VIEWER)
        return _found(self._directory.site(tenant_id, site_id), f"site {site_id}")

    def list_users(self, principal: Principal, tenant_id: TenantId) -> list[UserEntry]:
        authorize_tenant(principal, tenant_id, Role.VIEWER)
        return self._directory.list_users(tenant_id)

    def user(self, principal: Principal, tenant_id: TenantId, user_id: str) -> UserEntry:
        authorize_tenant(principal, tenant_id, Role.VIEWER)
        return _found(self._directory.user(tenant_id, user_id), f"user {user_id}")

    def list_devices(
        self,
        principal: Principal,
        tenant_id: TenantId,
        *,
        site_id: str | None = None,
        sensor_type: str | None = None,
        status: str | None = None,
    ) -> list[DeviceEntry]:
        authorize_tenant(principal, tenant_id, Role.VIEWER)
        return self._devices.list(
            tenant_id, site_id=site_id, sensor_type=sensor_type, status=status
        )

    def device(self, principal: Principal, tenant_id: TenantId, device_id: str) -> DeviceEntry:
        authorize_tenant(principal, tenant_id, Role.VIEWER)
        return _found(self._devices.lookup(tenant_id, device_id), f"device {device_id}")

    def list_rules(self, principal: Principal, tenant_id: TenantId) -> list[RuleEntry]:
        authorize_tenant(principal, tenant_id, Role.VIEWER)
        return self._directory.list_rules(tenant_id)

    def rule(self, principal: Principal, tenant_id: TenantId, rule_id: str) -> RuleEntry:
        authorize_tenant(principal, tenant_id, Role.VIEWER)
        return _found(self._directory.rule(tenant_id, rule_id), f"alert rule {rule_id}")


def _found(entry: T | None, what: str) -> T:
    if entry is None:
        raise NotFound(f"{what} not found")
    return entry
