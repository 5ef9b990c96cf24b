"""The EventStore contract on DynamoDB (moto server), plus what only DynamoDB can show."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, cast

import pytest

from smdh.adapters.aws.dynamodb_event_store import (
    COUNTER_ID,
    MAX_EVENTS_PER_APPEND,
    AppendTooLarge,
    DynamoDbEventStore,
    create_table,
)
from smdh.adapters.serialization import EventSerializer
from smdh.application.ports import EventStore
from smdh.domain.shared.errors import ConcurrencyConflict
from tests.contract.event_store_contract import (
    EventStoreContract,
    contract_serializer,
    created,
    renamed,
    run_threads,
    stream,
)

pytestmark = pytest.mark.integration

TABLE = "smdh-events"


class TestDynamoDbEventStore(EventStoreContract):
    @pytest.fixture(autouse=True)
    def _table(self, aws_clients: Callable[[str], Any]) -> None:
        self.make_client = aws_clients
        self.client = aws_clients("dynamodb")
        create_table(self.client, TABLE)

    def open(self, serializer: EventSerializer | None = None) -> DynamoDbEventStore:
        return DynamoDbEventStore(self.client, TABLE, serializer or contract_serializer())

    def make_store(self) -> EventStore:
        return self.open()

    def reopen(self, store: EventStore, serializer: EventSerializer) -> EventStore:
        return cast(DynamoDbEventStore, store).with_serializer(serializer)

    # --- DynamoDB only --------------------------------------------------------------------

    def test_two_writers_with_their_own_clients_race_and_exactly_one_wins(self) -> None:
        writer_a = self.open()
        writer_b = DynamoDbEventStore(self.make_client("dynamodb"), TABLE, contract_serializer())
        for round_ in range(10):
            aggregate = f"race-{round_}"
            writer_a.append([created(aggregate)])
            barrier = threading.Barrier(2)
            outcomes: dict[str, str] = {}
            run_threads(
                [
                    functools.partial(_contend, writer_a, "a", aggregate, barrier, outcomes),
                    functools.partial(_contend, writer_b, "b", aggregate, barrier, outcomes),
                ]
            )
            assert sorted(outcomes.values()) == ["conflict", "won"], outcomes
            winner = next(name for name, outcome in outcomes.items() if outcome == "won")
            for store in (writer_a, writer_b):
                assert store.current_version(aggregate) == 2
                assert store.load(aggregate, after_version=1) == [
                    renamed(aggregate, 2, name=winner)
                ]

    def test_writers_on_different_aggregates_get_dense_positions(self) -> None:
        stores = [
            DynamoDbEventStore(self.make_client("dynamodb"), TABLE, contract_serializer())
            for _ in range(4)
        ]

        def write(index: int) -> None:
            aggregate = f"agg-{index}"
            stores[index].append([created(aggregate)])
            for version in range(2, 6):
                stores[index].append([renamed(aggregate, version)])

        run_threads([functools.partial(write, i) for i in range(4)])
        positions = [s.position for s in stores[0].read_all()]
        assert positions == list(range(1, 21))

    def test_the_largest_append_is_one_transaction(self) -> None:
        store = self.open()
        calls = _count_calls(self.client, "TransactWriteItems")
        store.append(stream("big", MAX_EVENTS_PER_APPEND))
        assert calls == [1]
        assert store.current_version("big") == MAX_EVENTS_PER_APPEND
        assert len(store.read_all()) == MAX_EVENTS_PER_APPEND

    def test_a_larger_append_is_refused_and_writes_nothing(self) -> None:
        store = self.open()
        with pytest.raises(AppendTooLarge, match=str(MAX_EVENTS_PER_APPEND)):
            store.append(stream("big", MAX_EVENTS_PER_APPEND + 1))
        assert store.read_all() == []
        assert store.current_version("big") == 0

    def test_a_conflict_is_reported_from_the_transaction_itself(self) -> None:
        # two writers both pass the version pre-check; the condition on the put decides
        store = self.open()
        store.append([created("w-1")])
        original = store.current_version
        store.current_version = lambda aggregate_id: 1  # type: ignore[method-assign]
        store.append([renamed("w-1", 2, name="first")])
        with pytest.raises(ConcurrencyConflict, match="'w-1' already has version 2"):
            store.append([renamed("w-1", 2, name="second")])
        store.current_version = original  # type: ignore[method-assign]
        assert store.load("w-1", after_version=1) == [renamed("w-1", 2, name="first")]

    def test_the_counter_item_is_not_an_event(self) -> None:
        store = self.open()
        store.append(stream("w-1", 3))
        assert store.load(COUNTER_ID) == []
        assert len(store.read_all()) == 3

    def test_read_all_stops_before_a_position_missing_from_the_index(self) -> None:
        store = self.open()
        store.append(stream("w-1", 4))
        # simulate index lag: position 2 committed but not yet visible in the GSI
        self.client.update_item(
            TableName=TABLE,
            Key={"aggregate_id": {"S": "w-1"}, "version": {"N": "2"}},
            UpdateExpression="REMOVE #l",
            ExpressionAttributeNames={"#l": "log"},
        )
        assert [s.position for s in store.read_all()] == [1]
        assert [s.position for s in store.read_all(after_position=2)] == [3, 4]

    def test_read_all_follows_pages_of_the_query(self) -> None:
        store = self.open()
        for i in range(3):
            store.append(stream(f"w-{i}", 30))
        calls = _count_calls(self.client, "Query")
        everything = store.read_all(limit=1000)
        assert len(everything) == 90
        assert calls == [1]
        page = store.read_all(after_position=10, limit=7)
        assert [s.position for s in page] == list(range(11, 18))


def _count_calls(client: Any, operation: str) -> list[int]:
    counter = [0]

    def count(**_: object) -> None:
        counter[0] += 1

    client.meta.events.register(f"before-call.dynamodb.{operation}", count)
    return counter


def _contend(
    store: DynamoDbEventStore,
    name: str,
    aggregate: str,
    barrier: threading.Barrier,
    outcomes: dict[str, str],
) -> None:
    barrier.wait()
    try:
        store.append([renamed(aggregate, 2, name=name)])
        outcomes[name] = "won"
    except ConcurrencyConflict:
        outcomes[name] = "conflict"
