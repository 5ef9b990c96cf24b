"""Health, readiness, the caller's identity and the token endpoint."""

from __future__ import annotations

import attrs

from smdh import __version__
from smdh.adapters.serialization import converter
from smdh.entrypoints.http import models as m
from smdh.entrypoints.http.core import (
    AUTHENTICATED,
    PUBLIC,
    ApiProblem,
    ApiResponse,
    RequestContext,
    Route,
)

TOKEN_TTL_SECONDS = 900


def healthz(_ctx: RequestContext) -> ApiResponse:
    return ApiResponse(200, converter.unstructure(m.Health(status="ok", version=__version__)))


def readyz(ctx: RequestContext) -> ApiResponse:
    try:
        ctx.services.readiness()
    except Exception:  # any failure of the probe means "not ready"
        raise ApiProblem(503, "not-ready", "the event store is not reachable") from None
    return ApiResponse(200, converter.unstructure(m.Health(status="ready")))


def issue_token(ctx: RequestContext) -> ApiResponse:
    tokens = ctx.services.tokens
    if tokens is None:
        raise ApiProblem(404, "route-not-found", "sign in through the identity provider")
    body: m.TokenRequest = ctx.body
    principal = ctx.services.identity.authenticate(
        None if body.tenant is None else str(body.tenant), body.username, body.password
    )
    issued = tokens.issue(principal, TOKEN_TTL_SECONDS)
    view = m.Token(
        access_token=issued.access_token,
        token_type=issued.token_type,
        expires_in=issued.expires_in,
    )
    return ApiResponse(200, attrs.asdict(view), {"Cache-Control": "no-store"})


def me(ctx: RequestContext) -> ApiResponse:
    p = ctx.require_principal()
    view = m.Me(
        kind=p.kind.value,
        subject=p.subject,
        tenant_id=None if p.tenant_id is None else str(p.tenant_id),
        role=None if p.role is None else p.role.value,
    )
    return ApiResponse(200, attrs.asdict(view))


ROUTES = (
    Route("GET", "/healthz", healthz, "healthz", "Liveness", "system", PUBLIC,
          response_model=m.Health),
    Route("GET", "/readyz", readyz, "readyz", "Readiness (event store reachable)", "system",
          PUBLIC, response_model=m.Health),
    Route("POST", "/v1/auth/token", issue_token, "issueToken",
          "Exchange username and password for an access token", "auth", PUBLIC,
          request_model=m.TokenRequest, response_model=m.Token, throttle="login"),
    Route("GET", "/v1/me", me, "getMe", "The caller's principal", "auth", AUTHENTICATED,
          response_model=m.Me),
)  # fmt: skip
