"""The EventStore contract on SQLite, plus what only a real file can show."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from smdh.adapters.embedded.sqlite_event_store import SqliteEventStore
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


class TestSqliteEventStore(EventStoreContract):
    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> Iterator[None]:
        self.path = tmp_path / "events.db"
        self.opened: list[SqliteEventStore] = []
        yield
        for store in self.opened:
            store.close()

    def open(self, serializer: EventSerializer | None = None) -> SqliteEventStore:
        store = SqliteEventStore(self.path, serializer or contract_serializer())
        self.opened.append(store)
        return store

    def make_store(self) -> EventStore:
        return self.open()

    def reopen(self, store: EventStore, serializer: EventSerializer) -> EventStore:
        return self.open(serializer)

    # --- SQLite only ----------------------------------------------------------------------

    def test_events_survive_reopening_the_file(self) -> None:
        events = stream("w-1", 3)
        with SqliteEventStore(self.path, contract_serializer()) as first:
            first.append(events)
        with SqliteEventStore(self.path, contract_serializer()) as second:
            assert second.load("w-1") == events
            assert second.current_version("w-1") == 3
            second.append([renamed("w-1", 4)])
            assert [s.position for s in second.read_all()] == [1, 2, 3, 4]

    def test_the_database_is_in_wal_mode(self) -> None:
        self.open()
        probe = sqlite3.connect(self.path)
        try:
            assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            probe.close()

    def test_the_parent_directory_is_created(self, tmp_path: Path) -> None:
        path = tmp_path / "deep" / "er" / "events.db"
        with SqliteEventStore(path, contract_serializer()) as store:
            store.append([created("w-1")])
        assert path.is_file()

    def test_a_closed_store_refuses_work(self) -> None:
        store = self.open()
        store.close()
        store.close()  # idempotent
        with pytest.raises(RuntimeError, match="closed"):
            store.load("w-1")

    def test_load_and_tenant_reads_use_indexes(self) -> None:
        self.open()
        probe = sqlite3.connect(self.path)
        try:
            load_plan = " ".join(
                str(row[-1])
                for row in probe.execute(
                    "EXPLAIN QUERY PLAN SELECT data FROM events"
                    " WHERE aggregate_id = ? AND version > ? ORDER BY version",
                    ("w-1", 0),
                )
            )
            tenant_plan = " ".join(
                str(row[-1])
                for row in probe.execute(
                    "EXPLAIN QUERY PLAN SELECT data FROM events"
                    " WHERE tenant_id = ? AND position > ? ORDER BY position LIMIT ?",
                    ("acme", 0, 10),
                )
            )
        finally:
            probe.close()
        assert "USING INDEX" in load_plan
        assert "TEMP B-TREE" not in load_plan
        assert "events_tenant_position" in tenant_plan
        assert "TEMP B-TREE" not in tenant_plan

    def test_two_writers_on_one_file_race_and_exactly_one_wins(self) -> None:
        writer_a = self.open()
        writer_b = self.open()  # its own connection to the same file
        for round_ in range(20):
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

    @pytest.mark.parametrize("shared", [False, True], ids=["own-stores", "shared-store"])
    def test_many_threads_appending_to_different_aggregates_all_succeed(self, shared: bool) -> None:
        threads, per_thread = 8, 25
        common = self.open()
        stores = [common if shared else self.open() for _ in range(threads)]

        def write(index: int) -> None:
            store = stores[index]
            aggregate = f"agg-{index}"
            store.append([created(aggregate)])
            for version in range(2, per_thread + 1):
                store.append([renamed(aggregate, version)])

        run_threads([functools.partial(write, i) for i in range(threads)])
        everything = common.read_all(limit=10_000)
        assert len(everything) == threads * per_thread
        positions = [s.position for s in everything]
        assert positions == sorted(set(positions))
        for index in range(threads):
            assert common.current_version(f"agg-{index}") == per_thread


def _contend(
    store: SqliteEventStore,
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
