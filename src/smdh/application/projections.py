"""Read models kept current from domain events: the device registry and tenant directory.

They live in memory and follow the event store's global order (``catch_up``): at start,
after each command, and on a timer in long-running processes. Lookups are dictionary reads,
so the ingest path can ask "which tenant, site and sensor type is this device?" per reading
without a store round trip.
Every lookup takes the tenant: there is no way to ask for a device without saying whose.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from smdh.application.ports import EventStore
from smdh.domain.alerts import rules as r
from smdh.domain.assets import device as d
from smdh.domain.shared.events import DomainEvent
from smdh.domain.shared.ids import DeviceId, RuleId, SiteId, TenantId, UserId
from smdh.domain.shared.values import Scalar
from smdh.domain.tenancy import site as s
from smdh.domain.tenancy import tenant as t
from smdh.domain.tenancy.roles import Role


@attrs.frozen
class DeviceEntry:
    tenant_id: TenantId
    device_id: DeviceId
    site_id: SiteId
    sensor_type: str
    name: str
    status: d.DeviceStatus
    metadata: Mapping[str, Scalar]
    ideal_cycle_time_s: float | None
    credential_hash: str
    desired: Mapping[str, Scalar]
    reported: Mapping[str, Scalar]
    version: int
    registered_at: str

    @property
    def accepts_readings(self) -> bool:
        return self.status is d.DeviceStatus.ACTIVE


@attrs.frozen
class TenantEntry:
    tenant_id: TenantId
    name: str
    status: t.TenantStatus
    branding: t.Branding | None
    retention: t.RetentionPolicy
    quotas: t.TenantQuotas
    version: int
    registered_at: str


@attrs.frozen
class SiteEntry:
    tenant_id: TenantId
    site_id: SiteId
    details: s.SiteDetails
    version: int


@attrs.frozen
class UserEntry:
    tenant_id: TenantId
    user_id: UserId
    email: str
    role: Role


@attrs.frozen
class RuleEntry:
    tenant_id: TenantId
    rule_id: RuleId
    definition: r.RuleDefinition
    enabled: bool
    version: int


class Projection:
    """Base: apply events, remember the last global position seen."""

    def __init__(self) -> None:
        self.position = 0
        self._lock = threading.RLock()

    def apply(self, event: DomainEvent) -> None:
        raise NotImplementedError

    def catch_up(self, store: EventStore, batch: int = 5000) -> int:
        """Apply every stored event after ``position``; returns how many were applied.

        Reading and applying happen under one lock, so two threads catching up at once
        never apply an event twice. Events from other processes (the CLI writing while the
        hub runs) arrive the same way.
        """
        applied = 0
        with self._lock:
            while True:
                page = store.read_all(after_position=self.position, limit=batch)
                if not page:
                    return applied
                for stored in page:
                    self.apply(stored.event)
                    self.position = stored.position
                applied += len(page)


class DeviceRegistry(Projection):
    def __init__(self) -> None:
        super().__init__()
        self._devices: dict[tuple[str, str], DeviceEntry] = {}

    def lookup(self, tenant_id: str, device_id: str) -> DeviceEntry | None:
        return self._devices.get((tenant_id, device_id))

    def list(
        self,
        tenant_id: str,
        *,
        site_id: str | None = None,
        sensor_type: str | None = None,
        status: str | None = None,
    ) -> list[DeviceEntry]:
        found = [
            e
            for (tenant, _), e in self._devices.items()
            if tenant == tenant_id
            and (site_id is None or e.site_id == site_id)
            and (sensor_type is None or e.sensor_type == sensor_type)
            and (status is None or e.status == status)
        ]
        return sorted(found, key=lambda e: e.device_id)

    def count(self, tenant_id: str, *, active_only: bool = True) -> int:
        return sum(
            1
            for (tenant, _), e in self._devices.items()
            if tenant == tenant_id and (e.accepts_readings or not active_only)
        )

    def __iter__(self) -> Iterator[DeviceEntry]:
        return iter(list(self._devices.values()))

    def forget(self, tenant_id: str, device_id: str) -> DeviceEntry | None:
        """Drop an erased device (its events are removed from the store, not superseded);
        returns the entry, which ``restore`` puts back should the erasure fail."""
        with self._lock:
            return self._devices.pop((tenant_id, device_id), None)

    def restore(self, entry: DeviceEntry) -> None:
        with self._lock:
            self._devices.setdefault((entry.tenant_id, entry.device_id), entry)

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, d.DeviceRegistered):
            self._devices[(event.tenant_id, event.device_id)] = DeviceEntry(
                tenant_id=TenantId(event.tenant_id),
                device_id=event.device_id,
                site_id=event.profile.site_id,
                sensor_type=event.sensor_type,
                name=event.profile.name,
                status=d.DeviceStatus.ACTIVE,
                metadata=event.profile.metadata,
                ideal_cycle_time_s=event.profile.ideal_cycle_time_s,
                credential_hash=event.credential_hash,
                desired={},
                reported={},
                version=event.version,
                registered_at=event.occurred_at.isoformat(),
            )
            return
        if isinstance(event, t.TenantErasureCompleted):
            for key in [k for k in self._devices if k[0] == event.tenant_id]:
                del self._devices[key]
            return
        if not event.aggregate_id.startswith("device:"):
            return
        key = (event.tenant_id, event.aggregate_id.split(":", 2)[2])
        entry = self._devices.get(key)
        if entry is None:
            return
        changes: dict[str, Any] = {"version": event.version}
        match event:
            case d.DeviceProfileChanged(profile=p):
                changes.update(
                    site_id=p.site_id,
                    name=p.name,
                    metadata=p.metadata,
                    ideal_cycle_time_s=p.ideal_cycle_time_s,
                )
            case d.DesiredConfigurationSet():
                changes["desired"] = event.configuration
            case d.ReportedConfigurationRecorded():
                changes["reported"] = event.configuration
            case d.DeviceCredentialsRotated():
                changes["credential_hash"] = event.credential_hash
            case d.DeviceDecommissioned():
                changes["status"] = d.DeviceStatus.DECOMMISSIONED
        self._devices[key] = attrs.evolve(entry, **changes)


class TenantDirectory(Projection):
    """Tenants, their sites, members and alert rules, for the API's lists and lookups."""

    def __init__(self) -> None:
        super().__init__()
        self.tenants: dict[str, TenantEntry] = {}
        self.sites: dict[tuple[str, str], SiteEntry] = {}
        self.users: dict[tuple[str, str], UserEntry] = {}
        self.rules: dict[tuple[str, str], RuleEntry] = {}
        # bumped when entries are dropped outside the event flow (erasure), so readers that
        # cache by ``position`` (the alert rule index) rebuild
        self.generation = 0

    def tenant(self, tenant_id: str) -> TenantEntry | None:
        return self.tenants.get(tenant_id)

    def site(self, tenant_id: str, site_id: str) -> SiteEntry | None:
        return self.sites.get((tenant_id, site_id))

    def list_sites(self, tenant_id: str) -> list[SiteEntry]:
        return sorted(
            (e for (tn, _), e in self.sites.items() if tn == tenant_id), key=lambda e: e.site_id
        )

    def list_users(self, tenant_id: str) -> list[UserEntry]:
        return sorted(
            (e for (tn, _), e in self.users.items() if tn == tenant_id), key=lambda e: e.user_id
        )

    def user(self, tenant_id: str, user_id: str) -> UserEntry | None:
        return self.users.get((tenant_id, user_id))

    def list_rules(self, tenant_id: str) -> list[RuleEntry]:
        return sorted(
            (e for (tn, _), e in self.rules.items() if tn == tenant_id), key=lambda e: e.rule_id
        )

    def rule(self, tenant_id: str, rule_id: str) -> RuleEntry | None:
        return self.rules.get((tenant_id, rule_id))

    def forget_device_rules(self, tenant_id: str, device_id: str) -> int:
        """Drop the rules scoped to one device (its erasure deleted their events)."""
        with self._lock:
            gone = [
                key
                for key, entry in self.rules.items()
                if key[0] == tenant_id and entry.definition.scope.device_id == device_id
            ]
            for key in gone:
                del self.rules[key]
            self.generation += len(gone)
            return len(gone)

    def apply(self, event: DomainEvent) -> None:
        tn = event.tenant_id
        match event:
            case t.TenantRegistered():
                self.tenants[tn] = TenantEntry(
                    tenant_id=TenantId(tn),
                    name=event.name,
                    status=t.TenantStatus.ACTIVE,
                    branding=None,
                    retention=event.retention,
                    quotas=event.quotas,
                    version=event.version,
                    registered_at=event.occurred_at.isoformat(),
                )
            case t.TenantErasureCompleted():
                self._forget_tenant(tn)
            case t.UserInvited():
                self.users[(tn, event.user_id)] = UserEntry(
                    TenantId(tn), event.user_id, event.email, event.role
                )
            case t.UserRoleChanged():
                old = self.users[(tn, event.user_id)]
                self.users[(tn, event.user_id)] = attrs.evolve(old, role=event.role)
            case t.UserRemoved():
                self.users.pop((tn, event.user_id), None)
            case s.SiteRegistered():
                self.sites[(tn, event.site_id)] = SiteEntry(
                    TenantId(tn), event.site_id, event.details, event.version
                )
            case s.SiteDetailsChanged():
                key = (tn, event.aggregate_id.split(":", 2)[2])
                self.sites[key] = attrs.evolve(
                    self.sites[key], details=event.details, version=event.version
                )
            case r.AlertRuleDefined():
                self.rules[(tn, event.rule_id)] = RuleEntry(
                    TenantId(tn), event.rule_id, event.definition, True, event.version
                )
            case r.AlertRuleDeleted():
                self.rules.pop((tn, event.aggregate_id.split(":", 2)[2]), None)
            case r.AlertRuleUpdated() | r.AlertRuleEnabled() | r.AlertRuleDisabled():
                self._apply_rule_change(event)
        if event.aggregate_id.startswith("tenant:") and tn in self.tenants:
            self._apply_tenant_change(event)

    def _apply_rule_change(self, event: DomainEvent) -> None:
        key = (event.tenant_id, event.aggregate_id.split(":", 2)[2])
        entry = self.rules.get(key)
        if entry is None:
            return
        changes: dict[str, Any] = {"version": event.version}
        if isinstance(event, r.AlertRuleUpdated):
            changes["definition"] = event.definition
        elif isinstance(event, r.AlertRuleEnabled | r.AlertRuleDisabled):
            changes["enabled"] = isinstance(event, r.AlertRuleEnabled)
        self.rules[key] = attrs.evolve(entry, **changes)

    def _apply_tenant_change(self, event: DomainEvent) -> None:
        tn = event.tenant_id
        changes: dict[str, Any] = {"version": event.version}
        match event:
            case t.TenantRenamed():
                changes["name"] = event.name
            case t.TenantBrandingSet():
                changes["branding"] = event.branding
            case t.TenantRetentionSet():
                changes["retention"] = event.retention
            case t.TenantQuotasSet():
                changes["quotas"] = event.quotas
            case t.TenantSuspended():
                changes["status"] = t.TenantStatus.SUSPENDED
            case t.TenantReactivated():
                changes["status"] = t.TenantStatus.ACTIVE
            case t.TenantErasureRequested():
                changes["status"] = t.TenantStatus.ERASURE_REQUESTED
        self.tenants[tn] = attrs.evolve(self.tenants[tn], **changes)

    def _forget_tenant(self, tenant_id: str) -> None:
        entry = self.tenants.get(tenant_id)
        if entry is not None:
            self.tenants[tenant_id] = attrs.evolve(entry, status=t.TenantStatus.ERASED, name="")
        for table in (self.sites, self.users, self.rules):
            for key in [k for k in table if k[0] == tenant_id]:
                del table[key]
