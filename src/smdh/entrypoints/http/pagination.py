"""Cursor pagination: ``?limit=`` (default 50, at most 500) and an opaque ``cursor``.

A cursor is the URL-safe base64 of a small JSON object holding the last key of the page the
caller saw; the next page starts after that key. Lists are in key order, so pages are stable
while items are added. A cursor that does not decode is a 400 problem, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from smdh.entrypoints.http.core import ApiProblem

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
T = TypeVar("T")
Key = str | int


def encode_cursor(key: Key) -> str:
    raw = json.dumps({"k": key}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None, kind: type[str] | type[int]) -> Key | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        key = data["k"] if isinstance(data, dict) else None
    except (binascii.Error, ValueError, UnicodeError, KeyError):
        key = None
    if not isinstance(key, kind) or isinstance(key, bool):
        raise ApiProblem(400, "invalid-cursor", "the cursor is not one this API issued")
    return key


def limit_of(query: Mapping[str, Any]) -> int:
    value = query.get("limit")
    return DEFAULT_LIMIT if value is None else int(value)


def page(
    items: Sequence[T],
    query: Mapping[str, Any],
    key: Callable[[T], str],
    render: Callable[[T], Any],
) -> dict[str, Any]:
    """One page of ``items`` (sorted by ``key``) after the query's cursor."""
    after = decode_cursor(query.get("cursor"), str)
    limit = limit_of(query)
    remaining = [item for item in items if after is None or key(item) > str(after)]
    chosen = remaining[:limit]
    more = len(remaining) > limit
    return {
        "items": [render(item) for item in chosen],
        "next_cursor": encode_cursor(key(chosen[-1])) if more and chosen else None,
    }
