"""The framework-neutral core of the HTTP API: routes as data, a neutral request and response.

A ``Route`` says everything about one operation: method, path template, who may call it, the
request and response models, query parameters, whether it honours ``If-Match``. Its handler
is a plain function ``handler(ctx: RequestContext) -> ApiResponse`` that knows nothing about
aiohttp; the aiohttp adapter (``aiohttp_adapter.py``) and, later, the AWS Lambda adapter only
translate between their request objects and these. The OpenAPI document is generated from the
same table (``openapi.py``), so the two cannot diverge.

Synchronous handlers run in a thread pool; a handler that is a coroutine function (ingest,
the live stream) is awaited on the event loop instead. Either way the handler timeout
applies. A response is JSON (``body``), text or bytes with a content type (``text``), or a
stream of byte chunks (``stream``, e.g. server-sent events) written as they come.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any

import attrs
from returns.result import Failure, Success

from smdh.application.commands import Command
from smdh.application.identity import IdentityService
from smdh.application.ingest_worker import IngestWorker
from smdh.application.live import LiveFeed
from smdh.application.ports import Clock, DeadLetterStore, EventStore, TelemetryStore, TokenIssuer
from smdh.application.principals import Principal, PrincipalKind
from smdh.application.queries import Queries
from smdh.application.system import Application
from smdh.domain.shared.errors import PermissionDenied
from smdh.domain.shared.ids import (
    AlertId,
    DeviceId,
    Identifier,
    JobId,
    RuleId,
    SiteId,
    TenantId,
    UserId,
)
from smdh.domain.tenancy.roles import Role


class AccessKind(StrEnum):
    PUBLIC = "public"  # no token needed (health, OpenAPI, the token endpoint)
    AUTHENTICATED = "authenticated"  # any operator or tenant user
    OPERATOR = "operator"  # the platform operator only
    TENANT = "tenant"  # a tenant user holding at least ``min_role``
    TENANT_OR_OPERATOR = "tenant_or_operator"  # tenant user with ``min_role``, or operator
    DEVICE = "device"  # a device's own credentials (HTTP Basic); users and operators refused


@attrs.frozen
class Access:
    kind: AccessKind
    min_role: Role | None = None

    def check(self, principal: Principal) -> None:
        """Route-level gate (handlers and queries check again). Raises ``PermissionDenied``."""
        kind = self.kind
        if kind is AccessKind.PUBLIC:
            return
        if kind is AccessKind.DEVICE:
            if principal.kind is not PrincipalKind.DEVICE:
                raise PermissionDenied("this route takes a device's own credentials")
            return
        if principal.kind is PrincipalKind.DEVICE:
            raise PermissionDenied("device credentials cannot be used on this route")
        if kind is AccessKind.AUTHENTICATED:
            return
        if principal.is_operator:
            if kind in (AccessKind.OPERATOR, AccessKind.TENANT_OR_OPERATOR):
                return
            raise PermissionDenied(f"{principal.actor} does not act within a tenant")
        if kind is AccessKind.OPERATOR:
            raise PermissionDenied(f"{principal.actor} is not a platform operator")
        principal.require_role(self.min_role or Role.VIEWER)

    def describe(self) -> str:
        if self.kind in (AccessKind.TENANT, AccessKind.TENANT_OR_OPERATOR):
            role = (self.min_role or Role.VIEWER).value
            extra = " or operator" if self.kind is AccessKind.TENANT_OR_OPERATOR else ""
            return f"tenant {role}+{extra}"
        return self.kind.value


PUBLIC = Access(AccessKind.PUBLIC)
AUTHENTICATED = Access(AccessKind.AUTHENTICATED)
OPERATOR = Access(AccessKind.OPERATOR)
VIEWER = Access(AccessKind.TENANT, Role.VIEWER)
EDITOR = Access(AccessKind.TENANT, Role.EDITOR)
ADMIN = Access(AccessKind.TENANT, Role.ADMIN)
ADMIN_OR_OPERATOR = Access(AccessKind.TENANT_OR_OPERATOR, Role.ADMIN)
DEVICE = Access(AccessKind.DEVICE)


MAX_REPEATS = 50  # a repeatable query parameter may be given this many times


@attrs.frozen
class QueryParam:
    """One query parameter: ``kind`` is ``int``, ``str`` or ``enum``.

    ``repeatable`` parameters may be given several times (``?measure=a&measure=b``); the
    handler then receives a tuple of the values, each checked on its own.
    """

    name: str
    kind: str = "str"
    description: str = ""
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    max_length: int = 256
    repeatable: bool = False

    def schema(self) -> dict[str, Any]:
        one = self._one_schema()
        if self.repeatable:
            return {"type": "array", "items": one, "minItems": 1, "maxItems": MAX_REPEATS}
        return one

    def _one_schema(self) -> dict[str, Any]:
        if self.kind == "int":
            schema: dict[str, Any] = {"type": "integer"}
            if self.minimum is not None:
                schema["minimum"] = self.minimum
            if self.maximum is not None:
                schema["maximum"] = self.maximum
            return schema
        if self.kind == "enum":
            return {"type": "string", "enum": list(self.choices)}
        schema = {"type": "string", "minLength": 1, "maxLength": self.max_length}
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        return schema


def id_pattern(kind: type[Identifier]) -> str:
    return f"^{kind.pattern.pattern}$"


# Path parameters by name: each is an identifier class, so a malformed one is refused early.
PATH_PARAMS: Mapping[str, type[Identifier]] = {
    "tenant_id": TenantId,
    "site_id": SiteId,
    "device_id": DeviceId,
    "user_id": UserId,
    "rule_id": RuleId,
    "alert_id": AlertId,  # the API form {rule}:{device}:{episode}, without the tenant
    "job_id": JobId,
}
_PATH_PARAM = re.compile(r"\{([a-z_]+)\}")

LIMIT_PARAM = QueryParam(
    "limit", "int", "page size (default 50, at most 500)", minimum=1, maximum=500
)
CURSOR_PARAM = QueryParam(
    "cursor", "str", "opaque cursor from the previous page's next_cursor", max_length=512
)


@attrs.frozen
class ApiResponse:
    """What a handler returns: status, a JSON-able body (or None) and extra headers.

    Instead of a JSON ``body``: ``text`` (str or bytes) sent as ``content_type``, or a
    ``stream`` of byte chunks sent as ``content_type`` while the iterator yields (closed with
    ``aclose`` when the client goes away).
    """

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    text: str | bytes | None = None
    content_type: str | None = None
    stream: AsyncIterator[bytes] | None = None


class ApiProblem(Exception):
    """An HTTP-level failure (bad query, bad cursor, rate limited...) as an RFC 9457 problem."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


@attrs.frozen
class Services:
    """What route handlers may use; built once from the container by the app factory."""

    application: Application
    queries: Queries
    identity: IdentityService
    tokens: TokenIssuer | None  # None when another issuer (Cognito) signs the tokens
    events: EventStore
    readiness: Callable[[], None]
    clock: Clock  # "now" for default time ranges: the application's clock, not the host's
    telemetry: TelemetryStore | None = None
    dead_letters: DeadLetterStore | None = None
    ingest: IngestWorker | None = None  # started on the app's loop (app.on_startup)
    live: LiveFeed | None = None
    metrics: object | None = None  # exposed at /metrics when it has ``render() -> bytes``
    stream_heartbeat_s: float = 15.0
    alerting: Any = None  # application.alerting.AlertingService, when alerting runs
    deliveries: Any = None  # application.delivery.DeliveryLog, when notifications run
    rollups: Any = None  # application.ports.RollupStore: 1 min / 1 h / 1 day buckets
    erasure: Any = None  # application.erasure.ErasureService; None: not in this profile
    stopping: asyncio.Event = attrs.field(factory=asyncio.Event)  # set on shutdown


@attrs.frozen
class RequestContext:
    """A request as handlers see it, whatever the transport."""

    services: Services
    principal: Principal | None
    path: Mapping[str, str]
    query: Mapping[str, Any]
    body: Any  # an instance of the route's request model, or None
    raw_body: Mapping[str, Any] | None  # the validated JSON object (PATCH: which keys came)
    if_match: int | None
    request_id: str
    client: str  # the caller's address, for per-client throttling
    payload: bytes | None = None  # the body as sent, for ``raw_body`` routes only

    def require_principal(self) -> Principal:
        if self.principal is None:  # the adapter enforces this; keeps handlers total
            raise PermissionDenied("authentication required")
        return self.principal

    def tenant(self) -> TenantId:
        """The caller's tenant: from the verified principal only, never from the request."""
        return self.require_principal().require_tenant()

    def run(self, make: Callable[[Principal], Command]) -> Any:
        """Build a command for the caller and run it; a domain error is raised as is."""
        match self.services.application.handle(make(self.require_principal())):
            case Success(value):
                return value
            case Failure(error):
                raise error
        raise AssertionError("unreachable")  # pragma: no cover


Handler = Callable[[RequestContext], ApiResponse | Awaitable[ApiResponse]]


@attrs.frozen
class Route:
    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    access: Access
    request_model: type | None = None
    body_required: bool = True
    response_model: type | None = None
    status: int = 200
    paginated: bool = False
    query: tuple[QueryParam, ...] = ()
    if_match: bool = False
    etag: bool = False
    throttle: str | None = None  # an extra per-client bucket (e.g. "login")
    description: str = ""
    # The handler gets the body's bytes untouched (``ctx.payload``); ``request_schema``
    # documents them. The body size limit still applies (413). (Hand-written schemas are
    # documentation: left out of equality so routes stay hashable.)
    raw_body: bool = False
    request_schema: Mapping[str, Any] | None = attrs.field(default=None, eq=False)
    # The success response: its media type, and a hand-written schema when no model fits.
    content_type: str = "application/json"
    response_schema: Mapping[str, Any] | None = attrs.field(default=None, eq=False)
    # Accept ``?access_token=`` as well as the Authorization header (EventSource cannot set
    # headers); only for the live stream.
    query_token: bool = False
    extra_statuses: tuple[int, ...] = ()  # documented besides the usual error statuses

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(_PATH_PARAM.findall(self.path))

    @property
    def is_async(self) -> bool:
        """The handler is a coroutine function: awaited on the loop, not in the pool."""
        return inspect.iscoroutinefunction(self.handler)

    @property
    def has_body(self) -> bool:
        return self.request_model is not None or self.raw_body

    def __attrs_post_init__(self) -> None:
        unknown = [p for p in self.path_params if p not in PATH_PARAMS]
        if unknown:
            raise ValueError(f"{self.operation_id}: unknown path parameters {unknown}")


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


_IF_MATCH = re.compile(r'\s*(?:W/)?"?([0-9]{1,18})"?\s*')


def parse_if_match(value: str | None) -> int | None:
    """``"3"``, ``3`` (and ``W/"3"``) give 3; ``*`` or no header give None; anything else 400."""
    if value is None or value.strip() == "*":
        return None
    match = _IF_MATCH.fullmatch(value)
    if match is None:
        raise ApiProblem(
            400, "invalid-if-match", 'If-Match must be one aggregate version, e.g. "3"'
        )
    return int(match.group(1))
