"""Event-sourced aggregate base.

State is a fold of events: ``apply`` is the only place state changes, and it is used both
when a command records a new event and when the aggregate is rebuilt from its stream.
Folding is linear in the number of events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Self, TypeVar

from smdh.domain.shared.events import DomainEvent, EventContext

E = TypeVar("E", bound=DomainEvent)


class Aggregate:
    """Base of Tenant, Site, Device, AlertRule, Alert...

    Subclasses implement ``apply(event)`` (usually a ``match`` on the event type) and
    command methods that check invariants and then call ``_record``.
    """

    prefix: ClassVar[str] = "aggregate"

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0
        self.tenant_id = ""
        self._pending: list[DomainEvent] = []

    @classmethod
    def rehydrate(cls, events: Iterable[DomainEvent]) -> Self | None:
        """Rebuild from a stream; ``None`` when the stream is empty."""
        instance: Self | None = None
        for event in events:
            if instance is None:
                instance = cls(event.aggregate_id)
            instance._fold(event)
        return instance

    def _fold(self, event: DomainEvent) -> None:
        self.apply(event)
        self.version = event.version
        self.tenant_id = event.tenant_id

    def apply(self, event: DomainEvent) -> None:
        raise NotImplementedError

    def _record(self, event_type: type[E], ctx: EventContext, **fields: Any) -> E:
        tenant_id = fields.pop("tenant_id", None) or self.tenant_id
        event = event_type(
            aggregate_id=self.id,
            version=self.version + 1,
            occurred_at=ctx.occurred_at,
            tenant_id=tenant_id,
            actor=ctx.actor,
            **fields,
        )
        self._fold(event)
        self._pending.append(event)
        return event

    @property
    def is_new(self) -> bool:
        return self.version == len(self._pending)

    def pending_events(self) -> list[DomainEvent]:
        return list(self._pending)

    def mark_committed(self) -> None:
        self._pending.clear()
