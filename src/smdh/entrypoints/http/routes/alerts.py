"""Alerts of the caller's tenant: list and filter, get one, its history, acknowledge, snooze.

Alert ids in the API are ``{rule_id}:{device_id}:{episode}``: the stored aggregate id
(``alert:{tenant}:...``) is rebuilt from the caller's verified tenant, never taken from the
request, so another tenant's alert is simply not found. Viewers read; acknowledging and
snoozing need the editor role (a viewer only looks; see docs/api.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from smdh.adapters.serialization import ENVELOPE_FIELDS, converter, parse_datetime
from smdh.application.alert_board import AlertBoard, AlertEntry
from smdh.application.alerting import AlertingService
from smdh.application.authorization import authorize_tenant
from smdh.domain.alerts.alert import AlertState
from smdh.domain.alerts.rules import Severity
from smdh.domain.shared.errors import NotFound, PreconditionFailed, ValidationError
from smdh.domain.shared.ids import DeviceId, SiteId
from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.http import alert_models as am
from smdh.entrypoints.http.core import (
    CURSOR_PARAM,
    EDITOR,
    LIMIT_PARAM,
    VIEWER,
    ApiProblem,
    ApiResponse,
    QueryParam,
    RequestContext,
    Route,
    etag,
    id_pattern,
)
from smdh.entrypoints.http.pagination import page

_FILTERS = (
    QueryParam("state", "enum", "only alerts in this state",
               choices=tuple(s.value for s in AlertState)),
    QueryParam("severity", "enum", "only alerts of this severity",
               choices=tuple(s.value for s in Severity)),
    QueryParam("site_id", description="only alerts of devices at this site",
               pattern=id_pattern(SiteId), max_length=128),
    QueryParam("device_id", description="only alerts of this device",
               pattern=id_pattern(DeviceId), max_length=128),
)  # fmt: skip


def aggregate_id(tenant_id: str, public_id: str) -> str:
    return f"alert:{tenant_id}:{public_id}"


def public_id(entry_id: str, tenant_id: str) -> str:
    prefix = f"alert:{tenant_id}:"
    return entry_id[len(prefix) :] if entry_id.startswith(prefix) else entry_id


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def alert_view(entry: AlertEntry) -> am.AlertView:
    return am.AlertView(
        alert_id=public_id(entry.alert_id, entry.tenant_id),
        rule_id=entry.rule_id,
        device_id=entry.device_id,
        site_id=entry.site_id,
        sensor_type=entry.sensor_type,
        episode=entry.episode,
        severity=entry.severity,
        state=entry.state.value,
        measure=entry.measure,
        value=entry.value,
        threshold=entry.threshold,
        message=entry.message,
        latched=entry.latched,
        raised_at=_iso(entry.raised_at),
        acknowledged_by=entry.acknowledged_by,
        acknowledged_at=_iso(entry.acknowledged_at),
        note=entry.note,
        cleared_at=_iso(entry.cleared_at),
        clear_reason=entry.clear_reason,
        snoozed_until=_iso(entry.snoozed_until),
        version=entry.version,
    )


def _service(ctx: RequestContext) -> AlertingService:
    service = ctx.services.alerting
    if not isinstance(service, AlertingService):
        raise ApiProblem(404, "route-not-found", "alerting is not running")
    return service


def _board(ctx: RequestContext) -> AlertBoard:
    board = _service(ctx).board
    board.catch_up(ctx.services.events)  # read your own writes
    return board


def _check_version(ctx: RequestContext, entry: AlertEntry) -> None:
    if ctx.if_match is not None and ctx.if_match != entry.version:
        raise PreconditionFailed(f"alert is at version {entry.version}, not {ctx.if_match}")


def _entry(ctx: RequestContext) -> AlertEntry:
    tenant_id = ctx.tenant()
    authorize_tenant(ctx.require_principal(), tenant_id, Role.VIEWER)
    alert_id = ctx.path["alert_id"]
    entry = _board(ctx).get(tenant_id, aggregate_id(tenant_id, alert_id))
    if entry is None:
        raise NotFound(f"alert {alert_id} not found")
    return entry


def _alert_response(ctx: RequestContext) -> ApiResponse:
    view = alert_view(_entry(ctx))
    return ApiResponse(200, converter.unstructure(view), etag(view.version))


def list_alerts(ctx: RequestContext) -> ApiResponse:
    tenant_id = ctx.tenant()
    authorize_tenant(ctx.require_principal(), tenant_id, Role.VIEWER)
    q = ctx.query
    entries = _board(ctx).list(
        tenant_id, state=q.get("state"), severity=q.get("severity"),
        site_id=q.get("site_id"), device_id=q.get("device_id"),
    )  # fmt: skip
    # cursor order: newest first, so the key sorts descending by (opened_at, id)
    keyed = {e.alert_id: f"{9e12 - e.opened_at.timestamp():016.3f}|{e.alert_id}" for e in entries}
    ordered = sorted(entries, key=lambda e: keyed[e.alert_id])
    body = page(ordered, q, lambda e: keyed[e.alert_id],
                lambda e: converter.unstructure(alert_view(e)))  # fmt: skip
    return ApiResponse(200, body)


def get_alert(ctx: RequestContext) -> ApiResponse:
    return _alert_response(ctx)


def alert_history(ctx: RequestContext) -> ApiResponse:
    entry = _entry(ctx)
    entries = []
    for event in ctx.services.events.load(entry.alert_id):
        data: dict[str, Any] = {
            k: v for k, v in converter.unstructure(event).items() if k not in ENVELOPE_FIELDS
        }
        entries.append(
            am.AlertHistoryEntry(
                version=event.version,
                event_type=event.type_name(),
                occurred_at=event.occurred_at.isoformat(),
                actor=event.actor,
                data=data,
            )
        )
    history = am.AlertHistory(
        alert_id=public_id(entry.alert_id, entry.tenant_id), entries=tuple(entries)
    )
    return ApiResponse(200, converter.unstructure(history), etag(entry.version))


def acknowledge(ctx: RequestContext) -> ApiResponse:
    entry = _entry(ctx)
    _check_version(ctx, entry)
    body: am.Acknowledge | None = ctx.body
    note = "" if body is None else body.note
    _service(ctx).acknowledge(ctx.require_principal(), ctx.tenant(), entry.alert_id, note)
    return _alert_response(ctx)


def snooze(ctx: RequestContext) -> ApiResponse:
    entry = _entry(ctx)
    body: am.Snooze = ctx.body
    try:
        until = parse_datetime(body.until)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"until: {exc}") from None
    _check_version(ctx, entry)
    _service(ctx).snooze(ctx.require_principal(), ctx.tenant(), entry.alert_id, until)
    return _alert_response(ctx)


_ONE = "/v1/alerts/{alert_id}"
ROUTES = (
    Route("GET", "/v1/alerts", list_alerts, "listAlerts",
          "List alerts, newest first (filter by state, severity, site, device)", "alerts",
          VIEWER, response_model=am.AlertView, paginated=True,
          query=(LIMIT_PARAM, CURSOR_PARAM, *_FILTERS)),
    Route("GET", _ONE, get_alert, "getAlert", "Get an alert", "alerts", VIEWER,
          response_model=am.AlertView, etag=True),
    Route("GET", _ONE + "/history", alert_history, "getAlertHistory",
          "Every transition of an alert: raised, acknowledged, snoozed, cleared...",
          "alerts", VIEWER, response_model=am.AlertHistory, etag=True),
    Route("POST", _ONE + "/acknowledge", acknowledge, "acknowledgeAlert",
          "Acknowledge an alert with a note (editor or admin)", "alerts", EDITOR,
          request_model=am.Acknowledge, body_required=False, response_model=am.AlertView,
          if_match=True, etag=True),
    Route("POST", _ONE + "/snooze", snooze, "snoozeAlert",
          "Snooze an alert's reminders and escalation until a time (editor or admin)",
          "alerts", EDITOR, request_model=am.Snooze, response_model=am.AlertView,
          if_match=True, etag=True),
)  # fmt: skip
