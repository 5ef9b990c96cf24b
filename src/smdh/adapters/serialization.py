"""One cattrs converter for the whole system, the event type registry and upcasting.

An event is stored as its envelope (aggregate id, version, tenant, actor, time), its type
name, its schema version and a JSON payload of its own fields. On load, registered upcasters
bring old payloads up to the class's current ``schema_version`` before structuring, so event
classes can evolve without rewriting history.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import attrs
import cattrs
from cattrs.preconf.json import make_converter
from cattrs.strategies import configure_union_passthrough

from smdh.domain.shared.events import DomainEvent
from smdh.domain.shared.ids import Identifier

ENVELOPE_FIELDS = frozenset({"aggregate_id", "version", "occurred_at", "tenant_id", "actor"})

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def make_smdh_converter() -> cattrs.Converter:
    converter = make_converter()
    configure_union_passthrough(str | int | float | bool | None, converter)
    converter.register_structure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, Identifier),
        lambda value, t: t(value),
    )
    converter.register_unstructure_hook(datetime, lambda d: d.isoformat())
    converter.register_structure_hook(datetime, lambda v, _: parse_datetime(v))
    return converter


def parse_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value)
    else:
        raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        raise ValueError("datetime must carry a UTC offset")
    return parsed.astimezone(UTC)


converter = make_smdh_converter()


@attrs.frozen
class SerializedEvent:
    aggregate_id: str
    version: int
    tenant_id: str
    event_type: str
    schema_version: int
    occurred_at: str
    actor: str
    data: str


class UnknownEventType(Exception):
    pass


def _all_subclasses(cls: type[DomainEvent]) -> Iterable[type[DomainEvent]]:
    for sub in cls.__subclasses__():
        # attrs replaces a class by its slotted copy; the discarded original can linger in
        # __subclasses__ until garbage-collected, so keep only the class its module exports.
        module = sys.modules.get(sub.__module__)
        if getattr(module, sub.__qualname__, None) is sub:
            yield sub
        yield from _all_subclasses(sub)


class EventSerializer:
    """Turns domain events into ``SerializedEvent`` and back, upcasting old schemas."""

    def __init__(
        self,
        event_types: Iterable[type[DomainEvent]] | None = None,
        upcasters: dict[tuple[str, int], Upcaster] | None = None,
    ) -> None:
        if event_types is None:
            _import_domain_events()
            event_types = _all_subclasses(DomainEvent)
        self._types: dict[str, type[DomainEvent]] = {}
        for event_type in event_types:
            name = event_type.type_name()
            if name in self._types and self._types[name] is not event_type:
                raise ValueError(f"two event classes are named {name}")
            self._types[name] = event_type
        self._upcasters: dict[tuple[str, int], Upcaster] = dict(upcasters or {})

    def register_upcaster(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        """``upcaster`` turns a payload of ``from_version`` into one of ``from_version + 1``."""
        self._upcasters[(event_type, from_version)] = upcaster

    def serialize(self, event: DomainEvent) -> SerializedEvent:
        payload = converter.unstructure(event)
        data = {k: v for k, v in payload.items() if k not in ENVELOPE_FIELDS}
        return SerializedEvent(
            aggregate_id=event.aggregate_id,
            version=event.version,
            tenant_id=event.tenant_id,
            event_type=event.type_name(),
            schema_version=type(event).schema_version,
            occurred_at=event.occurred_at.isoformat(),
            actor=event.actor,
            data=json.dumps(data, separators=(",", ":"), sort_keys=True),
        )

    def deserialize(self, record: SerializedEvent) -> DomainEvent:
        event_class = self._types.get(record.event_type)
        if event_class is None:
            raise UnknownEventType(f"no event class is registered as {record.event_type!r}")
        data: dict[str, Any] = json.loads(record.data)
        version = record.schema_version
        while version < event_class.schema_version:
            upcaster = self._upcasters.get((record.event_type, version))
            if upcaster is None:
                raise UnknownEventType(
                    f"no upcaster for {record.event_type} from schema version {version}"
                )
            data = upcaster(data)
            version += 1
        data.update(
            aggregate_id=record.aggregate_id,
            version=record.version,
            tenant_id=record.tenant_id,
            occurred_at=record.occurred_at,
            actor=record.actor,
        )
        return converter.structure(data, event_class)


def _import_domain_events() -> None:
    # Importing the aggregate modules registers their event classes as subclasses; done
    # lazily so that tests can build a serializer of their own event classes only.
    importlib.import_module("smdh.domain.alerts.rules")
    importlib.import_module("smdh.domain.alerts.channels")
    importlib.import_module("smdh.domain.alerts.alert")
    importlib.import_module("smdh.domain.assets.device")
    importlib.import_module("smdh.domain.tenancy.site")
    importlib.import_module("smdh.domain.tenancy.tenant")
