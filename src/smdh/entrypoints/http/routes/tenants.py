"""Tenants: the operator registers, lists, suspends and reactivates them (FR-1); a tenant's
users read their own profile and its admins change name, branding and retention."""

from __future__ import annotations

from typing import Any

from smdh.adapters.serialization import converter
from smdh.application import commands as c
from smdh.application.principals import Principal
from smdh.domain.shared.errors import PreconditionFailed
from smdh.domain.shared.ids import TenantId
from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.http import models as m
from smdh.entrypoints.http import views as v
from smdh.entrypoints.http.core import (
    ADMIN,
    CURSOR_PARAM,
    LIMIT_PARAM,
    OPERATOR,
    VIEWER,
    ApiResponse,
    RequestContext,
    Route,
    etag,
)
from smdh.entrypoints.http.pagination import page
from smdh.entrypoints.http.routes.erasure import ERASURE_DOC, erasure_body, erasure_service


def _tenant_response(ctx: RequestContext, tenant_id: TenantId, status: int = 200) -> ApiResponse:
    entry = ctx.services.queries.tenant(ctx.require_principal(), tenant_id)
    body = converter.unstructure(v.tenant_view(entry))
    return ApiResponse(status, body, etag(entry.version))


def list_tenants(ctx: RequestContext) -> ApiResponse:
    entries = ctx.services.queries.list_tenants(ctx.require_principal())
    body = page(
        entries, ctx.query, lambda e: str(e.tenant_id),
        lambda e: converter.unstructure(v.tenant_view(e)),
    )  # fmt: skip
    return ApiResponse(200, body)


def create_tenant(ctx: RequestContext) -> ApiResponse:
    body: m.CreateTenant = ctx.body
    tenant_id = body.tenant_id
    ctx.run(
        lambda p: c.RegisterTenant(
            principal=p,
            tenant_id=tenant_id,
            name=body.name,
            max_devices=body.max_devices,
            max_readings_per_second=body.max_readings_per_second,
        )
    )
    admin = body.admin
    if admin is not None:
        ctx.run(
            lambda p: c.InviteUser(
                principal=p,
                tenant_id=tenant_id,
                user_id=admin.user_id,
                email=admin.email,
                role=Role.ADMIN,
            )
        )
        if admin.password is not None:
            ctx.services.identity.set_user_password(tenant_id, admin.user_id, admin.password)
    response = _tenant_response(ctx, tenant_id, 201)
    return ApiResponse(
        201, response.body, {**response.headers, "Location": f"/v1/tenants/{tenant_id}"}
    )


def get_tenant(ctx: RequestContext) -> ApiResponse:
    return _tenant_response(ctx, TenantId(ctx.path["tenant_id"]))


def suspend_tenant(ctx: RequestContext) -> ApiResponse:
    tenant_id = TenantId(ctx.path["tenant_id"])
    body: m.SuspendTenant = ctx.body
    ctx.run(
        lambda p: c.SuspendTenant(
            principal=p, tenant_id=tenant_id, reason=body.reason, expected_version=ctx.if_match
        )
    )
    return _tenant_response(ctx, tenant_id)


def reactivate_tenant(ctx: RequestContext) -> ApiResponse:
    tenant_id = TenantId(ctx.path["tenant_id"])
    ctx.run(
        lambda p: c.ReactivateTenant(
            principal=p, tenant_id=tenant_id, expected_version=ctx.if_match
        )
    )
    return _tenant_response(ctx, tenant_id)


def erase_tenant(ctx: RequestContext) -> ApiResponse:
    body: m.ConfirmErasure = ctx.body
    tenant_id = TenantId(ctx.path["tenant_id"])
    ctx.services.queries.tenant(ctx.require_principal(), tenant_id)  # 404 first
    report = erasure_service(ctx).erase_tenant(
        ctx.require_principal(), tenant_id, confirm=body.confirm
    )
    return ApiResponse(200, erasure_body(report))


def get_own_tenant(ctx: RequestContext) -> ApiResponse:
    return _tenant_response(ctx, ctx.tenant())


def update_own_tenant(ctx: RequestContext) -> ApiResponse:
    """Each present part is one command; If-Match pins the first, the rest follow on."""
    tenant_id = ctx.tenant()
    body: m.UpdateTenant = ctx.body
    expected = ctx.if_match

    def step(make: Any) -> None:
        nonlocal expected
        version = ctx.run(make)
        expected = version if expected is not None else None

    if body.name is not None:
        name = body.name
        step(lambda p: c.RenameTenant(
            principal=p, tenant_id=tenant_id, name=name, expected_version=expected))  # fmt: skip
    if body.branding is not None:
        b = body.branding
        step(lambda p: c.SetTenantBranding(
            principal=p, tenant_id=tenant_id, expected_version=expected,
            display_name=b.display_name, logo_url=b.logo_url,
            primary_colour=b.primary_colour, secondary_colour=b.secondary_colour))  # fmt: skip
    if body.retention is not None:
        r = body.retention
        step(lambda p: c.SetTenantRetention(
            principal=p, tenant_id=tenant_id, expected_version=expected,
            raw_days=r.raw_days, rollup_days=r.rollup_days))  # fmt: skip
    if body.name is None and body.branding is None and body.retention is None:
        _check_version(ctx, tenant_id)
    return _tenant_response(ctx, tenant_id)


def _check_version(ctx: RequestContext, tenant_id: TenantId) -> None:
    """An empty PATCH still honours If-Match (412 when stale)."""
    principal: Principal = ctx.require_principal()
    entry = ctx.services.queries.tenant(principal, tenant_id)
    if ctx.if_match is not None and entry.version != ctx.if_match:
        raise PreconditionFailed(f"tenant is at version {entry.version}, not {ctx.if_match}")


ROUTES = (
    Route("GET", "/v1/tenants", list_tenants, "listTenants", "List tenants", "tenants",
          OPERATOR, response_model=m.TenantView, paginated=True,
          query=(LIMIT_PARAM, CURSOR_PARAM)),
    Route("POST", "/v1/tenants", create_tenant, "createTenant",
          "Register a tenant (optionally with its first admin)", "tenants", OPERATOR,
          request_model=m.CreateTenant, response_model=m.TenantView, status=201, etag=True),
    Route("GET", "/v1/tenants/{tenant_id}", get_tenant, "getTenant", "Get a tenant",
          "tenants", OPERATOR, response_model=m.TenantView, etag=True),
    Route("POST", "/v1/tenants/{tenant_id}/suspend", suspend_tenant, "suspendTenant",
          "Suspend a tenant", "tenants", OPERATOR, request_model=m.SuspendTenant,
          response_model=m.TenantView, if_match=True, etag=True),
    Route("POST", "/v1/tenants/{tenant_id}/reactivate", reactivate_tenant, "reactivateTenant",
          "Reactivate a suspended tenant", "tenants", OPERATOR,
          response_model=m.TenantView, if_match=True, etag=True),
    Route("POST", "/v1/tenants/{tenant_id}/erasure", erase_tenant, "eraseTenant",
          "Erase a tenant and all its data (GDPR; cannot be undone)", "tenants", OPERATOR,
          request_model=m.ConfirmErasure, response_model=m.ErasureReport,
          description=ERASURE_DOC, extra_statuses=(501,)),
    Route("GET", "/v1/tenant", get_own_tenant, "getOwnTenant",
          "The caller's tenant profile and branding", "tenant", VIEWER,
          response_model=m.TenantView, etag=True),
    Route("PATCH", "/v1/tenant", update_own_tenant, "updateOwnTenant",
          "Change the caller's tenant name, branding or retention", "tenant", ADMIN,
          request_model=m.UpdateTenant, response_model=m.TenantView, if_match=True,
          etag=True),
)  # fmt: skip
