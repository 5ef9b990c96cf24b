"""Alert rules of the caller's tenant: list, define, get, replace (If-Match), delete, enable,
disable, and switch on a sensor type's default rules. Viewers read; editors change."""

from __future__ import annotations

from typing import Any

import attrs

from smdh.adapters.serialization import converter
from smdh.application import alert_commands as ac
from smdh.application import commands as c
from smdh.application.projections import RuleEntry
from smdh.domain.alerts import rules as r
from smdh.domain.shared.ids import RuleId
from smdh.entrypoints.http import alert_models as am
from smdh.entrypoints.http.core import (
    CURSOR_PARAM,
    EDITOR,
    LIMIT_PARAM,
    VIEWER,
    ApiResponse,
    RequestContext,
    Route,
    etag,
)
from smdh.entrypoints.http.pagination import page

_BASE_FIELDS = ("name", "measure", "threshold", "threshold_high", "duration_s")
_KIND_FIELDS = ("clear_threshold", "latched", "escalate_after_s", "remind_every_s",
                "window_s", "window", "warmup", "z_threshold")  # fmt: skip


def rule_view(entry: RuleEntry) -> am.RuleView:
    d = entry.definition
    return am.RuleView(
        rule_id=entry.rule_id,
        name=d.name,
        scope=am.RuleScope(
            site_id=d.scope.site_id, sensor_type=d.scope.sensor_type, device_id=d.scope.device_id
        ),
        measure=d.measure,
        comparison=d.comparison,
        threshold=d.threshold,
        threshold_high=d.threshold_high,
        duration_s=d.duration_s,
        severity=d.severity,
        channels=d.channels,
        kind=getattr(d, "kind", r.RuleKind.THRESHOLD),
        **{f: getattr(d, f) for f in _KIND_FIELDS if hasattr(d, f)},
        enabled=entry.enabled,
        version=entry.version,
    )


def _fields(body: am.RuleBody, command: type[c.DefineAlertRule]) -> dict[str, Any]:
    """The command's keyword arguments from a body (only the fields the command has)."""
    values: dict[str, Any] = {f: getattr(body, f) for f in _BASE_FIELDS}
    values.update(
        scope=r.RuleScope(
            site_id=body.scope.site_id,
            sensor_type=body.scope.sensor_type,
            device_id=body.scope.device_id,
        ),
        comparison=body.comparison.value,
        severity=body.severity.value,
        channels=tuple(ch.value for ch in body.channels),
        kind=body.kind.value,
        **{f: getattr(body, f) for f in _KIND_FIELDS},
    )
    accepted = attrs.fields_dict(command)
    return {k: v for k, v in values.items() if k in accepted}


def _update_command() -> type[c.DefineAlertRule]:
    found = getattr(ac, "UpdateAlertRuleOfKind", None)
    return found if isinstance(found, type) else c.UpdateAlertRule


def _rule_response(ctx: RequestContext, rule_id: str, status: int = 200) -> ApiResponse:
    entry = ctx.services.queries.rule(ctx.require_principal(), ctx.tenant(), rule_id)
    return ApiResponse(status, converter.unstructure(rule_view(entry)), etag(entry.version))


def list_rules(ctx: RequestContext) -> ApiResponse:
    entries = ctx.services.queries.list_rules(ctx.require_principal(), ctx.tenant())
    body = page(
        sorted(entries, key=lambda e: str(e.rule_id)), ctx.query, lambda e: str(e.rule_id),
        lambda e: converter.unstructure(rule_view(e)),
    )  # fmt: skip
    return ApiResponse(200, body)


def create_rule(ctx: RequestContext) -> ApiResponse:
    body: am.CreateRule = ctx.body
    tenant_id = ctx.tenant()
    command = ac.DefineAlertRuleOfKind
    ctx.run(
        lambda p: command(
            principal=p, tenant_id=tenant_id, rule_id=body.rule_id, **_fields(body, command)
        )
    )
    response = _rule_response(ctx, body.rule_id, 201)
    location = {"Location": f"/v1/alert-rules/{body.rule_id}"}
    return ApiResponse(201, response.body, {**response.headers, **location})


def get_rule(ctx: RequestContext) -> ApiResponse:
    return _rule_response(ctx, RuleId(ctx.path["rule_id"]))


def replace_rule(ctx: RequestContext) -> ApiResponse:
    rule_id = RuleId(ctx.path["rule_id"])
    body: am.RuleBody = ctx.body
    command = _update_command()
    ctx.run(
        lambda p: command(
            principal=p, tenant_id=ctx.tenant(), rule_id=rule_id,
            expected_version=ctx.if_match, **_fields(body, command),
        )
    )  # fmt: skip
    return _rule_response(ctx, rule_id)


def _change(ctx: RequestContext, command: type[c.TenantCommand]) -> ApiResponse:
    rule_id = RuleId(ctx.path["rule_id"])
    ctx.run(
        lambda p: command(  # type: ignore[call-arg]
            principal=p, tenant_id=ctx.tenant(), rule_id=rule_id, expected_version=ctx.if_match
        )
    )
    return _rule_response(ctx, rule_id)


def enable_rule(ctx: RequestContext) -> ApiResponse:
    return _change(ctx, c.EnableAlertRule)


def disable_rule(ctx: RequestContext) -> ApiResponse:
    return _change(ctx, c.DisableAlertRule)


def delete_rule(ctx: RequestContext) -> ApiResponse:
    rule_id = RuleId(ctx.path["rule_id"])
    ctx.run(
        lambda p: c.DeleteAlertRule(
            principal=p, tenant_id=ctx.tenant(), rule_id=rule_id, expected_version=ctx.if_match
        )
    )
    return ApiResponse(204)


def enable_defaults(ctx: RequestContext) -> ApiResponse:
    body: am.EnableDefaults | None = ctx.body
    tenant_id = ctx.tenant()
    sensor_type = None if body is None else body.sensor_type
    ctx.run(
        lambda p: ac.EnableDefaultRules(principal=p, tenant_id=tenant_id, sensor_type=sensor_type)
    )
    return list_rules(ctx)


_ONE = "/v1/alert-rules/{rule_id}"
ROUTES = (
    Route("GET", "/v1/alert-rules", list_rules, "listAlertRules", "List alert rules",
          "alerts", VIEWER, response_model=am.RuleView, paginated=True,
          query=(LIMIT_PARAM, CURSOR_PARAM)),
    Route("POST", "/v1/alert-rules", create_rule, "createAlertRule", "Define an alert rule",
          "alerts", EDITOR, request_model=am.CreateRule, response_model=am.RuleView,
          status=201, etag=True),
    Route("POST", "/v1/alert-rules/defaults", enable_defaults, "enableDefaultAlertRules",
          "Switch on the default rules of a sensor type (or of all types)", "alerts",
          EDITOR, request_model=am.EnableDefaults, body_required=False,
          response_model=am.RuleView, paginated=True, query=(LIMIT_PARAM, CURSOR_PARAM)),
    Route("GET", _ONE, get_rule, "getAlertRule", "Get an alert rule", "alerts", VIEWER,
          response_model=am.RuleView, etag=True),
    Route("PUT", _ONE, replace_rule, "replaceAlertRule",
          "Replace an alert rule's definition", "alerts", EDITOR, request_model=am.RuleBody,
          response_model=am.RuleView, if_match=True, etag=True),
    Route("DELETE", _ONE, delete_rule, "deleteAlertRule", "Delete an alert rule", "alerts",
          EDITOR, status=204, if_match=True),
    Route("POST", _ONE + "/enable", enable_rule, "enableAlertRule", "Enable an alert rule",
          "alerts", EDITOR, response_model=am.RuleView, if_match=True, etag=True),
    Route("POST", _ONE + "/disable", disable_rule, "disableAlertRule",
          "Disable an alert rule", "alerts", EDITOR, response_model=am.RuleView,
          if_match=True, etag=True),
)  # fmt: skip
