"""Who is calling: the authenticated principal and the checks handlers make on it.

A ``Principal`` is built only by a token verifier (or a device authenticator) from verified
credentials; handlers receive it and ask it for the tenant and role they need. Tenancy comes
from here, never from a request payload.

Three kinds exist:

- the platform **operator** runs the SaaS (registers and suspends tenants); it belongs to no
  tenant and holds no tenant role (what it may see of a tenant is the handlers' decision);
- a tenant **user** has exactly one role in exactly one tenant;
- a **device** belongs to one tenant and has no role (it may only ingest its own data).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

import attrs

from smdh.domain.shared.errors import DomainError, PermissionDenied, ValidationError
from smdh.domain.shared.ids import DeviceId, TenantId, UserId
from smdh.domain.tenancy.roles import Role


class AuthenticationFailed(DomainError):
    """Credentials missing, malformed, expired or not ours (HTTP 401).

    The message is a short reason fit for a response body; it never contains key material.
    """

    code = "unauthenticated"


class PrincipalKind(StrEnum):
    OPERATOR = "operator"
    USER = "user"
    DEVICE = "device"


@attrs.frozen
class Principal:
    kind: PrincipalKind = attrs.field(converter=PrincipalKind)
    subject: str = attrs.field(validator=attrs.validators.instance_of(str))
    tenant_id: TenantId | None = attrs.field(
        default=None, converter=attrs.converters.optional(TenantId)
    )
    role: Role | None = attrs.field(default=None, converter=attrs.converters.optional(Role))

    def __attrs_post_init__(self) -> None:
        # reject combinations that cannot exist (an operator with a tenant, a roleless user...)
        kind, tenant, role = self.kind, self.tenant_id, self.role
        if kind is PrincipalKind.OPERATOR:
            UserId(self.subject)  # operator names follow the user-id rules
            if tenant is not None or role is not None:
                raise ValidationError("an operator has no tenant and no role")
        elif kind is PrincipalKind.USER:
            UserId(self.subject)
            if tenant is None or role is None:
                raise ValidationError("a user needs a tenant and a role")
        else:
            DeviceId(self.subject)
            if tenant is None or role is not None:
                raise ValidationError("a device needs a tenant and has no role")

    @classmethod
    def operator(cls, name: str) -> Self:
        return cls(PrincipalKind.OPERATOR, name)

    @classmethod
    def user(cls, tenant_id: str, user_id: str, role: Role | str) -> Self:
        return cls(PrincipalKind.USER, user_id, TenantId(tenant_id), Role(role))

    @classmethod
    def device(cls, tenant_id: str, device_id: str) -> Self:
        return cls(PrincipalKind.DEVICE, device_id, TenantId(tenant_id))

    @property
    def is_operator(self) -> bool:
        return self.kind is PrincipalKind.OPERATOR

    @property
    def actor(self) -> str:
        """For audit logs: ``user:acme/alice``, ``operator:root``, ``device:acme/m-001``."""
        if self.tenant_id is None:
            return f"{self.kind.value}:{self.subject}"
        return f"{self.kind.value}:{self.tenant_id}/{self.subject}"

    def require_tenant(self) -> TenantId:
        """The caller's tenant; operators have none and are refused."""
        if self.tenant_id is None:
            raise PermissionDenied(f"{self.actor} does not act within a tenant")
        return self.tenant_id

    def require_role(self, minimum: Role) -> TenantId:
        """Refuse unless this is a user holding ``minimum`` or more; returns their tenant.

        Devices and operators hold no tenant role, so they are always refused here.
        """
        if self.kind is not PrincipalKind.USER or self.role is None:
            raise PermissionDenied(f"{self.actor} has no tenant role; {minimum} required")
        if not self.role.at_least(minimum):
            raise PermissionDenied(f"{self.actor} is {self.role}; {minimum} required")
        return self.require_tenant()

    def require_operator(self) -> None:
        if not self.is_operator:
            raise PermissionDenied(f"{self.actor} is not a platform operator")
