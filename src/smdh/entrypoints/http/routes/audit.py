"""``GET /v1/audit``: who changed what and when, read straight from the event store.

Every event carries the acting principal (``actor``). Tenant admins see their own tenant's
events; the operator sees all, or one tenant's with ``?tenant=``. Fields that look like
secrets (names containing hash, secret or password) are redacted.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from smdh.adapters.serialization import ENVELOPE_FIELDS, converter
from smdh.application.ports import StoredEvent
from smdh.domain.shared.errors import NotFound
from smdh.domain.shared.ids import TenantId
from smdh.entrypoints.http import models as m
from smdh.entrypoints.http.core import (
    ADMIN_OR_OPERATOR,
    CURSOR_PARAM,
    LIMIT_PARAM,
    ApiResponse,
    QueryParam,
    RequestContext,
    Route,
    id_pattern,
)
from smdh.entrypoints.http.pagination import decode_cursor, encode_cursor, limit_of

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"hash|secret|password", re.IGNORECASE)


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_NAME.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def audit_entry(stored: StoredEvent) -> m.AuditEntry:
    event = stored.event
    payload = converter.unstructure(event)
    data = {k: v for k, v in payload.items() if k not in ENVELOPE_FIELDS}
    return m.AuditEntry(
        position=stored.position,
        occurred_at=event.occurred_at.isoformat(),
        actor=event.actor,
        tenant_id=event.tenant_id,
        event_type=event.type_name(),
        aggregate_id=event.aggregate_id,
        version=event.version,
        data=redact(data),
    )


def _scope(ctx: RequestContext) -> str | None:
    principal = ctx.require_principal()
    asked = ctx.query.get("tenant")
    if principal.is_operator:
        return None if asked is None else str(TenantId(asked))
    own = principal.require_tenant()
    if asked is not None and asked != own:
        raise NotFound(f"tenant {asked} not found")
    return str(own)


def list_audit(ctx: RequestContext) -> ApiResponse:
    tenant_id = _scope(ctx)
    after = decode_cursor(ctx.query.get("cursor"), int)
    limit = limit_of(ctx.query)
    stored = ctx.services.events.read_all(
        after_position=int(after or 0), limit=limit + 1, tenant_id=tenant_id
    )
    chosen = stored[:limit]
    more = len(stored) > limit
    body = {
        "items": [attrs.asdict(audit_entry(s)) for s in chosen],
        "next_cursor": encode_cursor(chosen[-1].position) if more and chosen else None,
    }
    return ApiResponse(200, body)


ROUTES = (
    Route("GET", "/v1/audit", list_audit, "listAudit",
          "Who changed what and when (oldest first)", "audit", ADMIN_OR_OPERATOR,
          response_model=m.AuditEntry, paginated=True,
          query=(LIMIT_PARAM, CURSOR_PARAM,
                 QueryParam("tenant", description="operator: only this tenant's events",
                            pattern=id_pattern(TenantId), max_length=63))),
)  # fmt: skip
