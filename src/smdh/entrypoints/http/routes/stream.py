"""``GET /v1/stream``: server-sent events of the caller's tenant's live readings (and, later,
alerts) for the portal.

Events: ``event: reading`` with the sample as JSON in ``data:`` (device_id, site_id,
sensor_type, timestamp, epoch, values); ``event: missed`` with ``{"missed": n}`` when this
subscriber fell behind and lost the oldest ``n`` undelivered items; a ``: heartbeat`` comment
every 15 s so proxies keep the connection and a gone client is noticed. Browsers' EventSource
cannot set headers, so this route also takes the token as ``?access_token=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator
from typing import Any

from smdh.application.live import LiveFeed, LiveItem, Subscription
from smdh.entrypoints.http import telemetry_views as tv
from smdh.entrypoints.http.core import VIEWER, ApiProblem, ApiResponse, RequestContext, Route

EVENT_STREAM = "text/event-stream"
RETRY_MS = 3000


def sse(event: str, data: Any) -> bytes:
    """One event; JSON has no raw newlines, so one ``data:`` line is enough."""
    text = json.dumps(data, separators=(",", ":"), default=str)
    return f"event: {event}\ndata: {text}\n\n".encode()


def encode_item(item: LiveItem) -> bytes:
    data = dict(item)
    event = str(data.pop("event", "message"))
    timestamp = data.get("timestamp")
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        data["timestamp"], data["epoch"] = tv.iso(timestamp), timestamp
    return sse(event, data)


async def _next(
    subscription: Subscription, stopped: asyncio.Future[Any], timeout: float
) -> LiveItem | None:
    """The next item, or None after ``timeout`` or once the hub stops."""
    getter = asyncio.ensure_future(subscription.next())
    done, _ = await asyncio.wait(
        {getter, stopped}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
    )
    if getter in done:
        return getter.result()
    getter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await getter
    return None


async def events(
    live: LiveFeed, tenant_id: str, stopping: asyncio.Event, heartbeat_s: float
) -> AsyncGenerator[bytes, None]:
    """The stream of one subscriber; unsubscribes however it ends (client gone, shutdown)."""
    key, subscription = live.subscribe(tenant_id)
    stopped = asyncio.ensure_future(stopping.wait())
    reported = 0
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n".encode()
        while not stopping.is_set():
            item = await _next(subscription, stopped, heartbeat_s)
            if subscription.missed > reported:
                yield sse("missed", {"missed": subscription.missed - reported})
                reported = subscription.missed
            yield b": heartbeat\n\n" if item is None else encode_item(item)
    finally:
        live.unsubscribe(key)
        stopped.cancel()


async def stream(ctx: RequestContext) -> ApiResponse:
    tenant_id = ctx.tenant()
    live = ctx.services.live
    if live is None:
        raise ApiProblem(404, "route-not-found", "no live feed is configured")
    headers = {"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"}
    body = events(live, str(tenant_id), ctx.services.stopping, ctx.services.stream_heartbeat_s)
    return ApiResponse(200, headers=headers, content_type=EVENT_STREAM, stream=body)


ROUTES = (
    Route("GET", "/v1/stream", stream, "streamLive",
          "Live readings of the caller's tenant as server-sent events", "telemetry", VIEWER,
          content_type=EVENT_STREAM, response_schema={"type": "string"}, query_token=True,
          description="`text/event-stream`: `event: reading` per stored sample, "
          "`event: missed` (`{\"missed\": n}`) when this client fell behind, a `: heartbeat` "
          "comment every 15 s. The token may be sent as `?access_token=` (EventSource cannot "
          "set headers); URLs can end up in proxy and browser logs, so use a short-lived "
          "token."),
)  # fmt: skip
