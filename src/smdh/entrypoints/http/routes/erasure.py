"""Shared parts of the two GDPR erasure routes (``POST /v1/tenants/{tenant_id}/erasure`` in
``tenants.py``, ``POST /v1/devices/{device_id}/erasure`` in ``devices.py``)."""

from __future__ import annotations

from typing import Any

from smdh.application.erasure import ErasureService
from smdh.application.lifecycle import ErasureReport
from smdh.domain.shared.errors import NotFound
from smdh.domain.shared.ids import TenantId
from smdh.entrypoints.http.core import ApiProblem, QueryParam, RequestContext, id_pattern

ERASURE_DOC = (
    "Removes the data for good: readings, rollups, archives, dead letters, events and"
    " credentials, then compacts every file so no byte of it remains. The body must repeat"
    ' the id being erased ({"confirm": "<id>"}); otherwise 400 erasure-not-confirmed. Runs'
    " to completion before answering (200 with what was removed); 501 when this deployment"
    " (profile) has no erasure."
)
TENANT_PARAM = QueryParam(
    "tenant", description="operator: the device's tenant (required for the operator)",
    pattern=id_pattern(TenantId), max_length=63,
)  # fmt: skip


def erasure_service(ctx: RequestContext) -> ErasureService:
    service = ctx.services.erasure
    if not isinstance(service, ErasureService):
        raise ApiProblem(
            501, "erasure-unavailable", "erasure is not available in this deployment profile"
        )
    return service


def erasure_tenant(ctx: RequestContext) -> TenantId:
    """The tenant of a device erasure: the caller's own, or for the operator ``?tenant=``."""
    principal = ctx.require_principal()
    asked = ctx.query.get("tenant")
    if principal.is_operator:
        if asked is None:
            raise ApiProblem(400, "invalid-query", "the operator names the tenant: ?tenant=")
        return TenantId(asked)
    own = principal.require_tenant()
    if asked is not None and asked != own:
        raise NotFound(f"tenant {asked} not found")
    return own


def erasure_body(report: ErasureReport) -> dict[str, Any]:
    return {
        "tenant_id": report.tenant_id,
        "device_id": report.device_id,
        "telemetry_rows": report.telemetry_rows,
        "archives": report.archives,
        "purged_rows": report.purged_rows,
    }
