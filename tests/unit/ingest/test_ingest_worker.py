"""The micro-batching ingest worker: batching, durability of acknowledgements, bounded
memory, flushing on stop and containment of store failures.

Plain pytest functions that drive the worker with ``asyncio.run``; the real pipeline on
memory adapters writes through a ``ControlledStore`` the tests can slow down, hold at a
gate, or make fail for chosen timestamps.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from dependency_injector import providers

from smdh.adapters.memory.telemetry_store import InMemoryTelemetryStore
from smdh.application import commands as c
from smdh.application.ingest import BatchResult, IngestPipeline, RawRecord, RecordOutcome
from smdh.application.ingest_worker import IngestWorker, QueueFull
from smdh.application.principals import Principal
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId
from smdh.domain.telemetry import DeviceSample
from smdh.entrypoints.container import build_container

OPERATOR = Principal.operator("worker-tests")
TENANT, DEVICE = "acme", "m-1"
TIMEOUT_S = 20.0


class ControlledStore:
    """The memory store behind a gate, an optional delay and chosen failures."""

    def __init__(self, inner: InMemoryTelemetryStore) -> None:
        self.inner = inner
        self.delay_s = 0.0
        self.gate = threading.Event()
        self.gate.set()
        self.poison: set[float] = set()  # a write carrying one of these timestamps fails
        self.writes: list[list[DeviceSample]] = []
        self.entered = threading.Event()  # set when a write starts (then waits at the gate)
        self._lock = threading.Lock()

    def write(self, samples: Sequence[DeviceSample]) -> None:
        self.entered.set()
        if not self.gate.wait(TIMEOUT_S):
            raise TimeoutError("test gate never opened")
        if self.delay_s:
            time.sleep(self.delay_s)
        if any(s.timestamp in self.poison for s in samples):
            raise OSError("disk on fire (test)")
        self.inner.write(samples)
        with self._lock:
            self.writes.append(list(samples))

    def timestamps(self) -> list[float]:
        return sorted(
            s.timestamp for s in self.inner.query_range(TENANT, DEVICE, 0, 4e9, limit=10_000)
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@attrs.define
class Rig:
    pipeline: IngestPipeline
    store: ControlledStore
    now: float
    calls: list[int]  # records per pipeline.process call
    clock: Any
    _times: itertools.count[int] = attrs.field(factory=itertools.count)

    def records(self, count: int = 1) -> list[RawRecord]:
        """``count`` records of one sample each, every one with a fresh timestamp."""
        return [self.record(self.now - 1000 + next(self._times) * 0.001) for _ in range(count)]

    def record(self, timestamp: float) -> RawRecord:
        payload = json.dumps({"timestamp": timestamp, "power_watts": 10.0})
        return RawRecord("test", TENANT, DEVICE, "telemetry", payload, self.now)

    def worker(self, **options: Any) -> IngestWorker:
        return IngestWorker(self.pipeline, **options)


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    container = build_container("memory", tmp_path)
    store = ControlledStore(InMemoryTelemetryStore(registry=container.sensors()))
    container.telemetry_store.override(providers.Object(store))
    application = container.application()
    application.execute(
        c.RegisterTenant(
            principal=OPERATOR, tenant_id=TenantId(TENANT), name="Acme",
            max_readings_per_second=10**9,
        )
    )  # fmt: skip
    application.execute(
        c.RegisterSite(
            principal=OPERATOR, tenant_id=TenantId(TENANT), site_id=SiteId("plant"),
            name="Plant", timezone="Europe/Berlin",
        )
    )  # fmt: skip
    application.execute(
        c.RegisterDevice(
            principal=OPERATOR, tenant_id=TenantId(TENANT), device_id=DeviceId(DEVICE),
            site_id=SiteId("plant"), sensor_type="machine", name="Press",
        )
    )  # fmt: skip
    pipeline: IngestPipeline = container.ingest_pipeline()
    calls: list[int] = []
    real_process = pipeline.process

    def counting(records: Sequence[RawRecord]) -> BatchResult:
        calls.append(len(records))
        return real_process(records)

    pipeline.process = counting  # type: ignore[method-assign]
    clock = container.clock()
    return Rig(pipeline, store, clock.now().timestamp(), calls, clock)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), TIMEOUT_S)

    asyncio.run(bounded())


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.002)


# --- micro-batching ----------------------------------------------------------------------


def test_many_small_submits_become_few_pipeline_calls(rig: Rig) -> None:
    async def scenario() -> None:
        worker = rig.worker(max_batch=5000, max_delay_s=0.05)
        await worker.start()
        outcomes = await asyncio.gather(*(worker.submit(rig.records()) for _ in range(500)))
        await worker.stop()
        assert all(o == [RecordOutcome(1)] for o in outcomes)
        assert sum(rig.calls) == 500
        assert len(rig.calls) <= 5, rig.calls
        assert len(rig.store.timestamps()) == 500

    run(scenario)


def test_a_batch_never_exceeds_max_batch_records(rig: Rig) -> None:
    async def scenario() -> None:
        worker = rig.worker(max_batch=50, max_delay_s=0.05)
        await worker.start()
        await asyncio.gather(*(worker.submit(rig.records(5)) for _ in range(100)))
        await worker.stop()
        assert sum(rig.calls) == 500
        # whole submissions stay together, so a batch may end one submission past the cap
        assert max(rig.calls) <= 50 + 4, rig.calls
        assert len(rig.calls) >= 10

    run(scenario)


def test_each_submitter_gets_the_outcomes_of_its_own_records(rig: Rig) -> None:
    async def scenario() -> None:
        worker = rig.worker(max_delay_s=0.05)
        await worker.start()
        good = rig.records(3)
        bad = [attrs.evolve(good[0], payload="{broken")]
        ghost = [attrs.evolve(good[0], device_id="ghost")]
        got = await asyncio.gather(worker.submit(good), worker.submit(bad), worker.submit(ghost))
        await worker.stop()
        assert len(rig.calls) == 1
        assert got[0] == [RecordOutcome(1)] * 3
        assert [r.code for r in got[1][0].rejected] == ["malformed-json"]
        assert [r.code for r in got[2][0].rejected] == ["unknown-device"]

    run(scenario)


# --- durability of the acknowledgement ---------------------------------------------------


def test_submit_returns_only_after_the_store_write(rig: Rig) -> None:
    async def scenario() -> None:
        rig.store.gate.clear()
        worker = rig.worker(max_delay_s=0.001)
        await worker.start()
        records = rig.records(3)
        pending = asyncio.ensure_future(worker.submit(records))
        await until(rig.store.entered.is_set)
        await asyncio.sleep(0.1)
        assert not pending.done(), "acknowledged before the store write finished"
        assert rig.store.timestamps() == []
        rig.store.gate.set()
        outcomes = await pending
        # at the moment submit returns, the samples are in the store
        assert len(rig.store.timestamps()) == 3
        assert [o.accepted for o in outcomes] == [1, 1, 1]
        await worker.stop()

    run(scenario)


def test_observer_sees_each_batch_after_it_is_stored(rig: Rig) -> None:
    seen: list[tuple[int, int]] = []

    def observe(result: BatchResult, seconds: float, depth: int, latencies: list[float]) -> None:
        assert seconds >= 0 and all(lat >= 0 for lat in latencies)
        seen.append((len(result.stored), len(rig.store.timestamps())))

    async def scenario() -> None:
        worker = rig.worker(max_delay_s=0.02, on_batch=observe)
        await worker.start()
        await asyncio.gather(*(worker.submit(rig.records(2)) for _ in range(10)))
        await worker.stop()

    run(scenario)
    assert sum(n for n, _ in seen) == 20
    assert seen[-1][1] == 20


# --- bounded memory ----------------------------------------------------------------------


def test_depth_never_exceeds_max_pending_with_a_slow_store(rig: Rig) -> None:
    rig.store.delay_s = 0.03
    depths: list[int] = []

    async def scenario() -> None:
        worker = rig.worker(max_batch=20, max_delay_s=0.005, max_pending=40)
        await worker.start()
        done = asyncio.Event()

        async def monitor() -> None:
            while not done.is_set():
                depths.append(worker.depth)
                await asyncio.sleep(0)

        async def producer() -> None:
            for _ in range(6):
                await worker.submit(rig.records(5))

        watcher = asyncio.ensure_future(monitor())
        await asyncio.gather(*(producer() for _ in range(20)))
        done.set()
        await watcher
        await worker.stop()

    run(scenario)
    assert max(depths) <= 40, max(depths)
    assert max(depths) >= 20, "the store was never slow enough to fill the queue"
    assert len(rig.store.timestamps()) == 600


def test_try_submit_refuses_with_queue_full_when_saturated(rig: Rig) -> None:
    async def scenario() -> None:
        rig.store.gate.clear()
        worker = rig.worker(max_batch=10, max_delay_s=0.001, max_pending=30)
        await worker.start()
        tries: list[asyncio.Future[list[RecordOutcome]]] = []
        for _ in range(20):
            tries.append(asyncio.ensure_future(worker.try_submit(rig.records(5))))
            await asyncio.sleep(0.002)  # try_submit runs up to its wait, or raises
            assert worker.depth <= 30
        refused = [t for t in tries if t.done() and isinstance(t.exception(), QueueFull)]
        waiting = [t for t in tries if not t.done()]
        assert len(refused) + len(waiting) == 20
        assert len(refused) >= 14, "no back-pressure"
        assert 0 < len(waiting) * 5 <= 30
        assert all(t.exception().retry_after_s > 0 for t in refused)  # type: ignore[union-attr]
        rig.store.gate.set()
        outcomes = await asyncio.gather(*waiting)
        assert all(o == [RecordOutcome(1)] * 5 for o in outcomes)
        # room again once the store caught up
        assert await worker.try_submit(rig.records(1)) == [RecordOutcome(1)]
        await worker.stop()
        assert len(rig.store.timestamps()) == len(waiting) * 5 + 1

    run(scenario)


def test_submit_waits_for_room_instead_of_refusing(rig: Rig) -> None:
    async def scenario() -> None:
        rig.store.gate.clear()
        worker = rig.worker(max_batch=10, max_delay_s=0.001, max_pending=10)
        await worker.start()
        first = asyncio.ensure_future(worker.submit(rig.records(10)))
        await until(rig.store.entered.is_set)
        second = asyncio.ensure_future(worker.submit(rig.records(10)))
        await asyncio.sleep(0.05)
        assert not second.done()
        assert worker.depth <= 10
        rig.store.gate.set()
        await asyncio.gather(first, second)
        await worker.stop()
        assert len(rig.store.timestamps()) == 20

    run(scenario)


# --- clean stop --------------------------------------------------------------------------


def test_stop_flushes_everything_submitted(rig: Rig) -> None:
    rig.store.delay_s = 0.01

    async def scenario() -> None:
        worker = rig.worker(max_batch=25, max_delay_s=0.01)
        await worker.start()
        tasks = [asyncio.ensure_future(worker.submit(rig.records(5))) for _ in range(40)]
        await asyncio.sleep(0)  # every submit is queued
        await worker.stop()
        assert all(t.done() for t in tasks)
        assert all(t.result() == [RecordOutcome(1)] * 5 for t in tasks)
        assert len(rig.store.timestamps()) == 200
        with pytest.raises(QueueFull):
            await worker.try_submit(rig.records(1))

    run(scenario)


# --- store failures ----------------------------------------------------------------------


def test_a_store_failure_fails_exactly_that_batch_and_the_worker_keeps_running(rig: Rig) -> None:
    async def scenario() -> None:
        rig.store.gate.clear()
        worker = rig.worker(max_batch=1000, max_delay_s=0.02)
        await worker.start()
        first = asyncio.ensure_future(worker.submit(rig.records(2)))
        await until(rig.store.entered.is_set)  # batch 1 is in the store, held at the gate
        poisoned = rig.records(1)
        rig.store.poison.add(json.loads(poisoned[0].payload)["timestamp"])
        # batch 2 gathers while batch 1 is held: a poisoned record and two innocent ones
        second = [
            asyncio.ensure_future(worker.submit(rig.records(2))),
            asyncio.ensure_future(worker.submit(poisoned)),
            asyncio.ensure_future(worker.submit(rig.records(1))),
        ]
        await asyncio.sleep(0.05)
        rig.store.gate.set()
        assert await first == [RecordOutcome(1)] * 2
        results = await asyncio.gather(*second, return_exceptions=True)
        assert all(isinstance(r, OSError) for r in results), results
        assert len(rig.calls) == 2
        # the worker is still running: later batches are stored
        assert await worker.submit(rig.records(3)) == [RecordOutcome(1)] * 3
        await worker.stop()
        assert len(rig.store.timestamps()) == 2 + 3  # nothing of the failed batch

    run(scenario)


def test_repeated_failures_do_not_leak_queue_depth(rig: Rig) -> None:
    async def scenario() -> None:
        worker = rig.worker(max_batch=10, max_delay_s=0.001, max_pending=20)
        await worker.start()
        for _ in range(10):
            records = rig.records(15)
            rig.store.poison.add(json.loads(records[0].payload)["timestamp"])
            with pytest.raises(OSError, match="disk on fire"):
                await worker.submit(records)
        assert worker.depth == 0
        assert await worker.try_submit(rig.records(20)) == [RecordOutcome(1)] * 20
        await worker.stop()

    run(scenario)


def test_submit_before_start_is_an_error(rig: Rig) -> None:
    async def scenario() -> None:
        with pytest.raises(RuntimeError, match="start"):
            await rig.worker().submit(rig.records())

    run(scenario)
