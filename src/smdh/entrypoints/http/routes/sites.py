"""Sites of the caller's tenant: timezone, address, tariff and shift calendar (FR-2)."""

from __future__ import annotations

from smdh.adapters.serialization import converter
from smdh.application import commands as c
from smdh.domain.shared.ids import SiteId
from smdh.domain.tenancy.site import Shift
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


def _shifts(shifts: tuple[m.Shift, ...]) -> tuple[Shift, ...]:
    return tuple(Shift.create(s.name, s.weekdays, s.start, s.end) for s in shifts)


def _site_response(ctx: RequestContext, site_id: str, status: int = 200) -> ApiResponse:
    entry = ctx.services.queries.site(ctx.require_principal(), ctx.tenant(), site_id)
    return ApiResponse(status, converter.unstructure(v.site_view(entry)), etag(entry.version))


def list_sites(ctx: RequestContext) -> ApiResponse:
    entries = ctx.services.queries.list_sites(ctx.require_principal(), ctx.tenant())
    body = page(
        entries, ctx.query, lambda e: str(e.site_id),
        lambda e: converter.unstructure(v.site_view(e)),
    )  # fmt: skip
    return ApiResponse(200, body)


def create_site(ctx: RequestContext) -> ApiResponse:
    body: m.CreateSite = ctx.body
    tenant_id = ctx.tenant()
    ctx.run(
        lambda p: c.RegisterSite(
            principal=p,
            tenant_id=tenant_id,
            site_id=body.site_id,
            name=body.name,
            timezone=body.timezone,
            address=body.address,
            tariff_ref=body.tariff_ref,
            shifts=_shifts(body.shifts),
        )
    )
    response = _site_response(ctx, body.site_id, 201)
    location = {"Location": f"/v1/sites/{body.site_id}"}
    return ApiResponse(201, response.body, {**response.headers, **location})


def get_site(ctx: RequestContext) -> ApiResponse:
    return _site_response(ctx, SiteId(ctx.path["site_id"]))


def update_site(ctx: RequestContext) -> ApiResponse:
    site_id = SiteId(ctx.path["site_id"])
    tenant_id = ctx.tenant()
    current = ctx.services.queries.site(ctx.require_principal(), tenant_id, site_id).details
    body: m.UpdateSite = ctx.body
    sent = ctx.raw_body or {}
    shifts = current.shifts if body.shifts is None else _shifts(body.shifts)
    ctx.run(
        lambda p: c.ChangeSiteDetails(
            principal=p,
            tenant_id=tenant_id,
            site_id=site_id,
            expected_version=ctx.if_match,
            name=current.name if body.name is None else body.name,
            timezone=current.timezone if body.timezone is None else body.timezone,
            address=current.address if body.address is None else body.address,
            tariff_ref=body.tariff_ref if "tariff_ref" in sent else current.tariff_ref,
            shifts=shifts,
        )
    )
    return _site_response(ctx, site_id)


ROUTES = (
    Route("GET", "/v1/sites", list_sites, "listSites", "List the tenant's sites", "sites",
          VIEWER, response_model=m.SiteView, paginated=True,
          query=(LIMIT_PARAM, CURSOR_PARAM)),
    Route("POST", "/v1/sites", create_site, "createSite", "Register a site", "sites", ADMIN,
          request_model=m.CreateSite, response_model=m.SiteView, status=201, etag=True),
    Route("GET", "/v1/sites/{site_id}", get_site, "getSite", "Get a site", "sites", VIEWER,
          response_model=m.SiteView, etag=True),
    Route("PATCH", "/v1/sites/{site_id}", update_site, "updateSite",
          "Change a site's name, timezone, address, tariff or shifts", "sites", ADMIN,
          request_model=m.UpdateSite, response_model=m.SiteView, if_match=True, etag=True),
)  # fmt: skip
