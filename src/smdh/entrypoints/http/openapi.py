"""The OpenAPI 3.1 document, generated from the route table and the attrs models.

Nothing here is written by hand per operation: paths, parameters, bodies, responses and
security come from each ``Route``; component schemas from ``models.py`` via ``schema.py``.
A test checks that the aiohttp router serves exactly the operations documented here.
"""

from __future__ import annotations

import functools
from typing import Any

from smdh import __version__
from smdh.entrypoints.http.core import PATH_PARAMS, AccessKind, Route, id_pattern
from smdh.entrypoints.http.problems import HTTP_CODES, PROBLEM_CONTENT_TYPE, PROBLEM_SCHEMA
from smdh.entrypoints.http.schema import REF_PREFIX, SchemaRegistry

OPENAPI_VERSION = "3.1.0"
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_HEADER_DOCS = {
    "ETag": "the aggregate version, quoted; send it back in If-Match",
    "Location": "where the new resource lives",
}


def error_statuses(route: Route) -> list[int]:
    statuses = {400, 404, 429, 503, *route.extra_statuses}
    if route.access.kind is not AccessKind.PUBLIC or route.has_body:
        statuses.add(401)
    if route.access.kind is not AccessKind.PUBLIC:
        statuses.add(403)
    if route.method in _WRITES:
        statuses.update({408, 409, 413, 415})
    if route.if_match:
        statuses.add(412)
    return sorted(statuses)


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": id_pattern(PATH_PARAMS[name])},
        }
        for name in route.path_params
    ]
    params.extend(
        {
            "name": q.name,
            "in": "query",
            "required": False,
            "description": q.description,
            "schema": q.schema(),
        }
        for q in route.query
    )
    if route.if_match:
        params.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "description": 'the version from ETag, e.g. "3"; stale gives 412',
                "schema": {"type": "string", "pattern": '^(W/)?"?[0-9]{1,18}"?$'},
            }
        )
    return params


def _success(route: Route, registry: SchemaRegistry) -> dict[str, Any]:
    response: dict[str, Any] = {"description": route.summary}
    headers: dict[str, Any] = {}
    if route.etag:
        headers["ETag"] = {"description": _HEADER_DOCS["ETag"], "schema": {"type": "string"}}
    if route.status == 201:
        headers["Location"] = {
            "description": _HEADER_DOCS["Location"],
            "schema": {"type": "string"},
        }
    if headers:
        response["headers"] = headers
    if route.status == 204:
        return response
    if route.response_schema is not None:
        schema: dict[str, Any] = dict(route.response_schema)
    elif route.response_model is None:
        schema = {"type": "object"}
    elif route.paginated:
        item = registry.ref(route.response_model)
        name = f"{route.response_model.__name__}Page"
        registry.schemas[name] = {
            "type": "object",
            "required": ["items", "next_cursor"],
            "additionalProperties": False,
            "properties": {
                "items": {"type": "array", "items": item},
                "next_cursor": {"type": ["string", "null"]},
            },
        }
        schema = {"$ref": REF_PREFIX + name}
    else:
        schema = registry.ref(route.response_model)
    response["content"] = {route.content_type.split(";")[0]: {"schema": schema}}
    return response


def _security(route: Route) -> list[dict[str, list[str]]]:
    kind = route.access.kind
    if kind is AccessKind.PUBLIC:
        return []
    if kind is AccessKind.DEVICE:
        return [{"basicAuth": []}]
    if route.query_token:
        return [{"bearerAuth": []}, {"accessTokenQuery": []}]
    return [{"bearerAuth": []}]


def _operation(route: Route, registry: SchemaRegistry) -> dict[str, Any]:
    access = route.access.describe()
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "description": (route.description + "\n\n" if route.description else "")
        + f"Access: {access}.",
        "tags": [route.tag],
        "x-smdh-access": access,
        "security": _security(route),
    }
    params = _parameters(route)
    if params:
        op["parameters"] = params
    if route.request_model is not None:
        op["requestBody"] = {
            "required": route.body_required,
            "content": {"application/json": {"schema": registry.ref(route.request_model)}},
        }
    elif route.request_schema is not None:
        op["requestBody"] = {
            "required": route.body_required,
            "content": {"application/json": {"schema": dict(route.request_schema)}},
        }
    responses: dict[str, Any] = {str(route.status): _success(route, registry)}
    for status in error_statuses(route):
        responses[str(status)] = {"$ref": "#/components/responses/Problem"}
    op["responses"] = responses
    return op


@functools.cache
def build_document(routes: tuple[Route, ...]) -> dict[str, Any]:
    registry = SchemaRegistry()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, registry)
    codes = "\n".join(f"- `{code}`: {text}" for code, text in HTTP_CODES.items())
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "SMDH API",
            "version": __version__,
            "description": "Smart Manufacturing Data Hub: tenant portal, CLI and integrator "
            "API. Errors are RFC 9457 problem details whose `type` ends in a stable code. "
            f"HTTP-level codes besides the domain ones:\n{codes}",
        },
        "paths": paths,
        "components": {
            "schemas": {**registry.schemas, "Problem": PROBLEM_SCHEMA},
            "responses": {
                "Problem": {
                    "description": "an RFC 9457 problem",
                    "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": REF_PREFIX + "Problem"}}},
                }
            },
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "basicAuth": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "device credentials: username <tenant>:<device>, "
                    "password the secret issued at registration or rotation",
                },
                "accessTokenQuery": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "access_token",
                    "description": "the bearer token in the URL, for EventSource clients "
                    "that cannot set headers (GET /v1/stream only)",
                },
            },
        },
    }
