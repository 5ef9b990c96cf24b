"""Who may act in which tenant. Every handler and query calls these; none trusts its caller.

A tenant user may act only in their own tenant: asking about another tenant's things is
answered exactly like asking about things that do not exist (``NotFound``), so nothing leaks.
The platform operator administers tenants; it may act inside a tenant only through local
administration (the CLI), which already has the data directory in hand.
"""

from __future__ import annotations

from smdh.application.principals import Principal, PrincipalKind
from smdh.domain.shared.errors import NotFound, PermissionDenied
from smdh.domain.shared.ids import TenantId
from smdh.domain.tenancy.roles import Role


def authorize_tenant(principal: Principal, tenant_id: TenantId, minimum: Role) -> None:
    if principal.kind is PrincipalKind.OPERATOR:
        return
    if principal.tenant_id != tenant_id:
        raise NotFound("not found")
    principal.require_role(minimum)


def authorize_operator(principal: Principal) -> None:
    if principal.kind is not PrincipalKind.OPERATOR:
        raise PermissionDenied(f"{principal.actor} is not a platform operator")
