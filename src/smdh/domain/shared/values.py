"""Small validators shared by aggregates: bounded text, scalar maps, URLs, colours."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from smdh.domain.shared.errors import ValidationError

Scalar = str | int | float | bool

_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
_URL = re.compile(r"https?://[^\s\"'<>]{1,2040}")


def bounded_text(
    value: object, field: str, *, max_length: int = 200, allow_empty: bool = False
) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be text")
    text = value.strip()
    if not text and not allow_empty:
        raise ValidationError(f"{field} must not be empty")
    if len(text) > max_length:
        raise ValidationError(f"{field} is longer than {max_length} characters")
    if any(ord(ch) < 32 for ch in text):
        raise ValidationError(f"{field} must not contain control characters")
    return text


def scalar_map(
    values: Mapping[str, object], field: str, *, max_entries: int = 50, max_text: int = 256
) -> dict[str, Scalar]:
    """A small flat map of named scalars (device metadata, desired configuration)."""
    if len(values) > max_entries:
        raise ValidationError(f"{field} has more than {max_entries} entries")
    checked: dict[str, Scalar] = {}
    for key, value in values.items():
        if not isinstance(key, str) or _KEY.fullmatch(key) is None:
            raise ValidationError(
                f"{field} key {key!r} must be 1-64 letters, digits or _, starting with a letter"
            )
        if isinstance(value, str):
            if len(value) > max_text:
                raise ValidationError(f"{field}.{key} is longer than {max_text} characters")
        elif isinstance(value, bool | int):
            pass
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ValidationError(f"{field}.{key} must be a finite number")
        else:
            raise ValidationError(f"{field}.{key} must be text, a number or true/false")
        checked[key] = value
    return checked


def url(value: str, field: str) -> str:
    if _URL.fullmatch(value) is None:
        raise ValidationError(f"{field} must be an http(s) URL without spaces or quotes")
    return value


def colour(value: str, field: str) -> str:
    if _COLOUR.fullmatch(value) is None:
        raise ValidationError(f"{field} must be a colour like #1A2B3C")
    return value.upper()
