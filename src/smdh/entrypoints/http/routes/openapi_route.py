"""``GET /v1/openapi.json``: the document generated from the route table."""

from __future__ import annotations

from smdh.entrypoints.http.core import PUBLIC, ApiResponse, RequestContext, Route
from smdh.entrypoints.http.openapi import build_document


def get_openapi(_ctx: RequestContext) -> ApiResponse:
    from smdh.entrypoints.http.routes import all_routes  # noqa: PLC0415  (the table includes us)

    return ApiResponse(200, build_document(all_routes()))


ROUTES = (
    Route("GET", "/v1/openapi.json", get_openapi, "getOpenApi", "This OpenAPI document",
          "system", PUBLIC),
)  # fmt: skip
