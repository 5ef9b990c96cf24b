"""Micro-batching in front of the pipeline, with a bounded queue and back-pressure.

Sources submit records and await their outcomes; a single worker task drains the queue into
batches (up to ``max_batch`` records or ``max_delay_s`` after the first one) and runs the
pipeline in one dedicated thread, so the store sees few, large writes and the event loop
never blocks on disk. While one batch is being written the next one gathers.

Back-pressure: the queue holds at most ``max_pending`` records. ``submit`` waits for room
(MQTT: the source stops reading, so the broker's in-flight limit slows devices down);
``try_submit`` refuses at once with ``QueueFull`` (HTTP: 503 with Retry-After). Memory
never grows without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import attrs

from smdh.application.ingest import BatchResult, IngestPipeline, RawRecord, RecordOutcome
from smdh.application.live import LiveFeed
from smdh.application.ports import IngestMetrics

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """The pipeline is saturated; try again after ``retry_after_s``."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"ingest queue is full; retry after {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


@attrs.define
class _Pending:
    records: Sequence[RawRecord]
    future: asyncio.Future[list[RecordOutcome]]
    enqueued_at: float


BatchObserver = Callable[[BatchResult, float, int, list[float]], None]


@attrs.define
class IngestTotals:
    """Running totals since start, for the terminal summary of ``smdh serve``."""

    accepted: int = 0
    rejected: int = 0
    batches: int = 0
    by_sensor_type: Counter[str] = attrs.field(factory=Counter)
    rejected_by_code: Counter[str] = attrs.field(factory=Counter)

    def add(self, result: BatchResult) -> None:
        self.batches += 1
        self.accepted += len(result.stored)
        self.by_sensor_type.update(s.sensor_type for s in result.stored)
        self.rejected += result.dead_letters
        self.rejected_by_code.update(result.rejected_by_code)


def observe_batches(metrics: IngestMetrics, live: LiveFeed, totals: IngestTotals) -> BatchObserver:
    """After each batch (on the event loop): count it and push its samples to the live view."""

    def observe(result: BatchResult, seconds: float, depth: int, latencies: list[float]) -> None:
        metrics.observe_batch(
            len(result.stored), result.rejected_by_code, seconds, depth, latencies
        )
        totals.add(result)
        live.publish_samples(result.stored)

    return observe


class IngestWorker:
    def __init__(
        self,
        pipeline: IngestPipeline,
        *,
        max_batch: int = 5000,
        max_delay_s: float = 0.005,
        max_pending: int = 50_000,
        on_batch: BatchObserver | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._max_pending = max_pending
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Pending] | None = None
        self._arrived = asyncio.Event()
        self._room: asyncio.Condition | None = None
        self._pending_records = 0
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smdh-ingest")
        self._closing = False

    @property
    def depth(self) -> int:
        """Records waiting to be processed (for metrics and the live summary)."""
        return self._pending_records

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._arrived = asyncio.Event()
        self._room = asyncio.Condition()
        self._task = asyncio.create_task(self._run(), name="smdh-ingest-worker")

    async def stop(self) -> None:
        """Process everything already submitted, then stop (clean shutdown flushes)."""
        self._closing = True
        if self._queue is not None and self._task is not None:
            await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    async def submit(self, records: Sequence[RawRecord]) -> list[RecordOutcome]:
        """Queue records, waiting for room if needed; returns once they are durable."""
        _, room = self._require_started()
        async with room:
            await room.wait_for(lambda: self._has_room(len(records)))
            future = self._enqueue(records)
        return await future

    async def try_submit(self, records: Sequence[RawRecord]) -> list[RecordOutcome]:
        """Like ``submit`` but refuses at once with ``QueueFull`` when saturated."""
        self._require_started()
        if not self._has_room(len(records)):
            raise QueueFull(retry_after_s=1.0)
        return await self._enqueue(records)

    def _has_room(self, count: int) -> bool:
        # An oversized submission is let through alone rather than refused forever.
        return self._pending_records == 0 or self._pending_records + count <= self._max_pending

    def _require_started(self) -> tuple[asyncio.Queue[_Pending], asyncio.Condition]:
        if self._queue is None or self._room is None:
            raise RuntimeError("IngestWorker.start() has not been awaited")
        if self._closing:
            raise QueueFull(retry_after_s=5.0)
        return self._queue, self._room

    def _enqueue(self, records: Sequence[RawRecord]) -> asyncio.Future[list[RecordOutcome]]:
        queue, _ = self._require_started()
        future: asyncio.Future[list[RecordOutcome]] = asyncio.get_running_loop().create_future()
        self._pending_records += len(records)
        queue.put_nowait(_Pending(records, future, time.monotonic()))
        self._arrived.set()
        return future

    async def _run(self) -> None:
        queue = self._queue
        if queue is None:
            raise RuntimeError("worker queue missing")
        loop = asyncio.get_running_loop()
        while True:
            first = await queue.get()
            batch = [first]
            size = len(first.records)
            deadline = loop.time() + self._max_delay_s
            while size < self._max_batch:
                item = await self._next_within(queue, deadline, loop)
                if item is None:
                    break
                batch.append(item)
                size += len(item.records)
            await self._process(batch, loop)
            for _ in batch:
                queue.task_done()

    async def _next_within(
        self, queue: asyncio.Queue[_Pending], deadline: float, loop: asyncio.AbstractEventLoop
    ) -> _Pending | None:
        """The next queued submission, waiting until ``deadline`` at most.

        Never ``wait_for(queue.get(), ...)``: on Python 3.11 a timeout racing a completed
        ``get`` can drop the item, and with it a submitter's records and their future.
        Waiting on an event has no such side effect.
        """
        while True:
            try:
                return queue.get_nowait()
            except asyncio.QueueEmpty:
                pass
            timeout = deadline - loop.time()
            if timeout <= 0:
                return None
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except TimeoutError:
                return None

    async def _process(self, batch: list[_Pending], loop: asyncio.AbstractEventLoop) -> None:
        records = [r for item in batch for r in item.records]
        started = time.monotonic()
        try:
            result = await loop.run_in_executor(self._executor, self._pipeline.process, records)
        except Exception as error:  # the store failed: nothing of the batch is acknowledged
            log.exception("ingest batch of %d records failed", len(records))
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            await self._release(len(records))
            return
        done = time.monotonic()
        offset = 0
        for item in batch:
            n = len(item.records)
            if not item.future.done():
                item.future.set_result(result.outcomes[offset : offset + n])
            offset += n
        await self._release(len(records))
        if self._on_batch is not None:
            latencies = [done - item.enqueued_at for item in batch]
            try:
                self._on_batch(result, done - started, self._pending_records, latencies)
            except Exception:
                log.exception("batch observer failed")

    async def _release(self, count: int) -> None:
        self._pending_records -= count
        if self._room is not None:
            async with self._room:
                self._room.notify_all()
