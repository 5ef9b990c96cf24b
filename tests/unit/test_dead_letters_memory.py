"""The DeadLetterStore contract on the in-memory adapter."""

from __future__ import annotations

from tests.contract.dead_letter_store_contract import (
    BoundedDeadLetterStore,
    DeadLetterStoreContract,
)

from smdh.adapters.memory.dead_letters import InMemoryDeadLetterStore


class TestInMemoryDeadLetterStore(DeadLetterStoreContract):
    def make_store(self, max_per_tenant: int = 100_000) -> BoundedDeadLetterStore:
        return InMemoryDeadLetterStore(max_per_tenant=max_per_tenant)
