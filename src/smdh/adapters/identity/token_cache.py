"""A bounded memory of tokens whose signature, issuer and audience were already checked.

A portal or dashboard sends the same bearer token with every request; checking its
signature each time (Ed25519 or RS256) was the largest single cost of a small API request.
Only the signature-dependent checks are remembered: the caller still checks the time claims
(``exp``/``nbf``/``iat``) against its clock on every use, so an expired token is refused as
soon as it expires, whether or not it is remembered. Failures are never remembered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

DEFAULT_CAPACITY = 4096


class VerifiedTokenCache:
    """token -> its verified claims, the oldest entry evicted first beyond ``capacity``."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._claims: dict[str, Mapping[str, Any]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._claims)

    def claims(self, token: str, verify: Callable[[str], Mapping[str, Any]]) -> Mapping[str, Any]:
        """The remembered claims of ``token``, or ``verify(token)``'s, remembered if it
        returns (a raising ``verify`` leaves nothing behind)."""
        found = self._claims.get(token)
        if found is None:
            found = verify(token)
            self.put(token, found)
        return found

    def get(self, token: str) -> Mapping[str, Any] | None:
        return self._claims.get(token)

    def put(self, token: str, claims: Mapping[str, Any]) -> None:
        with self._lock:
            if token not in self._claims and len(self._claims) >= self._capacity:
                del self._claims[next(iter(self._claims))]
            self._claims[token] = claims

    def clear(self) -> None:
        with self._lock:
            self._claims.clear()
