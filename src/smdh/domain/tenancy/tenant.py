"""The Tenant aggregate: a customer company, its white-label profile and its members.

Members live inside the tenant because their key invariant (a tenant always keeps at least
one admin) spans all of them.
"""

from __future__ import annotations

from enum import StrEnum

import attrs

from smdh.domain.shared.aggregate import Aggregate
from smdh.domain.shared.errors import (
    AlreadyExists,
    InvariantViolation,
    NotFound,
    TenantIsSuspended,
    ValidationError,
)
from smdh.domain.shared.events import DomainEvent, EventContext
from smdh.domain.shared.ids import TenantId, UserId
from smdh.domain.shared.values import bounded_text, colour, url
from smdh.domain.tenancy.roles import Role


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ERASURE_REQUESTED = "erasure_requested"
    ERASED = "erased"


@attrs.frozen
class Branding:
    """White-label settings shown in the portal and dashboards."""

    display_name: str
    logo_url: str | None = None
    primary_colour: str | None = None
    secondary_colour: str | None = None

    @classmethod
    def create(
        cls,
        display_name: str,
        logo_url: str | None = None,
        primary_colour: str | None = None,
        secondary_colour: str | None = None,
    ) -> Branding:
        return cls(
            display_name=bounded_text(display_name, "display_name", max_length=100),
            logo_url=url(logo_url, "logo_url") if logo_url else None,
            primary_colour=colour(primary_colour, "primary_colour") if primary_colour else None,
            secondary_colour=(
                colour(secondary_colour, "secondary_colour") if secondary_colour else None
            ),
        )


@attrs.frozen
class RetentionPolicy:
    """How long data stays hot (raw) and how long rollups are kept; the seed's defaults."""

    raw_days: int = 90
    rollup_days: int = 730

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.raw_days <= 3650:
            raise ValidationError("raw_days must be between 1 and 3650")
        if not self.raw_days <= self.rollup_days <= 3650 * 3:
            raise ValidationError("rollup_days must be at least raw_days and at most 10950")


@attrs.frozen
class TenantQuotas:
    max_devices: int = 1000
    max_readings_per_second: int = 5000

    def __attrs_post_init__(self) -> None:
        if self.max_devices < 0 or self.max_readings_per_second < 0:
            raise ValidationError("quotas must not be negative")


@attrs.frozen
class Member:
    user_id: UserId
    email: str
    role: Role


# --- events --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TenantRegistered(DomainEvent):
    name: str
    quotas: TenantQuotas = TenantQuotas()
    retention: RetentionPolicy = RetentionPolicy()


@attrs.frozen(kw_only=True)
class TenantRenamed(DomainEvent):
    name: str


@attrs.frozen(kw_only=True)
class TenantBrandingSet(DomainEvent):
    branding: Branding


@attrs.frozen(kw_only=True)
class TenantRetentionSet(DomainEvent):
    retention: RetentionPolicy


@attrs.frozen(kw_only=True)
class TenantQuotasSet(DomainEvent):
    quotas: TenantQuotas


@attrs.frozen(kw_only=True)
class TenantSuspended(DomainEvent):
    reason: str


@attrs.frozen(kw_only=True)
class TenantReactivated(DomainEvent):
    pass


@attrs.frozen(kw_only=True)
class TenantErasureRequested(DomainEvent):
    pass


@attrs.frozen(kw_only=True)
class TenantErasureCompleted(DomainEvent):
    pass


@attrs.frozen(kw_only=True)
class UserInvited(DomainEvent):
    user_id: UserId
    email: str
    role: Role


@attrs.frozen(kw_only=True)
class UserRoleChanged(DomainEvent):
    user_id: UserId
    role: Role


@attrs.frozen(kw_only=True)
class UserRemoved(DomainEvent):
    user_id: UserId


# --- aggregate -----------------------------------------------------------------------------


def tenant_aggregate_id(tenant_id: TenantId) -> str:
    return f"tenant:{tenant_id}"


def _email(value: str) -> str:
    text = bounded_text(value, "email", max_length=254)
    local, _, domain = text.partition("@")
    if not local or "." not in domain or " " in text:
        raise ValidationError(f"email {text!r} is not an e-mail address")
    return text


class Tenant(Aggregate):
    prefix = "tenant"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.name = ""
        self.status = TenantStatus.ACTIVE
        self.branding: Branding | None = None
        self.retention = RetentionPolicy()
        self.quotas = TenantQuotas()
        self.members: dict[UserId, Member] = {}

    # commands --------------------------------------------------------------------------

    @classmethod
    def register(
        cls,
        tenant_id: TenantId,
        name: str,
        ctx: EventContext,
        quotas: TenantQuotas | None = None,
        retention: RetentionPolicy | None = None,
    ) -> Tenant:
        tenant = cls(tenant_aggregate_id(tenant_id))
        tenant._record(
            TenantRegistered,
            ctx,
            tenant_id=tenant_id,
            name=bounded_text(name, "name"),
            quotas=quotas or TenantQuotas(),
            retention=retention or RetentionPolicy(),
        )
        return tenant

    @property
    def tenant(self) -> TenantId:
        return TenantId(self.tenant_id)

    @property
    def is_active(self) -> bool:
        return self.status is TenantStatus.ACTIVE

    def ensure_active(self) -> None:
        if self.status is TenantStatus.SUSPENDED:
            raise TenantIsSuspended(f"tenant {self.tenant_id} is suspended")
        if self.status is not TenantStatus.ACTIVE:
            raise InvariantViolation(f"tenant {self.tenant_id} is being erased")

    def _ensure_not_erased(self) -> None:
        if self.status in (TenantStatus.ERASURE_REQUESTED, TenantStatus.ERASED):
            raise InvariantViolation(f"tenant {self.tenant_id} is being erased")

    def rename(self, name: str, ctx: EventContext) -> None:
        self._ensure_not_erased()
        name = bounded_text(name, "name")
        if name != self.name:
            self._record(TenantRenamed, ctx, name=name)

    def set_branding(self, branding: Branding, ctx: EventContext) -> None:
        self._ensure_not_erased()
        if branding != self.branding:
            self._record(TenantBrandingSet, ctx, branding=branding)

    def set_retention(self, retention: RetentionPolicy, ctx: EventContext) -> None:
        self._ensure_not_erased()
        if retention != self.retention:
            self._record(TenantRetentionSet, ctx, retention=retention)

    def set_quotas(self, quotas: TenantQuotas, ctx: EventContext) -> None:
        self._ensure_not_erased()
        if quotas != self.quotas:
            self._record(TenantQuotasSet, ctx, quotas=quotas)

    def suspend(self, reason: str, ctx: EventContext) -> None:
        self._ensure_not_erased()
        if self.status is TenantStatus.SUSPENDED:
            raise InvariantViolation(f"tenant {self.tenant_id} is already suspended")
        self._record(TenantSuspended, ctx, reason=bounded_text(reason, "reason", max_length=500))

    def reactivate(self, ctx: EventContext) -> None:
        if self.status is not TenantStatus.SUSPENDED:
            raise InvariantViolation(f"tenant {self.tenant_id} is not suspended")
        self._record(TenantReactivated, ctx)

    def request_erasure(self, ctx: EventContext) -> None:
        self._ensure_not_erased()
        self._record(TenantErasureRequested, ctx)

    def complete_erasure(self, ctx: EventContext) -> None:
        if self.status is not TenantStatus.ERASURE_REQUESTED:
            raise InvariantViolation("erasure must be requested before it can complete")
        self._record(TenantErasureCompleted, ctx)

    def invite_user(self, user_id: UserId, email: str, role: Role, ctx: EventContext) -> None:
        self._ensure_not_erased()
        if user_id in self.members:
            raise AlreadyExists(f"user {user_id} is already a member of {self.tenant_id}")
        self._record(UserInvited, ctx, user_id=user_id, email=_email(email), role=Role(role))

    def change_role(self, user_id: UserId, role: Role, ctx: EventContext) -> None:
        member = self._member(user_id)
        role = Role(role)
        if member.role is role:
            return
        if member.role is Role.ADMIN:
            self._ensure_another_admin(user_id)
        self._record(UserRoleChanged, ctx, user_id=user_id, role=role)

    def remove_user(self, user_id: UserId, ctx: EventContext) -> None:
        member = self._member(user_id)
        if member.role is Role.ADMIN:
            self._ensure_another_admin(user_id)
        self._record(UserRemoved, ctx, user_id=user_id)

    def member(self, user_id: UserId) -> Member | None:
        return self.members.get(user_id)

    def _member(self, user_id: UserId) -> Member:
        member = self.members.get(user_id)
        if member is None:
            raise NotFound(f"user {user_id} not found")
        return member

    def _ensure_another_admin(self, user_id: UserId) -> None:
        admins = [m for m in self.members.values() if m.role is Role.ADMIN]
        if len(admins) <= 1 and admins[0].user_id == user_id:
            raise InvariantViolation(f"{user_id} is the last admin of {self.tenant_id}")

    # state -----------------------------------------------------------------------------

    def apply(self, event: DomainEvent) -> None:
        match event:
            case TenantRegistered():
                self.name = event.name
                self.quotas = event.quotas
                self.retention = event.retention
            case TenantRenamed():
                self.name = event.name
            case TenantBrandingSet():
                self.branding = event.branding
            case TenantRetentionSet():
                self.retention = event.retention
            case TenantQuotasSet():
                self.quotas = event.quotas
            case TenantSuspended():
                self.status = TenantStatus.SUSPENDED
            case TenantReactivated():
                self.status = TenantStatus.ACTIVE
            case TenantErasureRequested():
                self.status = TenantStatus.ERASURE_REQUESTED
            case TenantErasureCompleted():
                self.status = TenantStatus.ERASED
                self.members.clear()
            case UserInvited():
                self.members[event.user_id] = Member(event.user_id, event.email, event.role)
            case UserRoleChanged():
                old = self.members[event.user_id]
                self.members[event.user_id] = attrs.evolve(old, role=event.role)
            case UserRemoved():
                self.members.pop(event.user_id, None)
