"""In-memory ``DeadLetterStore``: records SMDH refused, with why, for tests and offline use.

Semantics shared with ``smdh.adapters.embedded.dead_letters`` (one contract suite):

* ids are positive, increase with every stored letter across tenants and are never reused;
  ``list`` gives one tenant's letters oldest first, with ``id > after_id``, at most
  ``limit`` (1 to ``MAX_PAGE``);
* at most ``max_per_tenant`` letters are kept per tenant: adding more prunes the tenant's
  oldest, and ``pruned(tenant)`` counts them, so a misbehaving device cannot fill the disk;
* payloads and reasons are capped again on the way in (the producer should already have
  used ``capped``), so one letter stays small whatever the caller did.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence

import attrs

from smdh.domain.telemetry import MAX_DEAD_LETTER_PAYLOAD, DeadLetter, capped

DEFAULT_MAX_PER_TENANT = 100_000
MAX_PAGE = 10_000
MAX_REASON = 1024
_SLACK = 64  # room for the "...[N more]" suffix ``capped`` appends


def bounded(letter: DeadLetter) -> DeadLetter:
    """``letter`` with its payload and reason capped; the same object if they fit."""
    payload, reason = letter.payload, letter.reason
    if len(payload) > MAX_DEAD_LETTER_PAYLOAD + _SLACK:
        payload = capped(payload)
    if len(reason) > MAX_REASON + _SLACK:
        reason = capped(reason, MAX_REASON)
    if payload is letter.payload and reason is letter.reason:
        return letter
    return attrs.evolve(letter, payload=payload, reason=reason)


def check_page(after_id: int, limit: int) -> None:
    if isinstance(after_id, bool) or not isinstance(after_id, int) or after_id < 0:
        raise ValueError(f"after_id must be a non-negative integer, got {after_id!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be an integer from 1 to {MAX_PAGE}, got {limit!r}")


def check_cap(max_per_tenant: int) -> int:
    if max_per_tenant < 1:
        raise ValueError(f"max_per_tenant must be at least 1, got {max_per_tenant}")
    return max_per_tenant


class InMemoryDeadLetterStore:
    """Thread-safe, bounded per tenant; see the module docstring."""

    def __init__(self, *, max_per_tenant: int = DEFAULT_MAX_PER_TENANT) -> None:
        self._cap = check_cap(max_per_tenant)
        self._lock = threading.Lock()
        self._last_id = 0
        self._ids: dict[str, list[int]] = {}  # per tenant, ascending
        self._letters: dict[str, list[DeadLetter]] = {}  # parallel to _ids
        self._pruned: dict[str, int] = {}

    def add(self, letters: Sequence[DeadLetter]) -> None:
        kept = [bounded(letter) for letter in letters]
        with self._lock:
            for letter in kept:
                self._last_id += 1
                self._ids.setdefault(letter.tenant_id, []).append(self._last_id)
                self._letters.setdefault(letter.tenant_id, []).append(letter)
            for tenant_id in {letter.tenant_id for letter in kept}:
                excess = len(self._ids[tenant_id]) - self._cap
                if excess > 0:
                    del self._ids[tenant_id][:excess]
                    del self._letters[tenant_id][:excess]
                    self._pruned[tenant_id] = self._pruned.get(tenant_id, 0) + excess

    def list(
        self, tenant_id: str, *, after_id: int = 0, limit: int = 100
    ) -> list[tuple[int, DeadLetter]]:
        check_page(after_id, limit)
        with self._lock:
            ids = self._ids.get(tenant_id, [])
            first = bisect.bisect_right(ids, after_id)
            letters = self._letters.get(tenant_id, [])
            return list(
                zip(ids[first : first + limit], letters[first : first + limit], strict=True)
            )

    def count(self, tenant_id: str | None = None) -> int:
        """Letters kept (pruned ones not included), of one tenant or of all."""
        with self._lock:
            if tenant_id is None:
                return sum(len(ids) for ids in self._ids.values())
            return len(self._ids.get(tenant_id, []))

    def pruned(self, tenant_id: str | None = None) -> int:
        """Letters dropped to keep the per-tenant cap, of one tenant or of all."""
        with self._lock:
            if tenant_id is None:
                return sum(self._pruned.values())
            return self._pruned.get(tenant_id, 0)

    def close(self) -> None:
        """Nothing to release; here for symmetry with the embedded store."""
