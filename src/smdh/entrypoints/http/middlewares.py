"""aiohttp middlewares: request id + JSON access log, errors as problems, authentication
with per-principal rate limiting.

Users and operators send ``Authorization: Bearer <token>``; devices (``POST /v1/ingest``)
send ``Authorization: Basic base64(<tenant>:<device>:<secret>)``, i.e. the username
``<tenant>:<device>`` their MQTT connection uses and the secret issued at registration.

Order (outermost first): ``request_id_and_log`` -> ``problems`` -> ``authenticate``. Access
log lines go to the ``smdh.http.access`` logger as JSON; Authorization headers and bodies
are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from smdh.application.identity import DeviceAuthenticator
from smdh.application.ports import TokenVerifier
from smdh.application.principals import AuthenticationFailed, Principal, PrincipalKind
from smdh.application.projections import TenantDirectory
from smdh.domain.shared.errors import DomainError, PermissionDenied
from smdh.domain.tenancy.tenant import TenantStatus
from smdh.entrypoints.http.core import ApiProblem
from smdh.entrypoints.http.problems import (
    PROBLEM_CONTENT_TYPE,
    from_api_problem,
    from_domain_error,
    problem,
)
from smdh.entrypoints.http.ratelimit import TokenBuckets, retry_after

access_log = logging.getLogger("smdh.http.access")
error_log = logging.getLogger("smdh.http")

REQUEST_ID_KEY = web.RequestKey("smdh.request_id", str)
PRINCIPAL_KEY = web.RequestKey("smdh.principal", Principal)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_UNTHROTTLED = frozenset({"/healthz", "/readyz"})
BEARER_CHALLENGE = 'Bearer realm="smdh"'
BASIC_CHALLENGE = 'Basic realm="smdh-devices", charset="UTF-8"'


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


def problem_response(
    request: web.Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> web.Response:
    extra = dict(headers or {})
    if status == 401:
        basic = request.headers.get("Authorization", "").lstrip().lower().startswith("basic")
        extra.setdefault("WWW-Authenticate", BASIC_CHALLENGE if basic else BEARER_CHALLENGE)
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=extra,
    )


@web.middleware
async def request_id_and_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    request[REQUEST_ID_KEY] = request_id
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    finally:
        principal: Principal | None = request.get(PRINCIPAL_KEY)
        line = {
            "method": request.method,
            "path": request.path[:512],
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "request_id": request_id,
            "actor": principal.actor if principal is not None else None,
            "client": client_address(request),
        }
        access_log.info(json.dumps(line))


_HTTP_CODES = {
    404: "route-not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.get(REQUEST_ID_KEY, "")
    try:
        return await handler(request)
    except ApiProblem as error:
        status, body = from_api_problem(error, request_id)
        return problem_response(request, status, body, error.headers)
    except DomainError as error:
        status, body = from_domain_error(error, request_id)
        return problem_response(request, status, body)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = _HTTP_CODES.get(error.status, "http-error")
        detail = error.reason if error.status != 413 else "the body is larger than allowed"
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        return problem_response(
            request, error.status, problem(error.status, code, detail, request_id), headers
        )
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception:
        error_log.exception("unhandled error (request id %s)", request_id)
        body = problem(500, "internal-error", "an unexpected error occurred", request_id)
        return problem_response(request, 500, body)


def basic_credentials(credentials: str) -> tuple[str, str]:
    """``base64(user:password)`` to (user, password), split on the *last* colon: device
    usernames (``tenant:device``) contain colons, generated secrets never do."""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise AuthenticationFailed("malformed Basic credentials") from None
    user, sep, password = decoded.rpartition(":")
    if not sep or not user or not password:
        raise AuthenticationFailed("Basic credentials must be <tenant>:<device>:<secret>")
    return user, password


class Authenticator:
    """Verifies bearer tokens (users, operators) and Basic device credentials, refreshes
    local users against the directory, rate-limits per principal."""

    def __init__(
        self,
        verifier: TokenVerifier,
        directory: TenantDirectory,
        buckets: TokenBuckets,
        *,
        check_membership: bool,
        devices: DeviceAuthenticator | None = None,
    ) -> None:
        self.verifier = verifier
        self.directory = directory
        self.buckets = buckets
        self.check_membership = check_membership
        self.devices = devices

    def principal(self, header: str) -> Principal:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() == "basic" and token.strip():
            return self.device(token)
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("use an Authorization: Bearer <token> header")
        principal = self.verifier.verify(token.strip())
        if principal.kind is not PrincipalKind.USER or principal.tenant_id is None:
            return principal
        self._require_active(principal.tenant_id)
        if not self.check_membership:
            return principal
        member = self.directory.user(principal.tenant_id, principal.subject)
        if member is None:
            raise AuthenticationFailed("unknown user")
        return Principal.user(principal.tenant_id, principal.subject, member.role)

    def device(self, credentials: str) -> Principal:
        """A device principal from Basic credentials; its tenant must be active."""
        if self.devices is None:
            raise AuthenticationFailed("device credentials are not accepted here")
        username, secret = basic_credentials(credentials)
        principal = self.devices.authenticate(username, secret)
        self._require_active(principal.require_tenant())
        return principal

    def _require_active(self, tenant_id: str) -> None:
        tenant = self.directory.tenant(tenant_id)
        if tenant is None:
            raise AuthenticationFailed("unknown tenant")
        if tenant.status is not TenantStatus.ACTIVE:
            raise PermissionDenied(f"tenant {tenant_id} is {tenant.status.value}")

    def charge(self, key: str) -> None:
        wait = self.buckets.take(key)
        if wait > 0:
            raise ApiProblem(
                429, "rate-limited", "too many requests", headers={"Retry-After": retry_after(wait)}
            )

    def middleware(self) -> Middleware:
        @web.middleware
        async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
            header = request.headers.get("Authorization")
            throttled = request.path not in _UNTHROTTLED
            if header is None:
                if throttled:
                    self.charge(f"client:{client_address(request)}")
                return await handler(request)
            try:
                principal = self.principal(header)
            except DomainError:
                if throttled:
                    self.charge(f"client:{client_address(request)}")
                raise
            request[PRINCIPAL_KEY] = principal
            if throttled:
                self.charge(principal.actor)
            return await handler(request)

        return authenticate
