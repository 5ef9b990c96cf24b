"""The DeadLetterStore contract on DynamoDB (moto server)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from smdh.adapters.aws.dynamodb_dead_letters import DynamoDbDeadLetterStore, create_table
from tests.contract.dead_letter_store_contract import (
    BoundedDeadLetterStore,
    DeadLetterStoreContract,
)

pytestmark = pytest.mark.integration


class TestDynamoDbDeadLetterStore(DeadLetterStoreContract):
    @pytest.fixture(autouse=True)
    def _table(self, aws_clients: Callable[[str], Any]) -> None:
        self.client = aws_clients("dynamodb")
        self.tables = 0

    def make_store(self, max_per_tenant: int = 100_000) -> BoundedDeadLetterStore:
        self.tables += 1
        name = f"dead-letters-{self.tables}"
        create_table(self.client, name)
        return DynamoDbDeadLetterStore(self.client, name, max_per_tenant=max_per_tenant)
