"""The EventStore contract on the in-memory adapter."""

from __future__ import annotations

from typing import cast

from tests.contract.event_store_contract import EventStoreContract, contract_serializer

from smdh.adapters.memory.event_store import InMemoryEventStore
from smdh.adapters.serialization import EventSerializer
from smdh.application.ports import EventStore


class TestInMemoryEventStore(EventStoreContract):
    def make_store(self) -> EventStore:
        return InMemoryEventStore(contract_serializer())

    def reopen(self, store: EventStore, serializer: EventSerializer) -> EventStore:
        return cast(InMemoryEventStore, store).with_serializer(serializer)
