"""In-memory ``EventStore``: the fast fake for tests and offline use.

It keeps ``SerializedEvent`` records, not live event objects, so every event goes through
the same serializer (and upcasters) as with the real stores: a test that passes here cannot
pass only because an event was never serialized. Semantics match the SQLite store: appends
of several aggregates are all or nothing, each aggregate's new versions must continue its
stream exactly, and positions are global, start at 1 and strictly increase.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence

from smdh.adapters.serialization import EventSerializer, SerializedEvent
from smdh.application.ports import StoredEvent
from smdh.domain.shared.errors import ConcurrencyConflict
from smdh.domain.shared.events import DomainEvent


def group_versions(records: Sequence[SerializedEvent]) -> dict[str, list[int]]:
    """The new versions of each aggregate in an append, in the order given."""
    versions: dict[str, list[int]] = {}
    for record in records:
        versions.setdefault(record.aggregate_id, []).append(record.version)
    return versions


def check_versions(aggregate_id: str, current: int, versions: Sequence[int]) -> None:
    """Raise ``ConcurrencyConflict`` unless ``versions`` are ``current+1, current+2, ...``."""
    expected = list(range(current + 1, current + 1 + len(versions)))
    if list(versions) != expected:
        raise ConcurrencyConflict(
            f"aggregate {aggregate_id!r} is at version {current}: cannot append versions "
            f"{list(versions)} (expected {expected})"
        )


def check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")


class _Log:
    """The shared records of one in-memory store (views with other serializers share it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: list[SerializedEvent] = []  # position p is records[p - 1]
        self.streams: dict[str, list[SerializedEvent]] = {}  # version v is stream[v - 1]
        self.tenant_positions: dict[str, list[int]] = {}


class InMemoryEventStore:
    """Thread-safe dict-and-list event store holding serialized records."""

    def __init__(self, serializer: EventSerializer) -> None:
        self._serializer = serializer
        self._log = _Log()

    def with_serializer(self, serializer: EventSerializer) -> InMemoryEventStore:
        """A view of the same records that decodes with another serializer.

        The in-memory twin of reopening a database file with newer code: used to test
        upcasting and unknown event types.
        """
        view = InMemoryEventStore(serializer)
        view._log = self._log
        return view

    def append(self, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        records = [self._serializer.serialize(event) for event in events]
        log = self._log
        with log.lock:
            for aggregate_id, versions in group_versions(records).items():
                current = len(log.streams.get(aggregate_id, ()))
                check_versions(aggregate_id, current, versions)
            for record in records:
                log.records.append(record)
                log.streams.setdefault(record.aggregate_id, []).append(record)
                log.tenant_positions.setdefault(record.tenant_id, []).append(len(log.records))

    def load(self, aggregate_id: str, after_version: int = 0) -> list[DomainEvent]:
        with self._log.lock:
            stream = self._log.streams.get(aggregate_id, [])
            selected = stream[max(after_version, 0) :]
        deserialize = self._serializer.deserialize
        return [deserialize(record) for record in selected]

    def current_version(self, aggregate_id: str) -> int:
        with self._log.lock:
            return len(self._log.streams.get(aggregate_id, ()))

    def read_all(
        self, after_position: int = 0, limit: int = 1000, tenant_id: str | None = None
    ) -> list[StoredEvent]:
        check_limit(limit)
        log = self._log
        start = max(after_position, 0)
        with log.lock:
            if tenant_id is None:
                positions = range(start + 1, min(start + limit, len(log.records)) + 1)
                selected = [(p, log.records[p - 1]) for p in positions]
            else:
                tenant_positions = log.tenant_positions.get(tenant_id, [])
                first = bisect.bisect_right(tenant_positions, start)
                selected = [
                    (p, log.records[p - 1]) for p in tenant_positions[first : first + limit]
                ]
        deserialize = self._serializer.deserialize
        return [StoredEvent(position, deserialize(record)) for position, record in selected]
