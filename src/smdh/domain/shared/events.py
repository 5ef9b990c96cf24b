"""The base of every domain event.

Events are immutable facts in the past tense. Each carries the aggregate it belongs to,
its position in that aggregate's stream (``version``), when it happened, the tenant it
belongs to (the platform's own events use the ``platform`` pseudo-tenant) and who caused it
(``actor``, for the audit log). ``schema_version`` is a class attribute: when an event's
shape changes it is raised, and an upcaster turns old payloads into the new shape on load.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

PLATFORM_TENANT = "platform"


@attrs.frozen(kw_only=True)
class DomainEvent:
    schema_version: ClassVar[int] = 1

    aggregate_id: str
    version: int
    occurred_at: datetime
    tenant_id: str
    actor: str

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__


@attrs.frozen
class EventContext:
    """When and by whom a change is being made; passed into aggregate commands."""

    occurred_at: datetime
    actor: str
