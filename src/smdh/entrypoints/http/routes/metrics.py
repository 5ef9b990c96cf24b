"""Plant metrics of the caller's tenant: OEE, energy and cost, air quality.

Each route takes a range (``from``/``to``, default the last 24 hours before the application
clock's now), a grouping (site-local hours, days, shifts, months or the total) and narrows
to one ``site_id`` or ``device_id`` (another tenant's is a 404, as one that does not exist).
Site rows (``device_id`` null) combine the site's devices: OEE from summed times and counts,
never an average of ratios. Long ranges are answered from rollups, short ones from raw data
(``smdh.application.analytics``).
"""

from __future__ import annotations

from typing import Any

from smdh.adapters.memory.rollups import InMemoryRollupStore
from smdh.application.analytics import Analytics, Group
from smdh.application.ports import RollupStore
from smdh.domain.metrics.air_quality import AqiValue
from smdh.domain.shared.ids import DeviceId, SiteId
from smdh.entrypoints.http import telemetry_views as tv
from smdh.entrypoints.http.core import (
    VIEWER,
    ApiProblem,
    ApiResponse,
    QueryParam,
    RequestContext,
    Route,
    id_pattern,
)

DAY = 86_400
MAX_SPAN_S = 400 * DAY
_RANGE = (
    QueryParam("from", description="start (inclusive): ISO 8601 with offset or epoch seconds; "
               "default: 24 hours before `to`", pattern=tv.INSTANT_PATTERN, max_length=40),
    QueryParam("to", description="end (exclusive): ISO 8601 with offset or epoch seconds; "
               "default: now", pattern=tv.INSTANT_PATTERN, max_length=40),
    QueryParam("site_id", description="only this site", pattern=id_pattern(SiteId)),
    QueryParam("device_id", description="only this device", pattern=id_pattern(DeviceId)),
)  # fmt: skip


def _group(choices: tuple[str, ...], default: str) -> QueryParam:
    return QueryParam("group", "enum", f"site-local periods (default {default})", choices=choices)


def analytics(ctx: RequestContext) -> Analytics:
    """The analytics service over the configured stores (rollups when the app has them)."""
    services = ctx.services
    if services.telemetry is None:
        raise ApiProblem(404, "route-not-found", "no telemetry store is configured")
    rollups: RollupStore | None = services.rollups
    if rollups is None:  # e.g. an app built without the container's rollup store
        rollups = InMemoryRollupStore(services.telemetry, services.application.sensors)
    app = services.application
    return Analytics(
        directory=app.directory, devices=app.devices, telemetry=services.telemetry, rollups=rollups
    )


def query_range(ctx: RequestContext, default_span_s: int = DAY) -> tuple[float, float]:
    now = ctx.services.clock.now().timestamp()
    end = tv.parse_instant("to", ctx.query["to"]) if "to" in ctx.query else now
    given = ctx.query.get("from")
    start = tv.parse_instant("from", given) if given else end - default_span_s
    if start >= end:
        raise ApiProblem(400, "invalid-query", "from must be before to")
    if end - start > MAX_SPAN_S:
        raise ApiProblem(400, "invalid-query", f"the range is longer than {MAX_SPAN_S // DAY} days")
    return start, end


def _scope(ctx: RequestContext) -> dict[str, Any]:
    ctx.tenant()
    return {"site_id": ctx.query.get("site_id"), "device_id": ctx.query.get("device_id")}


def _period(label: str, start: float, end: float) -> dict[str, Any]:
    return {"period": label, "start": tv.iso(start), "end": tv.iso(end)}


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def oee(ctx: RequestContext) -> ApiResponse:
    start, end = query_range(ctx)
    group: Group = ctx.query.get("group", "hour")
    rows = analytics(ctx).oee(ctx.tenant(), start, end, group, **_scope(ctx))
    items = []
    for row in rows:
        r = row.result
        items.append({
            "device_id": row.device_id, "site_id": row.site_id,
            **_period(row.period.label, row.period.start, row.period.end),
            "oee": _ratio(r.oee), "availability": _ratio(r.availability),
            "performance": _ratio(r.performance), "quality": _ratio(r.quality),
            "planned_s": r.planned_s, "run_s": r.run_s, "idle_s": r.idle_s,
            "offline_s": r.offline_s, "unknown_s": r.unknown_s,
            "produced": r.produced, "scrap": r.scrap, "good": r.good,
        })  # fmt: skip
    return ApiResponse(
        200, {"from": tv.iso(start), "to": tv.iso(end), "group": group, "items": items}
    )


def energy(ctx: RequestContext) -> ApiResponse:
    start, end = query_range(ctx)
    group: Group = ctx.query.get("group", "day")
    rows = analytics(ctx).energy(ctx.tenant(), start, end, group, **_scope(ctx))
    items = [
        {
            "device_id": row.device_id, "site_id": row.site_id,
            **_period(row.period.label, row.period.start, row.period.end),
            "kwh": round(row.cost.kwh, 6), "cost": round(row.cost.cost, 6),
            "currency": row.cost.currency, "tariff": row.tariff,
            "by_period": {
                name: {"kwh": round(k, 6), "cost": round(c, 6)}
                for name, (k, c) in sorted(row.cost.by_period.items())
            },
        }
        for row in rows
    ]  # fmt: skip
    return ApiResponse(
        200, {"from": tv.iso(start), "to": tv.iso(end), "group": group, "items": items}
    )


def _aqi(value: AqiValue | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"aqi": value.aqi, "category": value.category, "concentration": value.concentration}


def air_quality(ctx: RequestContext) -> ApiResponse:
    start, end = query_range(ctx)
    group = ctx.query.get("group", "hour")
    rows = analytics(ctx).air_quality(ctx.tenant(), start, end, group, **_scope(ctx))
    items = [
        {
            "device_id": row.device_id, "site_id": row.site_id,
            **_period(row.period.label, row.period.start, row.period.end),
            "pm25_ugm3": row.pm25, "pm10_ugm3": row.pm10, "hours": row.hours,
            "aqi": _aqi(row.aqi),
            "indoor": None if row.indoor is None
            else {"level": row.indoor.level, "name": row.indoor.name},
        }
        for row in rows
    ]  # fmt: skip
    return ApiResponse(
        200, {"from": tv.iso(start), "to": tv.iso(end), "group": group, "items": items}
    )


_NUM = {"type": ["number", "null"]}
_STR = {"type": "string"}


def _schema(item: dict[str, Any]) -> dict[str, Any]:
    row = {
        "type": "object",
        "properties": {
            "device_id": {"type": ["string", "null"]}, "site_id": _STR, "period": _STR,
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"}, **item,
        },
        "required": ["device_id", "site_id", "period", "start", "end"],
    }  # fmt: skip
    return {
        "type": "object",
        "required": ["from", "to", "group", "items"],
        "properties": {
            "from": {"type": "string", "format": "date-time"},
            "to": {"type": "string", "format": "date-time"},
            "group": _STR,
            "items": {"type": "array", "items": row},
        },
    }


OEE_SCHEMA = _schema({k: _NUM for k in ("oee", "availability", "performance", "quality",
                      "planned_s", "run_s", "idle_s", "offline_s", "unknown_s",
                      "produced", "scrap", "good")})  # fmt: skip
ENERGY_SCHEMA = _schema({"kwh": _NUM, "cost": _NUM, "currency": _STR, "tariff": _STR,
                         "by_period": {"type": "object"}})  # fmt: skip
AIR_SCHEMA = _schema({"pm25_ugm3": _NUM, "pm10_ugm3": _NUM, "hours": {"type": "integer"},
                      "aqi": {"type": ["object", "null"]},
                      "indoor": {"type": ["object", "null"]}})  # fmt: skip

ROUTES = (
    Route("GET", "/v1/metrics/oee", oee, "getOeeMetrics",
          "OEE (availability, performance, quality) per machine and site", "metrics", VIEWER,
          response_schema=OEE_SCHEMA,
          query=(*_RANGE, _group(("hour", "day", "shift", "total"), "hour")),
          description="ISO 22400-2 OEE over planned (shift) time; `unknown_s` is planned time "
          "without state data, left out of the ratios. Site rows have `device_id` null."),
    Route("GET", "/v1/metrics/energy", energy, "getEnergyMetrics",
          "Energy (kWh) and cost per meter and site with the site's tariff", "metrics", VIEWER,
          response_schema=ENERGY_SCHEMA,
          query=(*_RANGE, _group(("hour", "day", "month", "total"), "day")),
          description="kWh from the meters' cumulative counters (resets handled), costed with "
          "the site's time-of-use tariff (`tariff_ref`; built-in catalogue)."),
    Route("GET", "/v1/metrics/air-quality", air_quality, "getAirQualityMetrics",
          "Air quality per sensor: PM means, NowCast or daily AQI, indoor index", "metrics",
          VIEWER, response_schema=AIR_SCHEMA, query=(*_RANGE, _group(("hour", "day"), "hour")),
          description="US EPA AQI (2024 breakpoints): NowCast per hour, 24-hour average per "
          "site-local day (needs 18 hours); the indoor index combines CO2 and TVOC bands."),
)  # fmt: skip
