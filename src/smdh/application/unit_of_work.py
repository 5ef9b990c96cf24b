"""Unit of work over the event store: load aggregates, collect their new events, commit once.

One unit of work serves one command. ``commit`` appends the new events of every aggregate it
touched in one atomic append, so a command that changes two aggregates changes both or none.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

from smdh.application.ports import EventStore
from smdh.domain.shared.aggregate import Aggregate
from smdh.domain.shared.errors import NotFound, PreconditionFailed
from smdh.domain.shared.events import DomainEvent

A = TypeVar("A", bound=Aggregate)


class UnitOfWork:
    def __init__(self, events: EventStore) -> None:
        self.events = events
        self._seen: dict[str, Aggregate] = {}
        self._committed: list[DomainEvent] = []

    def __enter__(self) -> Self:
        self._seen = {}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Anything not committed is dropped: aggregates are rebuilt from the store next time.
        self._seen = {}

    def find(self, cls: type[A], aggregate_id: str) -> A | None:
        known = self._seen.get(aggregate_id)
        if known is not None:
            if not isinstance(known, cls):
                raise TypeError(f"{aggregate_id} is a {type(known).__name__}, not {cls.__name__}")
            return known
        aggregate = cls.rehydrate(self.events.load(aggregate_id))
        if aggregate is not None:
            self._seen[aggregate_id] = aggregate
        return aggregate

    def get(
        self,
        cls: type[A],
        aggregate_id: str,
        *,
        what: str,
        expected_version: int | None = None,
    ) -> A:
        """Load or fail with NotFound naming ``what``; check If-Match when given."""
        aggregate = self.find(cls, aggregate_id)
        if aggregate is None:
            raise NotFound(f"{what} not found")
        if expected_version is not None and aggregate.version != expected_version:
            raise PreconditionFailed(
                f"{what} is at version {aggregate.version}, not {expected_version}"
            )
        return aggregate

    def exists(self, aggregate_id: str) -> bool:
        return aggregate_id in self._seen or self.events.current_version(aggregate_id) > 0

    def add(self, aggregate: Aggregate) -> None:
        self._seen[aggregate.id] = aggregate

    def commit(self) -> None:
        pending = [e for agg in self._seen.values() for e in agg.pending_events()]
        if pending:
            self.events.append(pending)
        for aggregate in self._seen.values():
            aggregate.mark_committed()
        self._committed.extend(pending)

    def collect_new_events(self) -> list[DomainEvent]:
        events, self._committed = self._committed, []
        return events


UnitOfWorkFactory = Callable[[], UnitOfWork]
