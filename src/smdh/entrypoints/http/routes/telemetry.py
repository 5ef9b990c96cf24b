"""Read routes over the telemetry store: a device's latest values, its readings (raw or in
time buckets), and the tenant's dead letters.

The device is looked up through ``Queries.device`` first (viewer role, caller's tenant), so
another tenant's device is a 404 before any store is touched; the store scopes by tenant
again. The time range defaults to the last hour before the application clock's now.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from smdh.application.ports import DeadLetterStore, RollupStore, TelemetryStore
from smdh.application.projections import DeviceEntry
from smdh.domain.sensors.base import SensorType
from smdh.domain.shared.ids import DeviceId
from smdh.domain.telemetry import Bucket, DeviceSample
from smdh.entrypoints.http import telemetry_views as tv
from smdh.entrypoints.http.core import (
    CURSOR_PARAM,
    LIMIT_PARAM,
    VIEWER,
    ApiProblem,
    ApiResponse,
    QueryParam,
    RequestContext,
    Route,
)
from smdh.entrypoints.http.pagination import decode_cursor, encode_cursor, limit_of

DAY = 86_400
DEFAULT_SPAN_S = 3600
DEFAULT_READINGS_LIMIT = 1000
BUCKETS = {"1m": 60, "1h": 3600, "1d": DAY}
RAW_BUCKETS_MAX_S = 6 * 3600  # longer bucketed ranges are answered from the rollups
# The widest range per request: raw samples, and per bucket width.
MAX_SPAN_S = {None: 31 * DAY, "1m": 31 * DAY, "1h": 366 * DAY, "1d": 3660 * DAY}
_MEASURE = "[a-z][a-z0-9_]{0,63}"
_NUMERIC = ("float", "int")

_RANGE = (
    QueryParam("from", description="start (inclusive): ISO 8601 with offset or epoch seconds; "
               "default: one hour before `to`", pattern=tv.INSTANT_PATTERN, max_length=40),
    QueryParam("to", description="end (exclusive): ISO 8601 with offset or epoch seconds; "
               "default: now", pattern=tv.INSTANT_PATTERN, max_length=40),
)  # fmt: skip
_READINGS_QUERY = (
    *_RANGE,
    QueryParam("measure", description="only these measures (repeat or comma-separate)",
               pattern=f"^{_MEASURE}(,{_MEASURE}){{0,49}}$", max_length=1024, repeatable=True),
    QueryParam("limit", "int", "at most this many items or buckets (default 1000)",
               minimum=1, maximum=10_000),
    QueryParam("bucket", "enum", "aggregate one numeric measure in buckets of this width",
               choices=tuple(BUCKETS)),
)  # fmt: skip
_AFTER = QueryParam(
    "after", "int", "only letters with a greater id (an alternative to cursor)",
    minimum=0, maximum=999_999_999_999,
)  # fmt: skip


def _telemetry(ctx: RequestContext) -> TelemetryStore:
    if ctx.services.telemetry is None:
        raise ApiProblem(404, "route-not-found", "no telemetry store is configured")
    return ctx.services.telemetry


def _device(ctx: RequestContext) -> tuple[DeviceEntry, SensorType | None]:
    """The caller's device (404 for another tenant's) and its sensor type."""
    device_id = DeviceId(ctx.path["device_id"])
    entry = ctx.services.queries.device(ctx.require_principal(), ctx.tenant(), device_id)
    return entry, ctx.services.application.sensors.find(entry.sensor_type)


def latest(ctx: RequestContext) -> ApiResponse:
    entry, _ = _device(ctx)
    points = _telemetry(ctx).latest(entry.tenant_id, entry.device_id)
    newest = max((p.timestamp for p in points), default=None)
    view = tv.LatestView(
        device_id=entry.device_id,
        site_id=entry.site_id,
        sensor_type=entry.sensor_type,
        values={
            p.measure: tv.PointView(value=p.value, timestamp=tv.iso(p.timestamp), epoch=p.timestamp)
            for p in points
        },
        timestamp=None if newest is None else tv.iso(newest),
        epoch=newest,
    )
    return ApiResponse(200, attrs.asdict(view))


def time_range(ctx: RequestContext, max_span_s: int) -> tuple[float, float]:
    end = (
        tv.parse_instant("to", ctx.query["to"])
        if "to" in ctx.query
        else ctx.services.clock.now().timestamp()
    )
    start = (
        tv.parse_instant("from", ctx.query["from"]) if "from" in ctx.query else end - DEFAULT_SPAN_S
    )
    if start >= end:
        raise ApiProblem(400, "invalid-query", "from must be before to")
    if end - start > max_span_s:
        raise ApiProblem(400, "invalid-query", f"the range is longer than {max_span_s // DAY} days")
    return start, end


def measures(ctx: RequestContext, sensor_type: SensorType | None) -> tuple[str, ...]:
    """The requested measures (repeated and/or comma-separated), each one of the type's."""
    given: Sequence[str] = ctx.query.get("measure", ())
    names = list(dict.fromkeys(n for value in given for n in value.split(",") if n))
    valid = () if sensor_type is None else sensor_type.measure_names()
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ApiProblem(
            400,
            "invalid-query",
            f"unknown measure(s) {', '.join(unknown)}; this device's measures are: "
            f"{', '.join(valid)}",
        )
    return tuple(names)


def _item(sample: DeviceSample) -> dict[str, Any]:
    return {
        "timestamp": tv.iso(sample.timestamp),
        "epoch": sample.timestamp,
        "values": dict(sample.values),
    }


def _bucket(bucket: Bucket) -> dict[str, Any]:
    return {
        "start": tv.iso(bucket.start),
        "start_epoch": bucket.start,
        "count": bucket.count,
        "min": bucket.minimum,
        "max": bucket.maximum,
        "avg": bucket.average,
        "sum": bucket.total,
        "first": bucket.first,
        "last": bucket.last,
    }


def readings(ctx: RequestContext) -> ApiResponse:
    entry, sensor_type = _device(ctx)
    bucket: str | None = ctx.query.get("bucket")
    start, end = time_range(ctx, MAX_SPAN_S[bucket])
    chosen = measures(ctx, sensor_type)
    limit = int(ctx.query.get("limit", DEFAULT_READINGS_LIMIT))
    store = _telemetry(ctx)
    body: dict[str, Any] = {
        "device_id": entry.device_id,
        "sensor_type": entry.sensor_type,
        "from": tv.iso(start),
        "to": tv.iso(end),
    }
    if bucket is None:
        samples = store.query_range(
            entry.tenant_id, entry.device_id, start, end, list(chosen) or None, limit + 1
        )
        body["items"] = [_item(s) for s in samples[:limit]]
        body["truncated"] = len(samples) > limit
        return ApiResponse(200, body)
    measure = _one_numeric(chosen, sensor_type)
    rollups: RollupStore | None = ctx.services.rollups
    if rollups is not None and end - start > RAW_BUCKETS_MAX_S:  # long: read rollups
        found = [
            b.to_bucket()
            for b in rollups.buckets(
                entry.tenant_id, entry.device_id, measure, start, end, BUCKETS[bucket]
            )
        ]
    else:
        found = store.aggregate(
            entry.tenant_id, entry.device_id, measure, start, end, BUCKETS[bucket]
        )
    body.update(
        measure=measure,
        bucket=bucket,
        buckets=[_bucket(b) for b in found[:limit]],
        truncated=len(found) > limit,
    )
    return ApiResponse(200, body)


def _one_numeric(chosen: tuple[str, ...], sensor_type: SensorType | None) -> str:
    spec = None if sensor_type is None or len(chosen) != 1 else sensor_type.measure(chosen[0])
    if spec is None or spec.kind not in _NUMERIC:
        numeric = [] if sensor_type is None else [
            m.name for m in sensor_type.measures if m.kind in _NUMERIC
        ]  # fmt: skip
        raise ApiProblem(
            400,
            "invalid-query",
            f"bucket needs exactly one numeric measure, one of: {', '.join(numeric)}",
        )
    return spec.name


def _dead_letter_store(ctx: RequestContext) -> DeadLetterStore:
    if ctx.services.dead_letters is None:
        raise ApiProblem(404, "route-not-found", "no dead-letter store is configured")
    return ctx.services.dead_letters


def dead_letters(ctx: RequestContext) -> ApiResponse:
    tenant_id = ctx.tenant()  # from the verified principal only
    if "after" in ctx.query and "cursor" in ctx.query:
        raise ApiProblem(400, "invalid-query", "send after or cursor, not both")
    after = ctx.query.get("after")
    if after is None:
        after = decode_cursor(ctx.query.get("cursor"), int) or 0
    limit = limit_of(ctx.query)
    rows = _dead_letter_store(ctx).list(tenant_id, after_id=int(after), limit=limit + 1)
    chosen = rows[:limit]
    items = [
        attrs.asdict(
            tv.DeadLetterView(
                id=letter_id,
                device_id=letter.device_id,
                source=letter.source,
                received_at=tv.iso(letter.received_at),
                reason_code=letter.reason_code,
                reason=letter.reason,
                index=letter.index,
                payload=letter.payload,
            )
        )
        for letter_id, letter in chosen
    ]
    more = len(rows) > limit and bool(chosen)
    return ApiResponse(
        200, {"items": items, "next_cursor": encode_cursor(chosen[-1][0]) if more else None}
    )


_ONE = "/v1/devices/{device_id}"
ROUTES = (
    Route("GET", _ONE + "/latest", latest, "getDeviceLatest",
          "The latest value of each measure of a device", "telemetry", VIEWER,
          response_model=tv.LatestView),
    Route("GET", _ONE + "/readings", readings, "listDeviceReadings",
          "A device's readings in a time range, raw or in buckets", "telemetry", VIEWER,
          response_schema=tv.READINGS_SCHEMA, query=_READINGS_QUERY,
          description="Raw: at most 31 days, `limit` samples (oldest first). With `bucket` "
          "(1m, 1h, 1d: at most 31, 366, 3660 days) and exactly one numeric `measure`: "
          "count, min, max, avg, sum, first and last per bucket; empty buckets are left out. "
          "Bucketed ranges over 6 hours are read from the rollups (same numbers)."),
    Route("GET", "/v1/dead-letters", dead_letters, "listDeadLetters",
          "Records the tenant's devices sent that were refused, with why (oldest first)",
          "telemetry", VIEWER, response_model=tv.DeadLetterView, paginated=True,
          query=(LIMIT_PARAM, CURSOR_PARAM, _AFTER)),
)  # fmt: skip
