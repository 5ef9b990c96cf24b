"""Jobs of the caller's tenant from RFID/barcode scans: where each job is, how long it has
been there, work in progress per location, idle jobs and lead times per route.

The scans of ``from`` (default: 7 days before now) to now are read; ``exit`` names the
locations where a job is finished (repeatable), ``idle_after`` the seconds after which a job
not scanned again counts as idle (default 4 hours).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smdh.domain.metrics.jobs import Visit
from smdh.domain.shared.errors import NotFound
from smdh.domain.shared.ids import JobId, LocationId, SiteId
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
from smdh.entrypoints.http.routes.metrics import analytics

DAY = 86_400
DEFAULT_SPAN_S = 7 * DAY
_QUERY = (
    QueryParam("from", description="scans since (default: 7 days before now)",
               pattern=tv.INSTANT_PATTERN, max_length=40),
    QueryParam("site_id", description="only this site", pattern=id_pattern(SiteId)),
    QueryParam("exit", description="a location where jobs are finished (repeatable)",
               pattern=id_pattern(LocationId), repeatable=True),
    QueryParam("idle_after", "int", "seconds without a scan after which a job is idle",
               minimum=60, maximum=90 * DAY),
)  # fmt: skip


def _window(ctx: RequestContext) -> tuple[float, float]:
    now = ctx.services.clock.now().timestamp()
    given = ctx.query.get("from")
    start = tv.parse_instant("from", given) if given else now - DEFAULT_SPAN_S
    if start >= now:
        raise ApiProblem(400, "invalid-query", "from must be in the past")
    if now - start > 400 * DAY:
        raise ApiProblem(400, "invalid-query", "the range is longer than 400 days")
    return start, now


def _visit(visit: Visit, now: float) -> dict[str, Any]:
    return {
        "location_id": visit.location_id,
        "arrived": tv.iso(visit.arrived),
        "last_seen": tv.iso(visit.last_seen),
        "left": None if visit.left is None else tv.iso(visit.left),
        "dwell_s": visit.dwell_s(now),
        "scans": visit.scans,
    }


def list_jobs(ctx: RequestContext) -> ApiResponse:
    tenant_id = ctx.tenant()
    start, now = _window(ctx)
    exits = tuple(ctx.query.get("exit", ()))
    overview = analytics(ctx).jobs(
        tenant_id, start, now, site_id=ctx.query.get("site_id"),
        idle_after_s=float(ctx.query.get("idle_after", 4 * 3600)), exits=exits,
    )  # fmt: skip
    body = {
        "from": tv.iso(start),
        "to": tv.iso(now),
        "jobs": [{"job_id": job, **_visit(v, now)} for job, v in sorted(overview.current.items())],
        "wip": dict(overview.wip),
        "dwell": {
            loc: {"visits": d.visits, "total_s": d.total_s, "mean_s": d.mean_s}
            for loc, d in overview.dwell.items()
        },
        "idle": [
            {
                "job_id": j.job_id,
                "location_id": j.location_id,
                "last_scan": tv.iso(j.last_scan),
                "idle_s": j.idle_s,
            }
            for j in overview.idle
        ],
        "lead_times": [
            {"route": list(r.route), "jobs": r.jobs, "mean_s": r.mean_s}
            for r in overview.lead_times
        ],
    }
    return ApiResponse(200, body)


def get_job(ctx: RequestContext) -> ApiResponse:
    tenant_id = ctx.tenant()
    job_id = JobId(ctx.path["job_id"])
    start, now = _window(ctx)
    history = analytics(ctx).job_history(tenant_id, start, now, ctx.query.get("site_id"))
    visits = history.visits.get(job_id)
    if not visits:
        raise NotFound(f"job {job_id} not found")
    body = {
        "job_id": job_id,
        "current": _visit(visits[-1], now),
        "route": [v.location_id for v in visits],
        "visits": [_visit(v, now) for v in visits],
        "lead_time_s": visits[-1].arrived - visits[0].arrived,
    }
    return ApiResponse(200, body)


_OBJ: Mapping[str, Any] = {"type": "object"}
_ARR: Mapping[str, Any] = {"type": "array", "items": {"type": "object"}}
LIST_SCHEMA = {
    "type": "object",
    "required": ["from", "to", "jobs", "wip", "dwell", "idle", "lead_times"],
    "properties": {"from": {"type": "string"}, "to": {"type": "string"}, "jobs": _ARR,
                   "wip": _OBJ, "dwell": _OBJ, "idle": _ARR, "lead_times": _ARR},
}  # fmt: skip
JOB_SCHEMA = {
    "type": "object",
    "required": ["job_id", "current", "route", "visits", "lead_time_s"],
    "properties": {"job_id": {"type": "string"}, "current": _OBJ, "visits": _ARR,
                   "route": {"type": "array", "items": {"type": "string"}},
                   "lead_time_s": {"type": "number"}},
}  # fmt: skip

ROUTES = (
    Route("GET", "/v1/jobs", list_jobs, "listJobs",
          "Jobs from scans: current location, WIP, dwell, idle jobs, lead times", "jobs",
          VIEWER, response_schema=LIST_SCHEMA, query=_QUERY),
    Route("GET", "/v1/jobs/{job_id}", get_job, "getJob",
          "One job's visits (location, arrival, dwell) from its scans", "jobs", VIEWER,
          response_schema=JOB_SCHEMA, query=_QUERY[:2]),
)  # fmt: skip
