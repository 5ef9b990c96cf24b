"""The v1 route table: every operation of the HTTP API, grouped by resource.

Adapters (aiohttp now, AWS Lambda later) dispatch exactly this tuple and the OpenAPI
document is generated from it.
"""

from __future__ import annotations

from smdh.entrypoints.http.core import Route
from smdh.entrypoints.http.routes import (
    alert_rules,
    alerts,
    audit,
    devices,
    export,
    ingest,
    jobs,
    metrics,
    notifications,
    sites,
    stream,
    system,
    telemetry,
    tenants,
    users,
)


def all_routes() -> tuple[Route, ...]:
    from smdh.entrypoints.http.routes import openapi_route  # noqa: PLC0415

    return (
        *system.ROUTES,
        *tenants.ROUTES,
        *sites.ROUTES,
        *users.ROUTES,
        *devices.ROUTES,
        *telemetry.ROUTES,
        *metrics.ROUTES,
        *jobs.ROUTES,
        *export.ROUTES,
        *ingest.ROUTES,
        *alert_rules.ROUTES,
        *alerts.ROUTES,
        *notifications.ROUTES,
        *stream.ROUTES,
        *audit.ROUTES,
        *openapi_route.ROUTES,
    )
