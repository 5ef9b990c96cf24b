"""Validated identifiers.

Identifiers are ``str`` subclasses, so they cost nothing to use as keys and serialize as
plain strings, but they can only be built from text matching a strict allow-list. That
allow-list is what keeps injection strings, path tricks and homoglyphs out of every store
and query later on.
"""

from __future__ import annotations

import re
from typing import ClassVar, Self

from smdh.domain.shared.errors import InvalidIdentifier

_GENERIC = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class Identifier(str):
    """Base of all identifiers; subclasses choose the pattern and a human name."""

    pattern: ClassVar[re.Pattern[str]] = _GENERIC
    kind: ClassVar[str] = "identifier"
    rule: ClassVar[str] = (
        "1-128 characters: letters, digits and _ . : - , starting with a letter or digit"
    )

    __slots__ = ()

    def __new__(cls, value: object) -> Self:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise InvalidIdentifier(f"{cls.kind} must be a string, got {type(value).__name__}")
        if cls.pattern.fullmatch(value) is None:
            shown = value if len(value) <= 40 else value[:40] + "..."
            raise InvalidIdentifier(f"invalid {cls.kind} {shown!r}: {cls.rule}")
        return super().__new__(cls, value)

    @classmethod
    def is_valid(cls, value: str) -> bool:
        return cls.pattern.fullmatch(value) is not None


class TenantId(Identifier):
    pattern = _SLUG
    kind = "tenant id"
    rule = "1-63 characters: lowercase letters, digits and -, starting with a letter or digit"


class SiteId(Identifier):
    kind = "site id"


class DeviceId(Identifier):
    kind = "device id"


class UserId(Identifier):
    # user ids are often e-mail addresses, so '@' and '+' are allowed here too
    pattern = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}")
    kind = "user id"
    rule = "1-128 characters: letters, digits and _ . : @ + -, starting with a letter or digit"


class RuleId(Identifier):
    kind = "rule id"


class JobId(Identifier):
    kind = "job id"


class LocationId(Identifier):
    kind = "location id"


class AlertId(Identifier):
    kind = "alert id"
