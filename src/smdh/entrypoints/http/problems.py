"""Errors as RFC 9457 problem details (``application/problem+json``) with stable types.

Every error response has ``type`` ``https://smdh.dev/problems/<code>`` where ``code`` is the
domain error's stable code (or an HTTP-level one such as ``rate-limited``), plus ``title``,
``status``, ``detail`` and the ``request_id``. Validation errors are 400 throughout.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from smdh.application.principals import AuthenticationFailed
from smdh.domain.shared.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    DomainError,
    InvariantViolation,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ValidationError,
)
from smdh.entrypoints.http.core import ApiProblem

PROBLEM_BASE = "https://smdh.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

# Most specific first: PreconditionFailed is a ConcurrencyConflict.
_STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (AuthenticationFailed, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (PreconditionFailed, 412),
    (ConcurrencyConflict, 409),
    (AlreadyExists, 409),
    (InvariantViolation, 409),
    (ValidationError, 400),
)

# HTTP-level problem codes (beside the domain codes), for docs/api.md and the OpenAPI text.
HTTP_CODES: dict[str, str] = {
    "malformed-json": "the body is not JSON",
    "invalid-body": "the body does not match the operation's schema (unknown fields too)",
    "invalid-query": "a query parameter is missing, unknown, repeated or out of range",
    "invalid-cursor": "the pagination cursor was not issued by this API",
    "invalid-if-match": "If-Match is not an aggregate version",
    "unsupported-media-type": "request bodies must be application/json",
    "payload-too-large": "the body exceeds the size limit (default 1 MiB)",
    "rate-limited": "too many requests; see Retry-After",
    "request-timeout": "the body did not arrive in time",
    "timeout": "the handler did not finish in time",
    "route-not-found": "no such route",
    "method-not-allowed": "the route exists but not with this method",
    "internal-error": "a bug; the request id helps find it in the logs",
}


def status_for(error: DomainError) -> int:
    for kind, status in _STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 400


def problem(status: int, code: str, detail: str, request_id: str, **extra: Any) -> dict[str, Any]:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    body.update(extra)
    return body


def from_domain_error(error: DomainError, request_id: str) -> tuple[int, dict[str, Any]]:
    status = status_for(error)
    return status, problem(status, error.code, error.message, request_id)


def from_api_problem(error: ApiProblem, request_id: str) -> tuple[int, dict[str, Any]]:
    return error.status, problem(error.status, error.code, error.detail, request_id, **error.extra)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail", "code", "request_id"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": True,
}
