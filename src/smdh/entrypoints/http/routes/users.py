"""Members of the caller's tenant: invite with a role, list, change role, remove (FR-3).

Members live inside the Tenant aggregate, so their ETag / If-Match is the tenant's version.
"""

from __future__ import annotations

from smdh.adapters.serialization import converter
from smdh.application import commands as c
from smdh.domain.shared.ids import UserId
from smdh.entrypoints.http import models as m
from smdh.entrypoints.http import views as v
from smdh.entrypoints.http.core import (
    ADMIN,
    CURSOR_PARAM,
    LIMIT_PARAM,
    VIEWER,
    ApiResponse,
    RequestContext,
    Route,
    etag,
)
from smdh.entrypoints.http.pagination import page


def _user_response(ctx: RequestContext, user_id: str, status: int = 200) -> ApiResponse:
    principal, tenant_id = ctx.require_principal(), ctx.tenant()
    entry = ctx.services.queries.user(principal, tenant_id, user_id)
    version = ctx.services.queries.tenant(principal, tenant_id).version
    return ApiResponse(status, converter.unstructure(v.user_view(entry)), etag(version))


def list_users(ctx: RequestContext) -> ApiResponse:
    entries = ctx.services.queries.list_users(ctx.require_principal(), ctx.tenant())
    body = page(
        entries, ctx.query, lambda e: str(e.user_id),
        lambda e: converter.unstructure(v.user_view(e)),
    )  # fmt: skip
    return ApiResponse(200, body)


def invite_user(ctx: RequestContext) -> ApiResponse:
    body: m.InviteUser = ctx.body
    tenant_id = ctx.tenant()
    ctx.run(
        lambda p: c.InviteUser(
            principal=p,
            tenant_id=tenant_id,
            user_id=body.user_id,
            email=body.email,
            role=body.role,
            expected_version=ctx.if_match,
        )
    )
    if body.password is not None:
        ctx.services.identity.set_user_password(tenant_id, body.user_id, body.password)
    response = _user_response(ctx, body.user_id, 201)
    location = {"Location": f"/v1/users/{body.user_id}"}
    return ApiResponse(201, response.body, {**response.headers, **location})


def get_user(ctx: RequestContext) -> ApiResponse:
    return _user_response(ctx, UserId(ctx.path["user_id"]))


def change_role(ctx: RequestContext) -> ApiResponse:
    user_id = UserId(ctx.path["user_id"])
    body: m.ChangeRole = ctx.body
    tenant_id = ctx.tenant()
    ctx.run(
        lambda p: c.ChangeUserRole(
            principal=p,
            tenant_id=tenant_id,
            user_id=user_id,
            role=body.role,
            expected_version=ctx.if_match,
        )
    )
    return _user_response(ctx, user_id)


def remove_user(ctx: RequestContext) -> ApiResponse:
    user_id = UserId(ctx.path["user_id"])
    tenant_id = ctx.tenant()
    ctx.services.queries.user(ctx.require_principal(), tenant_id, user_id)  # 404 first
    version = ctx.run(
        lambda p: c.RemoveUser(
            principal=p, tenant_id=tenant_id, user_id=user_id, expected_version=ctx.if_match
        )
    )
    ctx.services.identity.forget_removed_user(tenant_id, user_id)  # its password hash too
    return ApiResponse(204, None, etag(version))


ROUTES = (
    Route("GET", "/v1/users", list_users, "listUsers", "List the tenant's users", "users",
          VIEWER, response_model=m.UserView, paginated=True,
          query=(LIMIT_PARAM, CURSOR_PARAM)),
    Route("POST", "/v1/users", invite_user, "inviteUser", "Invite a user with a role",
          "users", ADMIN, request_model=m.InviteUser, response_model=m.UserView, status=201,
          if_match=True, etag=True),
    Route("GET", "/v1/users/{user_id}", get_user, "getUser", "Get a user", "users", VIEWER,
          response_model=m.UserView, etag=True),
    Route("PATCH", "/v1/users/{user_id}", change_role, "changeUserRole",
          "Change a user's role", "users", ADMIN, request_model=m.ChangeRole,
          response_model=m.UserView, if_match=True, etag=True),
    Route("DELETE", "/v1/users/{user_id}", remove_user, "removeUser", "Remove a user",
          "users", ADMIN, status=204, if_match=True),
)  # fmt: skip
