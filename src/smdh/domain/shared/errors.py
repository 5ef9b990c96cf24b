"""The domain error hierarchy.

Every error carries a stable machine-readable ``code``; the HTTP layer maps codes to
RFC 9457 problem types and statuses, the CLI prints ``code: message``.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """Base of every error the domain and application report on purpose."""

    code: ClassVar[str] = "domain-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ValidationError(DomainError):
    """Input that can never be valid (bad identifier, bad value, bad shape)."""

    code = "validation-error"


class InvalidIdentifier(ValidationError):
    code = "invalid-identifier"


class InvalidTimezone(ValidationError):
    code = "invalid-timezone"


class UnknownSensorType(ValidationError):
    code = "unknown-sensor-type"


class InvalidPayload(ValidationError):
    """A sensor payload that cannot become readings; ``field`` names the culprit.

    ``code`` stays "invalid-payload" (the HTTP problem type); ``reason_code`` says which rule
    was broken ("out-of-range", "timestamp-in-future", ...), stable for machines such as the
    dead-letter queue. The parser's codes are listed in ``smdh.domain.sensors.parsing``.
    """

    code = "invalid-payload"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        index: int | None = None,
        reason_code: str = "invalid-payload",
    ):
        super().__init__(message)
        self.field = field
        self.index = index
        self.reason_code = reason_code


class NotFound(DomainError):
    """Missing, or belonging to another tenant: the two are indistinguishable on purpose."""

    code = "not-found"


class AlreadyExists(DomainError):
    code = "already-exists"


class InvariantViolation(DomainError):
    """A rule of the business would be broken (e.g. removing the last admin)."""

    code = "invariant-violation"


class TenantIsSuspended(InvariantViolation):
    code = "tenant-suspended"


class DeviceIsDecommissioned(InvariantViolation):
    code = "device-decommissioned"


class ConcurrencyConflict(DomainError):
    """Someone else appended to the aggregate first (optimistic concurrency)."""

    code = "concurrency-conflict"


class PreconditionFailed(ConcurrencyConflict):
    """The caller's expected version (HTTP If-Match) is not the current one."""

    code = "precondition-failed"


class PermissionDenied(DomainError):
    code = "permission-denied"
