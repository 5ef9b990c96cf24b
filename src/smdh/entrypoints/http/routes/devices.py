"""Devices of the caller's tenant (FR-4, FR-5): register (credentials shown once), list with
filters, get, update, desired / reported configuration, rotate credentials, decommission."""

from __future__ import annotations

from smdh.adapters.serialization import converter
from smdh.application import commands as c
from smdh.application.handlers.devices import DeviceCredentials
from smdh.domain.assets.device import DeviceStatus
from smdh.domain.shared.ids import DeviceId, SiteId
from smdh.entrypoints.http import models as m
from smdh.entrypoints.http import views as v
from smdh.entrypoints.http.core import (
    ADMIN_OR_OPERATOR,
    CURSOR_PARAM,
    EDITOR,
    LIMIT_PARAM,
    VIEWER,
    ApiResponse,
    QueryParam,
    RequestContext,
    Route,
    etag,
    id_pattern,
)
from smdh.entrypoints.http.pagination import page
from smdh.entrypoints.http.routes.erasure import (
    ERASURE_DOC,
    TENANT_PARAM,
    erasure_body,
    erasure_service,
    erasure_tenant,
)

_FILTERS = (
    QueryParam("site_id", description="only devices at this site", pattern=id_pattern(SiteId),
               max_length=128),
    QueryParam("sensor_type", description="only devices of this sensor type",
               pattern="^[a-z][a-z0-9_]{0,63}$", max_length=64),
    QueryParam("status", "enum", "only devices in this status",
               choices=tuple(s.value for s in DeviceStatus)),
)  # fmt: skip


def _entry(ctx: RequestContext, device_id: str) -> m.DeviceView:
    entry = ctx.services.queries.device(ctx.require_principal(), ctx.tenant(), device_id)
    return v.device_view(entry)


def _device_response(ctx: RequestContext, device_id: str, status: int = 200) -> ApiResponse:
    view = _entry(ctx, device_id)
    return ApiResponse(status, converter.unstructure(view), etag(view.version))


def _credentials(value: DeviceCredentials) -> m.DeviceCredentials:
    return m.DeviceCredentials(
        device_id=value.device_id,
        username=value.username,
        secret=value.secret,
        version=value.version,
    )


def list_devices(ctx: RequestContext) -> ApiResponse:
    entries = ctx.services.queries.list_devices(
        ctx.require_principal(),
        ctx.tenant(),
        site_id=ctx.query.get("site_id"),
        sensor_type=ctx.query.get("sensor_type"),
        status=ctx.query.get("status"),
    )
    body = page(
        entries, ctx.query, lambda e: str(e.device_id),
        lambda e: converter.unstructure(v.device_view(e)),
    )  # fmt: skip
    return ApiResponse(200, body)


def register_device(ctx: RequestContext) -> ApiResponse:
    body: m.RegisterDevice = ctx.body
    tenant_id = ctx.tenant()
    credentials: DeviceCredentials = ctx.run(
        lambda p: c.RegisterDevice(
            principal=p,
            tenant_id=tenant_id,
            device_id=body.device_id,
            site_id=body.site_id,
            sensor_type=body.sensor_type,
            name=body.name,
            metadata=body.metadata,
            ideal_cycle_time_s=body.ideal_cycle_time_s,
        )
    )
    view = m.DeviceRegistration(
        device=_entry(ctx, body.device_id), credentials=_credentials(credentials)
    )
    headers = {
        **etag(credentials.version),
        "Location": f"/v1/devices/{body.device_id}",
        "Cache-Control": "no-store",
    }
    return ApiResponse(201, converter.unstructure(view), headers)


def get_device(ctx: RequestContext) -> ApiResponse:
    return _device_response(ctx, DeviceId(ctx.path["device_id"]))


def update_device(ctx: RequestContext) -> ApiResponse:
    device_id = DeviceId(ctx.path["device_id"])
    current = _entry(ctx, device_id)
    body: m.UpdateDevice = ctx.body
    sent = ctx.raw_body or {}
    ctx.run(
        lambda p: c.ChangeDeviceProfile(
            principal=p,
            tenant_id=ctx.tenant(),
            device_id=device_id,
            expected_version=ctx.if_match,
            site_id=SiteId(current.site_id) if body.site_id is None else body.site_id,
            name=current.name if body.name is None else body.name,
            metadata=current.metadata if body.metadata is None else body.metadata,
            ideal_cycle_time_s=body.ideal_cycle_time_s
            if "ideal_cycle_time_s" in sent
            else current.ideal_cycle_time_s,
        )
    )
    return _device_response(ctx, device_id)


def _configuration_response(ctx: RequestContext, device_id: str) -> ApiResponse:
    entry = ctx.services.queries.device(ctx.require_principal(), ctx.tenant(), device_id)
    return ApiResponse(200, converter.unstructure(v.configuration_view(entry)), etag(entry.version))


def get_configuration(ctx: RequestContext) -> ApiResponse:
    return _configuration_response(ctx, DeviceId(ctx.path["device_id"]))


def set_desired_configuration(ctx: RequestContext) -> ApiResponse:
    device_id = DeviceId(ctx.path["device_id"])
    body: m.DesiredConfiguration = ctx.body
    ctx.run(
        lambda p: c.SetDesiredConfiguration(
            principal=p,
            tenant_id=ctx.tenant(),
            device_id=device_id,
            configuration=body.configuration,
            expected_version=ctx.if_match,
        )
    )
    return _configuration_response(ctx, device_id)


def rotate_credentials(ctx: RequestContext) -> ApiResponse:
    device_id = DeviceId(ctx.path["device_id"])
    credentials: DeviceCredentials = ctx.run(
        lambda p: c.RotateDeviceCredentials(
            principal=p, tenant_id=ctx.tenant(), device_id=device_id,
            expected_version=ctx.if_match,
        )
    )  # fmt: skip
    headers = {**etag(credentials.version), "Cache-Control": "no-store"}
    return ApiResponse(200, converter.unstructure(_credentials(credentials)), headers)


def decommission_device(ctx: RequestContext) -> ApiResponse:
    device_id = DeviceId(ctx.path["device_id"])
    body: m.Decommission | None = ctx.body
    ctx.run(
        lambda p: c.DecommissionDevice(
            principal=p,
            tenant_id=ctx.tenant(),
            device_id=device_id,
            reason="" if body is None else body.reason,
            expected_version=ctx.if_match,
        )
    )
    return _device_response(ctx, device_id)


def erase_device(ctx: RequestContext) -> ApiResponse:
    body: m.ConfirmErasure = ctx.body
    principal, tenant_id = ctx.require_principal(), erasure_tenant(ctx)
    ctx.services.queries.device(principal, tenant_id, ctx.path["device_id"])  # 404 first
    report = erasure_service(ctx).erase_device(
        principal, tenant_id, ctx.path["device_id"], confirm=body.confirm
    )
    return ApiResponse(200, erasure_body(report))


_ONE = "/v1/devices/{device_id}"
ROUTES = (
    Route("GET", "/v1/devices", list_devices, "listDevices",
          "List devices (filter by site, sensor type, status)", "devices", VIEWER,
          response_model=m.DeviceView, paginated=True,
          query=(LIMIT_PARAM, CURSOR_PARAM, *_FILTERS)),
    Route("POST", "/v1/devices", register_device, "registerDevice",
          "Register a device; its credentials are returned once", "devices", EDITOR,
          request_model=m.RegisterDevice, response_model=m.DeviceRegistration, status=201,
          etag=True),
    Route("GET", _ONE, get_device, "getDevice", "Get a device", "devices", VIEWER,
          response_model=m.DeviceView, etag=True),
    Route("PATCH", _ONE, update_device, "updateDevice",
          "Change a device's name, site, metadata or ideal cycle time", "devices", EDITOR,
          request_model=m.UpdateDevice, response_model=m.DeviceView, if_match=True,
          etag=True),
    Route("GET", _ONE + "/configuration", get_configuration, "getDeviceConfiguration",
          "Desired and reported configuration", "devices", VIEWER,
          response_model=m.ConfigurationView, etag=True),
    Route("PUT", _ONE + "/configuration/desired", set_desired_configuration,
          "setDesiredConfiguration", "Set the desired configuration", "devices", EDITOR,
          request_model=m.DesiredConfiguration, response_model=m.ConfigurationView,
          if_match=True, etag=True),
    Route("POST", _ONE + "/credentials/rotate", rotate_credentials, "rotateDeviceCredentials",
          "Issue new credentials (shown once); the old ones stop working", "devices",
          EDITOR, response_model=m.DeviceCredentials, if_match=True, etag=True),
    Route("POST", _ONE + "/decommission", decommission_device, "decommissionDevice",
          "Take a device out of service", "devices", EDITOR, request_model=m.Decommission,
          body_required=False, response_model=m.DeviceView, if_match=True, etag=True),
    Route("POST", _ONE + "/erasure", erase_device, "eraseDevice",
          "Erase a device and all its data (GDPR; cannot be undone)", "devices",
          ADMIN_OR_OPERATOR, request_model=m.ConfirmErasure, response_model=m.ErasureReport,
          query=(TENANT_PARAM,), description=ERASURE_DOC, extra_statuses=(501,)),
)  # fmt: skip
