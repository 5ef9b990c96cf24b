"""``POST /v1/ingest`` for devices that speak HTTP (RFID/barcode scanners, gateways), and
``GET /metrics`` (Prometheus text) for the ingest path's counters.

The body is the device's payload exactly as it would publish it on MQTT; the device and its
tenant come from its Basic credentials, never from the body. The record goes through the
same micro-batching worker as MQTT messages; the answer comes once the accepted samples are
durable. A saturated worker is a 503 with ``Retry-After`` (back-pressure), never an
unbounded queue.
"""

from __future__ import annotations

import logging

import attrs

from smdh.application.ingest import RawRecord, RecordOutcome
from smdh.application.ingest_worker import IngestWorker, QueueFull
from smdh.application.principals import AuthenticationFailed
from smdh.entrypoints.http import telemetry_views as tv
from smdh.entrypoints.http.core import (
    DEVICE,
    PUBLIC,
    ApiProblem,
    ApiResponse,
    RequestContext,
    Route,
)
from smdh.entrypoints.http.ratelimit import retry_after

log = logging.getLogger("smdh.http.ingest")
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _worker(ctx: RequestContext) -> IngestWorker:
    if ctx.services.ingest is None:
        raise ApiProblem(503, "ingest-unavailable", "ingest is not running",
                         headers={"Retry-After": "5"})  # fmt: skip
    return ctx.services.ingest


def result_body(outcome: RecordOutcome) -> dict[str, object]:
    view = tv.IngestResultView(
        accepted=outcome.accepted,
        rejected=tuple(
            tv.RejectionView(index=r.index, code=r.code, reason=r.reason) for r in outcome.rejected
        ),
    )
    return attrs.asdict(view)


async def ingest(ctx: RequestContext) -> ApiResponse:
    principal = ctx.require_principal()
    tenant_id, device_id = principal.require_tenant(), principal.subject
    application = ctx.services.application
    entry = application.devices.lookup(tenant_id, device_id)
    if entry is None:  # authenticated a moment ago; removed since
        raise AuthenticationFailed("unknown device or wrong secret")
    sensor_type = application.sensors.find(entry.sensor_type)
    record = RawRecord(
        source="http",
        tenant_id=str(tenant_id),
        device_id=device_id,
        kind="telemetry" if sensor_type is None else sensor_type.topic_kind,
        payload=ctx.payload or b"",
        received_at=ctx.services.clock.now().timestamp(),
    )
    try:
        outcomes = await _worker(ctx).try_submit([record])
    except QueueFull as full:
        raise ApiProblem(
            503, "ingest-saturated", "the ingest pipeline is saturated; retry later",
            headers={"Retry-After": retry_after(full.retry_after_s)},
        ) from None  # fmt: skip
    except Exception:  # the store failed: nothing was acknowledged, the device retries
        log.exception("ingest from %s failed", principal.actor)
        raise ApiProblem(
            503, "ingest-unavailable", "the readings could not be stored; retry later",
            headers={"Retry-After": "5"},
        ) from None  # fmt: skip
    body = result_body(outcomes[0])
    if outcomes[0].accepted == 0 and outcomes[0].rejected:
        raise ApiProblem(
            422, "all-rejected", "no sample of the message was accepted; see rejected",
            extra=body,
        )  # fmt: skip
    return ApiResponse(202, body)


def metrics(ctx: RequestContext) -> ApiResponse:
    exporter = ctx.services.metrics
    render = getattr(exporter, "render", None)
    if render is None:
        raise ApiProblem(404, "route-not-found", "this hub does not export Prometheus metrics")
    set_depth = getattr(exporter, "set_queue_depth", None)
    if set_depth is not None and ctx.services.ingest is not None:
        set_depth(ctx.services.ingest.depth)
    text = render()
    if not isinstance(text, bytes | str):
        raise TypeError("metrics render() must return bytes or str")
    return ApiResponse(200, text=text, content_type=PROMETHEUS_CONTENT_TYPE)


ROUTES = (
    Route("POST", "/v1/ingest", ingest, "ingest",
          "Send readings with the device's own credentials (HTTP Basic)", "ingest", DEVICE,
          request_schema=tv.INGEST_BODY_SCHEMA, raw_body=True,
          response_model=tv.IngestResultView, status=202, extra_statuses=(422,),
          description="Authenticate with `Authorization: Basic base64(<tenant>:<device>:"
          "<secret>)`. The body is the device's payload as it would publish it on MQTT. "
          "202 once the accepted samples are durable, with per-sample rejections; 422 (the "
          "same fields inside the problem) when nothing was accepted; 503 with Retry-After "
          "when the pipeline is saturated. Re-sending a message is harmless (idempotent)."),
    Route("GET", "/metrics", metrics, "getMetrics",
          "Prometheus metrics of the ingest path (text exposition format)", "system", PUBLIC,
          content_type=PROMETHEUS_CONTENT_TYPE, response_schema={"type": "string"},
          description="Ingest counters by outcome (`smdh_ingest_readings_total{outcome=...}`), "
          "batches, queue depth and latency histograms. 404 when the hub's metrics are not "
          "Prometheus (the memory profile)."),
)  # fmt: skip
