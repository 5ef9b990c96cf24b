"""Serve the neutral route table with aiohttp: one aiohttp handler per ``Route``.

Each handler checks access, validates path and query parameters and the body, builds a
``RequestContext`` and runs the route's synchronous handler in a small thread pool, so a slow
store or password hash never blocks the event loop and the handler timeout (503) is real.
The application is thread-safe (projections and stores take their own locks). Coroutine
handlers (ingest, the live stream) are awaited on the loop, under the same timeout.

Responses are JSON, text/bytes with a content type, or a stream of chunks written with a
``web.StreamResponse`` (server-sent events) until the iterator ends or the client leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import Executor
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from smdh.application.principals import AuthenticationFailed, Principal
from smdh.domain.shared.errors import NotFound
from smdh.entrypoints.http.core import (
    MAX_REPEATS,
    PATH_PARAMS,
    AccessKind,
    ApiProblem,
    ApiResponse,
    QueryParam,
    RequestContext,
    Route,
    Services,
    parse_if_match,
)
from smdh.entrypoints.http.middlewares import (
    BASIC_CHALLENGE,
    PRINCIPAL_KEY,
    REQUEST_ID_KEY,
    Authenticator,
    client_address,
)
from smdh.entrypoints.http.ratelimit import TokenBuckets, retry_after
from smdh.entrypoints.http.schema import parse_json, structure_body
from smdh.entrypoints.http.settings import HttpSettings

log = logging.getLogger("smdh.http")
_INT = re.compile(r"-?[0-9]{1,12}")
QUERY_TOKEN = "access_token"  # noqa: S105  (a parameter name, not a secret)


def path_values(route: Route, match_info: Mapping[str, str]) -> dict[str, str]:
    """Path parameters, each checked against its identifier rules: a malformed id names
    nothing that can exist, so it is a 404 like any other unknown id."""
    values: dict[str, str] = {}
    for name in route.path_params:
        value = match_info.get(name, "")
        kind = PATH_PARAMS[name]
        if not kind.is_valid(value):
            raise NotFound(f"{kind.kind} not found")
        values[name] = value
    return values


def _query_value(param: QueryParam, value: str) -> Any:
    problem = ApiProblem(400, "invalid-query", f"query parameter {param.name!r} is invalid")
    if param.kind == "int":
        if _INT.fullmatch(value) is None:
            raise problem
        number = int(value)
        too_low = param.minimum is not None and number < param.minimum
        if too_low or (param.maximum is not None and number > param.maximum):
            raise problem
        return number
    if param.kind == "enum":
        if value not in param.choices:
            raise problem
        return value
    if not 1 <= len(value) <= param.max_length:
        raise problem
    if param.pattern is not None and re.fullmatch(param.pattern.strip("^$"), value) is None:
        raise problem
    return value


def query_values(route: Route, query: MultiMapping[str]) -> dict[str, Any]:
    known = {param.name: param for param in route.query}
    values: dict[str, Any] = {}
    for name in set(query.keys()):
        if route.query_token and name == QUERY_TOKEN:
            continue  # a credential, checked by the dispatcher
        param = known.get(name)
        if param is None:
            shown = name if len(name) <= 40 else name[:40] + "..."
            raise ApiProblem(400, "invalid-query", f"unknown query parameter {shown!r}")
        given = query.getall(name)
        if param.repeatable:
            if len(given) > MAX_REPEATS:
                raise ApiProblem(400, "invalid-query", f"query parameter {name!r} is repeated")
            values[name] = tuple(_query_value(param, value) for value in given)
            continue
        if len(given) != 1:
            raise ApiProblem(400, "invalid-query", f"query parameter {name!r} is repeated")
        values[name] = _query_value(param, given[0])
    return values


async def read_raw(request: web.Request, timeout_s: float) -> bytes:
    """The body's bytes (the size limit raises 413), or 408 when it does not arrive."""
    try:
        return await asyncio.wait_for(request.read(), timeout_s)
    except TimeoutError:
        raise ApiProblem(
            408, "request-timeout", "the request body did not arrive in time"
        ) from None


async def read_body(
    route: Route, request: web.Request, timeout_s: float
) -> tuple[Any, dict[str, Any] | None]:
    if route.request_model is None:
        return None, None
    raw = await read_raw(request, timeout_s)
    if not raw.strip():
        if route.body_required:
            raise ApiProblem(400, "invalid-body", "a JSON request body is required")
        return None, None
    mime = request.content_type.lower()
    if mime != "application/json" and not mime.endswith("+json"):
        raise ApiProblem(415, "unsupported-media-type", "send the body as application/json")
    value = parse_json(raw)
    body = structure_body(value, route.request_model)
    return body, value if isinstance(value, dict) else None


def to_response(result: ApiResponse) -> web.Response:
    headers = dict(result.headers)
    if result.text is not None:
        headers["Content-Type"] = result.content_type or "text/plain; charset=utf-8"
        data = result.text.encode("utf-8") if isinstance(result.text, str) else result.text
        return web.Response(status=result.status, body=data, headers=headers)
    if result.status == 204 or result.body is None:
        return web.Response(status=result.status, headers=headers)
    return web.Response(
        status=result.status,
        text=json.dumps(result.body, separators=(",", ":")),
        content_type="application/json",
        headers=headers,
    )


async def write_stream(
    request: web.Request, result: ApiResponse, stream: AsyncIterator[bytes]
) -> web.StreamResponse:
    """Send the chunks as they come; a client that went away ends the stream quietly."""
    response = web.StreamResponse(status=result.status, headers=dict(result.headers))
    response.headers["Content-Type"] = result.content_type or "application/octet-stream"
    response.headers["X-Request-Id"] = request.get(REQUEST_ID_KEY, "")
    try:
        await response.prepare(request)
        async for chunk in stream:
            await response.write(chunk)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away
    except Exception:  # headers are sent: no problem response is possible any more
        log.exception("stream of %s failed", request.path[:200])
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
    return response


class RouteDispatcher:
    """Turns routes into aiohttp handlers bound to the services, executor and limits."""

    def __init__(
        self,
        services: Services,
        executor: Executor,
        settings: HttpSettings,
        authenticator: Authenticator,
    ) -> None:
        self.services = services
        self.executor = executor
        self.settings = settings
        self.authenticator = authenticator
        self.login_buckets = TokenBuckets(settings.login_limit)

    def handler(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.dispatch(route, request)

        handle.__name__ = route.operation_id
        return handle

    def _query_principal(self, request: web.Request) -> Principal:
        """``?access_token=`` on routes that allow it; never together with the header."""
        given = request.query.getall(QUERY_TOKEN)
        if len(given) != 1 or "Authorization" in request.headers:
            raise ApiProblem(400, "invalid-query", "send one token, in the header or the query")
        principal = self.authenticator.principal(f"Bearer {given[0]}")
        request[PRINCIPAL_KEY] = principal
        self.authenticator.charge(principal.actor)
        return principal

    def _authorize(self, route: Route, request: web.Request) -> Principal | None:
        principal: Principal | None = request.get(PRINCIPAL_KEY)
        if route.query_token and QUERY_TOKEN in request.query:
            principal = self._query_principal(request)
        if route.access.kind is AccessKind.PUBLIC:
            return principal
        if principal is None:
            if route.access.kind is AccessKind.DEVICE:
                raise ApiProblem(
                    401, "unauthenticated",
                    "send the device's credentials: Authorization: Basic "
                    "base64(<tenant>:<device>:<secret>)",
                    headers={"WWW-Authenticate": BASIC_CHALLENGE},
                )  # fmt: skip
            raise AuthenticationFailed("missing bearer token")
        route.access.check(principal)
        return principal

    async def _run(self, route: Route, ctx: RequestContext) -> ApiResponse:
        """The handler under the timeout: awaited on the loop, or in the thread pool."""
        result: object
        try:
            if route.is_async:
                outcome = route.handler(ctx)
                if not inspect.isawaitable(outcome):
                    raise TypeError(f"{route.operation_id}: handler returned no awaitable")
                result = await asyncio.wait_for(outcome, self.settings.handler_timeout_s)
            else:
                loop = asyncio.get_running_loop()
                pending = loop.run_in_executor(self.executor, route.handler, ctx)
                result = await asyncio.wait_for(pending, self.settings.handler_timeout_s)
        except TimeoutError:
            raise ApiProblem(
                503, "timeout", "the request took too long", headers={"Retry-After": "1"}
            ) from None
        if not isinstance(result, ApiResponse):
            raise TypeError(f"{route.operation_id}: handler returned {type(result).__name__}")
        return result

    async def dispatch(self, route: Route, request: web.Request) -> web.StreamResponse:
        principal = self._authorize(route, request)
        if route.throttle is not None:
            wait = self.login_buckets.take(f"{route.throttle}:{client_address(request)}")
            if wait > 0:
                raise ApiProblem(
                    429, "rate-limited", "too many attempts",
                    headers={"Retry-After": retry_after(wait)},
                )  # fmt: skip
        path = path_values(route, request.match_info)
        query = query_values(route, request.query)
        if_match = parse_if_match(request.headers.get("If-Match")) if route.if_match else None
        body, raw = await read_body(route, request, self.settings.body_timeout_s)
        payload = await read_raw(request, self.settings.body_timeout_s) if route.raw_body else None
        ctx = RequestContext(
            services=self.services,
            principal=principal,
            path=path,
            query=query,
            body=body,
            raw_body=raw,
            if_match=if_match,
            request_id=request.get(REQUEST_ID_KEY, ""),
            client=client_address(request),
            payload=payload,
        )
        result = await self._run(route, ctx)
        if result.stream is not None:
            return await write_stream(request, result, result.stream)
        return to_response(result)
