"""API Gateway HTTP API (payload format 2.0) -> the same route table as the aiohttp server.

Nothing here re-declares a route: requests are matched against ``all_routes()`` and go
through the same pieces the aiohttp adapter uses (path-id checks, query validation,
``If-Match``, body schema validation, the route's access rule, problem+json errors).

**Who verifies the token.** Behind API Gateway the JWT authorizer (the Cognito user pool as
issuer, the app client as audience) has already checked signature, issuer, audience and
expiry before the Lambda runs; an unverified request never arrives. This adapter only maps
``requestContext.authorizer.jwt.claims`` to a ``Principal`` with the *same claim rules* as
``CognitoTokenVerifier`` (operator group, role groups, the ``custom:tenant_id`` claim),
and, like the aiohttp authenticator, refuses users of unknown or suspended tenants. API
Gateway flattens array claims to strings such as ``"[admin viewer]"``; both that form and
a JSON array are read.

Coroutine routes (device ingest over HTTP, the live SSE stream) are not served here: on AWS
devices publish to IoT Core, and Lambda cannot hold a stream open.
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from collections.abc import Mapping
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from multidict import MultiDict

from smdh.adapters.identity.cognito import CognitoTokenVerifier
from smdh.application.principals import AuthenticationFailed, Principal, PrincipalKind
from smdh.application.projections import TenantDirectory
from smdh.domain.shared.errors import DomainError, PermissionDenied
from smdh.domain.tenancy.tenant import TenantStatus
from smdh.entrypoints.http.aiohttp_adapter import path_values, query_values
from smdh.entrypoints.http.core import (
    AccessKind,
    ApiProblem,
    ApiResponse,
    RequestContext,
    Route,
    Services,
    parse_if_match,
)
from smdh.entrypoints.http.problems import (
    PROBLEM_CONTENT_TYPE,
    from_api_problem,
    from_domain_error,
    problem,
)
from smdh.entrypoints.http.routes import all_routes
from smdh.entrypoints.http.schema import parse_json, structure_body
from smdh.entrypoints.lambdas import runtime

logger = Logger(service="smdh-api")
_PARAM = re.compile(r"\{([a-z_]+)\}")


def path_regex(template: str) -> re.Pattern[str]:
    """``/v1/tenants/{tenant_id}`` -> a regex with one named group per parameter."""
    parts = _PARAM.split(template)  # literal, name, literal, name, ..., literal
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
    )
    return re.compile(regex)


@cache
def route_table() -> tuple[tuple[re.Pattern[str], Route], ...]:
    """Every route as (compiled path, route); coroutine routes are left out (see above)."""
    return tuple((path_regex(r.path), r) for r in all_routes() if not r.is_async)


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    allowed = False
    for pattern, route in route_table():
        found = pattern.fullmatch(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict()
        allowed = True
    if allowed:
        raise ApiProblem(405, "method-not-allowed", "the route exists but not with this method")
    raise ApiProblem(404, "route-not-found", "no such route")


# --- claims -> principal ---------------------------------------------------------------------


@cache
def _claims_mapper() -> CognitoTokenVerifier:
    """The Cognito verifier's claim rules; its keys are never loaded (nothing to verify)."""
    return CognitoTokenVerifier(
        lambda: {"keys": []},
        "eu-central-1",
        "eu-central-1_authorizer",
        ("api-gateway-authorizer",),
        tenant_claim=os.environ.get("SMDH_COGNITO_TENANT_CLAIM", "custom:tenant_id"),
        operator_group=os.environ.get("SMDH_COGNITO_OPERATOR_GROUP", "platform-operators"),
    )


def _list_claim(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                loaded = json.loads(text)
            except ValueError:
                return text[1:-1].split()
            return loaded if isinstance(loaded, list) else text
        return [text] if text else []
    return value


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    normalized = dict(claims)
    if "cognito:groups" in normalized:
        normalized["cognito:groups"] = _list_claim(normalized["cognito:groups"])
    return _claims_mapper()._principal_from_claims(normalized)


def authorize(
    route: Route, event: Mapping[str, Any], directory: TenantDirectory
) -> Principal | None:
    authorizer = event.get("requestContext", {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims")
    principal = principal_from_claims(claims) if claims else None
    if principal is not None and principal.kind is PrincipalKind.USER:
        tenant = directory.tenant(principal.require_tenant())
        if tenant is None:
            raise AuthenticationFailed("unknown tenant")
        if tenant.status is not TenantStatus.ACTIVE:
            raise PermissionDenied(f"tenant {tenant.tenant_id} is {tenant.status.value}")
    if route.access.kind is AccessKind.PUBLIC:
        return principal
    if principal is None:
        raise AuthenticationFailed("missing bearer token")
    route.access.check(principal)
    return principal


# --- request / response ----------------------------------------------------------------------


def _body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return str(body).encode("utf-8")


def _json_body(route: Route, raw: bytes, headers: Mapping[str, str]) -> tuple[Any, Any]:
    if route.request_model is None:
        return None, None
    if not raw.strip():
        if route.body_required:
            raise ApiProblem(400, "invalid-body", "a JSON request body is required")
        return None, None
    mime = headers.get("content-type", "").split(";")[0].strip().lower()
    if mime != "application/json" and not mime.endswith("+json"):
        raise ApiProblem(415, "unsupported-media-type", "send the body as application/json")
    value = parse_json(raw)
    return structure_body(value, route.request_model), value if isinstance(value, dict) else None


def respond(result: ApiResponse, request_id: str) -> dict[str, Any]:
    headers = {**result.headers, "X-Request-Id": request_id}
    if result.text is not None:
        headers["Content-Type"] = result.content_type or "text/plain; charset=utf-8"
        if isinstance(result.text, bytes):
            data = base64.b64encode(result.text).decode("ascii")
            return {
                "statusCode": result.status,
                "headers": headers,
                "body": data,
                "isBase64Encoded": True,
            }
        return {"statusCode": result.status, "headers": headers, "body": result.text}
    if result.status == 204 or result.body is None:
        return {"statusCode": result.status, "headers": headers, "body": ""}
    headers["Content-Type"] = "application/json"
    body = json.dumps(result.body, separators=(",", ":"))
    return {"statusCode": result.status, "headers": headers, "body": body}


def problem_reply(status: int, body: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
    sent = {**headers, "Content-Type": PROBLEM_CONTENT_TYPE, "X-Request-Id": body["request_id"]}
    if status == 401:
        sent.setdefault("WWW-Authenticate", 'Bearer realm="smdh"')
    return {"statusCode": status, "headers": sent, "body": json.dumps(body)}


def dispatch(event: Mapping[str, Any], services: Services) -> dict[str, Any]:
    context = event.get("requestContext", {})
    request_id = str(context.get("requestId") or uuid.uuid4().hex)
    try:
        http = context.get("http", {})
        route, params = match(
            str(http.get("method", "GET")).upper(), str(event.get("rawPath", "/"))
        )
        principal = authorize(route, event, services.application.directory)
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        raw = _body(event)
        body, raw_json = _json_body(route, raw, headers)
        pairs = parse_qsl(str(event.get("rawQueryString", "")), keep_blank_values=True)
        ctx = RequestContext(
            services=services,
            principal=principal,
            path=path_values(route, params),
            query=query_values(route, MultiDict(pairs)),
            body=body,
            raw_body=raw_json,
            if_match=parse_if_match(headers.get("if-match")) if route.if_match else None,
            request_id=request_id,
            client=str(http.get("sourceIp", "unknown")),
            payload=raw if route.raw_body else None,
        )
        result = route.handler(ctx)
        if not isinstance(result, ApiResponse):
            raise TypeError(f"{route.operation_id}: handler returned {type(result).__name__}")
        return respond(result, request_id)
    except ApiProblem as error:
        status, reply = from_api_problem(error, request_id)
        return problem_reply(status, reply, error.headers)
    except DomainError as error:
        status, reply = from_domain_error(error, request_id)
        return problem_reply(status, reply, {})
    except Exception:
        logger.exception("unhandled error (request id %s)", request_id)
        reply = problem(500, "internal-error", "an unexpected error occurred", request_id)
        return problem_reply(500, reply, {})


@cache
def _services() -> Services:
    from smdh.entrypoints.http.app import services_from  # noqa: PLC0415

    return services_from(runtime.container(), local_tokens=False)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runtime.refreshed()
    return dispatch(event, _services())
