"""The one contract every ``EventStore`` adapter passes.

Subclass ``EventStoreContract`` in a ``Test*`` class and implement ``make_store`` (a fresh,
empty store using ``contract_serializer()``) and ``reopen`` (the same stored events seen
through another serializer, as newer code would see an existing database). The base class is
not named ``Test*`` so pytest does not collect it on its own.
"""

from __future__ import annotations

import abc
import functools
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar, cast

import attrs
import pytest

from smdh.adapters.serialization import EventSerializer, UnknownEventType
from smdh.application.ports import EventStore, StoredEvent
from smdh.domain.shared.errors import ConcurrencyConflict
from smdh.domain.shared.events import DomainEvent

T0 = datetime(2025, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


@attrs.frozen(kw_only=True)
class ContractWidgetCreated(DomainEvent):
    name: str
    tags: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class ContractWidgetRenamed(DomainEvent):
    name: str


@attrs.frozen(kw_only=True)
class ContractThingMeasured(DomainEvent):
    """Schema version 2: ``reading`` became ``value`` plus an explicit ``unit``."""

    schema_version: ClassVar[int] = 2
    value: float
    unit: str


@attrs.frozen(kw_only=True)
class ThingMeasuredV1:
    """``ContractThingMeasured`` as old code wrote it (schema version 1).

    Deliberately not a ``DomainEvent`` subclass: ``EventSerializer()`` discovers event
    classes through ``DomainEvent.__subclasses__()``, and a second class with the same type
    name alive in the test process would make that discovery fail for every other test. The
    serializer only needs the envelope fields, ``type_name`` and ``schema_version``.
    """

    schema_version: ClassVar[int] = 1
    aggregate_id: str
    version: int
    occurred_at: datetime
    tenant_id: str
    actor: str
    reading: float

    @classmethod
    def type_name(cls) -> str:
        return "ContractThingMeasured"


def upcast_thing_measured_v1(data: dict[str, Any]) -> dict[str, Any]:
    return {"value": data["reading"], "unit": "celsius"}


def contract_serializer() -> EventSerializer:
    return EventSerializer(
        event_types=[ContractWidgetCreated, ContractWidgetRenamed, ContractThingMeasured],
        upcasters={("ContractThingMeasured", 1): upcast_thing_measured_v1},
    )


def created(
    aggregate_id: str, version: int = 1, *, tenant: str = "acme", name: str = "widget"
) -> ContractWidgetCreated:
    return ContractWidgetCreated(
        aggregate_id=aggregate_id,
        version=version,
        occurred_at=T0 + timedelta(seconds=version),
        tenant_id=tenant,
        actor="user:ada",
        name=name,
        tags=("a", "b"),
    )


def renamed(
    aggregate_id: str, version: int, *, tenant: str = "acme", name: str = "renamed"
) -> ContractWidgetRenamed:
    return ContractWidgetRenamed(
        aggregate_id=aggregate_id,
        version=version,
        occurred_at=T0 + timedelta(seconds=version),
        tenant_id=tenant,
        actor="user:ada",
        name=name,
    )


def stream(aggregate_id: str, count: int, *, tenant: str = "acme") -> list[DomainEvent]:
    events: list[DomainEvent] = [created(aggregate_id, tenant=tenant)]
    events += [renamed(aggregate_id, v, tenant=tenant, name=f"n{v}") for v in range(2, count + 1)]
    return events


class EventStoreContract(abc.ABC):
    @abc.abstractmethod
    def make_store(self) -> EventStore:
        """A new, empty store decoding with ``contract_serializer()``."""

    @abc.abstractmethod
    def reopen(self, store: EventStore, serializer: EventSerializer) -> EventStore:
        """A store over the same events as ``store`` that decodes with ``serializer``."""

    # --- append and load ------------------------------------------------------------------

    def test_append_then_load_round_trips_events(self) -> None:
        store = self.make_store()
        first = attrs.evolve(created("w-1"), occurred_at=datetime(2025, 3, 1, 9, 30, tzinfo=CET))
        events = [first, renamed("w-1", 2), renamed("w-1", 3, name="third")]
        store.append(events)
        loaded = store.load("w-1")
        assert loaded == events
        assert [type(e) for e in loaded] == [type(e) for e in events]
        for event in loaded:
            assert event.occurred_at.tzinfo is not None
            assert event.occurred_at.utcoffset() is not None
        assert loaded[0].occurred_at == datetime(2025, 3, 1, 8, 30, tzinfo=UTC)

    def test_unknown_aggregate_is_empty_at_version_zero(self) -> None:
        store = self.make_store()
        assert store.load("nobody") == []
        assert store.current_version("nobody") == 0

    def test_empty_append_does_nothing(self) -> None:
        store = self.make_store()
        store.append([])
        assert store.read_all() == []

    def test_load_after_version(self) -> None:
        store = self.make_store()
        events = stream("w-1", 5)
        store.append(events)
        assert store.load("w-1", after_version=3) == events[3:]
        assert store.load("w-1", after_version=5) == []
        assert store.load("w-1", after_version=0) == events

    def test_current_version_follows_appends(self) -> None:
        store = self.make_store()
        events = stream("w-1", 4)
        store.append(events[:1])
        assert store.current_version("w-1") == 1
        store.append(events[1:])
        assert store.current_version("w-1") == 4
        assert store.current_version("w-2") == 0

    # --- optimistic concurrency -----------------------------------------------------------

    @pytest.mark.parametrize("first_version", [0, 2, -1])
    def test_a_new_stream_must_start_at_version_1(self, first_version: int) -> None:
        store = self.make_store()
        with pytest.raises(ConcurrencyConflict, match="w-1"):
            store.append([created("w-1", first_version)])
        assert store.current_version("w-1") == 0
        assert store.read_all() == []

    @pytest.mark.parametrize("versions", [(1, 3), (1, 1), (2, 1)])
    def test_versions_in_one_append_must_be_contiguous(self, versions: tuple[int, int]) -> None:
        store = self.make_store()
        events = [created("w-1", versions[0]), renamed("w-1", versions[1])]
        with pytest.raises(ConcurrencyConflict):
            store.append(events)
        assert store.read_all() == []

    def test_appending_the_next_version_twice_conflicts(self) -> None:
        store = self.make_store()
        store.append(stream("w-1", 2))
        winner = renamed("w-1", 3, name="winner")
        store.append([winner])
        with pytest.raises(ConcurrencyConflict) as raised:
            store.append([renamed("w-1", 3, name="loser")])
        assert "w-1" in str(raised.value)
        assert "3" in str(raised.value)
        assert store.load("w-1", after_version=2) == [winner]
        assert store.current_version("w-1") == 3

    def test_a_gap_is_rejected(self) -> None:
        store = self.make_store()
        store.append(stream("w-1", 2))
        with pytest.raises(ConcurrencyConflict, match="w-1"):
            store.append([renamed("w-1", 4)])
        assert store.current_version("w-1") == 2

    def test_an_append_of_several_aggregates_is_atomic(self) -> None:
        store = self.make_store()
        store.append([created("a")])
        before = store.read_all()
        batch = [created("b"), renamed("b", 2), created("a"), created("c")]  # a: stale
        with pytest.raises(ConcurrencyConflict, match="'a'"):
            store.append(batch)
        assert store.current_version("b") == 0
        assert store.current_version("c") == 0
        assert store.read_all() == before
        store.append([created("b"), renamed("a", 2), renamed("b", 2), created("c")])
        assert [store.current_version(x) for x in "abc"] == [2, 2, 1]

    def test_racing_threads_on_one_store_have_exactly_one_winner(self) -> None:
        store = self.make_store()
        store.append([created("w-1")])
        contenders = 6
        barrier = threading.Barrier(contenders)
        outcomes: list[str] = []
        lock = threading.Lock()

        def contend(name: str) -> None:
            barrier.wait()
            try:
                store.append([renamed("w-1", 2, name=name)])
                outcome = "won"
            except ConcurrencyConflict:
                outcome = "conflict"
            with lock:
                outcomes.append(outcome)

        run_threads([functools.partial(contend, f"t{i}") for i in range(contenders)])
        assert sorted(outcomes) == ["conflict"] * (contenders - 1) + ["won"]
        assert store.current_version("w-1") == 2

    # --- read_all -------------------------------------------------------------------------

    def test_read_all_is_in_global_order_with_increasing_positions(self) -> None:
        store = self.make_store()
        appended: list[DomainEvent] = []
        for batch in (
            [created("a")],
            [created("b"), renamed("a", 2)],
            [renamed("b", 2)],
            [created("c", tenant="globex"), renamed("a", 3)],
        ):
            store.append(batch)
            appended += batch
        everything = store.read_all()
        assert [s.event for s in everything] == appended
        assert all(isinstance(s, StoredEvent) for s in everything)
        positions = [s.position for s in everything]
        assert positions[0] >= 1
        assert all(p < q for p, q in itertools.pairwise(positions))

    def test_read_all_pages_with_after_position_and_limit(self) -> None:
        store = self.make_store()
        for i in range(5):
            store.append(stream(f"w-{i}", 5))
        everything = store.read_all(limit=1000)
        assert len(everything) == 25
        pages: list[list[StoredEvent]] = []
        after = 0
        while page := store.read_all(after_position=after, limit=10):
            pages.append(page)
            after = page[-1].position
        assert [len(p) for p in pages] == [10, 10, 5]
        assert [s for p in pages for s in p] == everything
        assert store.read_all(after_position=everything[-1].position) == []
        assert store.read_all(after_position=everything[4].position, limit=2) == everything[5:7]

    @pytest.mark.parametrize("limit", [0, -1])
    def test_read_all_limit_must_be_positive(self, limit: int) -> None:
        store = self.make_store()
        store.append([created("w-1")])
        with pytest.raises(ValueError, match="limit"):
            store.read_all(limit=limit)

    def test_read_all_is_scoped_by_tenant(self) -> None:
        store = self.make_store()
        for i in range(6):
            tenant = "acme" if i % 2 == 0 else "globex"
            store.append(stream(f"{tenant}-w{i}", 3, tenant=tenant))
        everything = store.read_all()
        acme = store.read_all(tenant_id="acme")
        globex = store.read_all(tenant_id="globex")
        assert acme == [s for s in everything if s.event.tenant_id == "acme"]
        assert globex == [s for s in everything if s.event.tenant_id == "globex"]
        assert len(acme) == len(globex) == 9
        first_page = store.read_all(tenant_id="acme", limit=4)
        second_page = store.read_all(
            tenant_id="acme", after_position=first_page[-1].position, limit=100
        )
        assert first_page + second_page == acme
        assert store.read_all(tenant_id="initech") == []
        assert store.read_all(tenant_id="acme' OR '1'='1") == []
        assert store.read_all(tenant_id="") == []

    # --- schema evolution -----------------------------------------------------------------

    def test_old_payloads_are_upcast_on_load(self) -> None:
        old_code = EventSerializer(event_types=[cast(type[DomainEvent], ThingMeasuredV1)])
        store = self.make_store()
        writer = self.reopen(store, old_code)
        old_event = ThingMeasuredV1(
            aggregate_id="thing-1",
            version=1,
            occurred_at=T0,
            tenant_id="acme",
            actor="device:t1",
            reading=21.5,
        )
        writer.append([cast(DomainEvent, old_event)])
        new_code = self.reopen(store, contract_serializer())
        expected = ContractThingMeasured(
            aggregate_id="thing-1",
            version=1,
            occurred_at=T0,
            tenant_id="acme",
            actor="device:t1",
            value=21.5,
            unit="celsius",
        )
        assert new_code.load("thing-1") == [expected]
        assert [s.event for s in new_code.read_all()] == [expected]

    def test_an_unknown_event_type_raises_a_clear_error(self) -> None:
        store = self.make_store()
        store.append(stream("w-1", 2))
        forgetful = self.reopen(store, EventSerializer(event_types=[ContractWidgetCreated]))
        with pytest.raises(UnknownEventType, match="ContractWidgetRenamed"):
            forgetful.load("w-1")
        with pytest.raises(UnknownEventType, match="ContractWidgetRenamed"):
            forgetful.read_all()


def run_threads(targets: list[Callable[[], None]], timeout: float = 60.0) -> None:
    """Run each target in its own thread; re-raise the first exception any of them raised."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a thread did not finish in time"
    if errors:
        raise errors[0]
