"""The MQTT vocabulary shared by the broker and the source: topics, messages, micro-batches.

Topics (a device's username ``"{tenant}:{device}"`` is its segment; the broker's ACL makes
it equal to the publisher's username): ``sensors/{key}/telemetry``, ``events/{key}/scan`` and
``devices/{key}/config/reported`` from devices; ``devices/{key}/config/desired`` (retained)
from SMDH.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

import attrs

log = logging.getLogger(__name__)

MessageKind = Literal["telemetry", "scan", "reported"]
_KIND_BY_TOPIC: dict[tuple[str, str], MessageKind] = {
    ("sensors", "telemetry"): "telemetry",
    ("events", "scan"): "scan",
    ("config", "reported"): "reported",
}
INGEST_FILTERS = ("sensors/+/telemetry", "events/+/scan", "devices/+/config/reported")


def telemetry_topic(device_key: str) -> str:
    return f"sensors/{device_key}/telemetry"


def scan_topic(device_key: str) -> str:
    return f"events/{device_key}/scan"


def reported_topic(device_key: str) -> str:
    return f"devices/{device_key}/config/reported"


def desired_topic(device_key: str) -> str:
    return f"devices/{device_key}/config/desired"


def parse_ingest_topic(topic: str) -> tuple[str, MessageKind] | None:
    """``(device_key, kind)`` for a topic devices publish to, else None."""
    levels = topic.split("/")
    if len(levels) == 3:
        root, key, leaf = levels
    elif len(levels) == 4 and levels[0] == "devices":
        _, key, root, leaf = levels
    else:
        return None
    kind = _KIND_BY_TOPIC.get((root, leaf))
    if kind is None or not key or "+" in key or "#" in key:
        return None
    return key, kind


@attrs.frozen
class MqttMessage:
    topic: str
    payload: bytes
    device_key: str
    kind: MessageKind
    received_at: float
    retained: bool = False


BatchHandler = Callable[[list[MqttMessage]], Awaitable[None]]
"""Makes a batch durable. Returning means "safe to acknowledge"; raising means "nothing of
this batch may be acknowledged" (the broker redelivers). Bad records are not a reason to
raise: they go to the dead-letter port and the batch returns normally."""

Settle = Callable[[BaseException | None], None]


class MicroBatcher:
    """A bounded buffer in front of the batch handler, shared by every MQTT path.

    Producers wait in ``put`` while ``capacity`` messages are held (queued or inside the
    handler), which is how a slow store slows the sources. The runner hands over whatever
    is queued as soon as one of ``max_in_flight`` handler calls is free, up to
    ``max_batch``: batches grow under load and stay at one message when idle, so batching
    adds no waiting time. Several calls in flight let the next messages reach the ingest
    worker while a batch commits (the worker merges them into its next write), instead of
    queueing here behind it. Each message's ``settle`` callback learns the outcome of its
    batch (None = durable).
    """

    def __init__(
        self,
        handler: BatchHandler,
        *,
        capacity: int = 2000,
        max_batch: int = 500,
        max_in_flight: int = 4,
    ):
        if capacity < 1 or max_batch < 1 or max_in_flight < 1:
            raise ValueError("capacity, max_batch and max_in_flight must be positive")
        self._handler = handler
        self._capacity = capacity
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._queue: collections.deque[tuple[MqttMessage, Settle]] = collections.deque()
        # producers waiting for room, first come first served: a finished batch wakes only
        # as many as it freed room for, each with its slot already reserved in ``held``
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._ready = asyncio.Event()
        self.held = 0  # messages queued or inside the handler (or with a reserved slot)
        self.high_water = 0  # the most ever held, for tests and metrics

    async def put(self, message: MqttMessage, settle: Settle) -> None:
        if self.held >= self._capacity:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # woken, then cancelled
                    self.held -= 1  # hand the reserved slot on
                    self._wake()
                raise
            self.held -= 1  # the reserved slot, taken by _admit below
        self._admit(message, settle)

    def put_nowait(self, message: MqttMessage, settle: Settle) -> None:
        """For QoS 0, which has no flow control: refuse (QueueFull) rather than wait."""
        if self.held >= self._capacity:
            raise asyncio.QueueFull
        self._admit(message, settle)

    def _admit(self, message: MqttMessage, settle: Settle) -> None:
        self.held += 1
        self.high_water = max(self.high_water, self.held)
        self._queue.append((message, settle))
        self._ready.set()

    async def run(self) -> None:
        """Flush batches until cancelled (then the batches in flight are cancelled too)."""
        slots = asyncio.Semaphore(self._max_in_flight)
        flushes: set[asyncio.Task[None]] = set()

        def done(task: asyncio.Task[None]) -> None:
            flushes.discard(task)
            slots.release()

        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while self._queue:
                    await slots.acquire()
                    # taken only now: what arrived while every slot was busy goes along
                    batch = [
                        self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))
                    ]
                    if not batch:  # a concurrent flush cannot take it, but stay safe
                        slots.release()
                        break
                    task = asyncio.create_task(self._flush(batch))
                    flushes.add(task)
                    task.add_done_callback(done)
        finally:
            for task in list(flushes):
                task.cancel()
            await asyncio.gather(*flushes, return_exceptions=True)

    async def _flush(self, batch: list[tuple[MqttMessage, Settle]]) -> None:
        outcome: BaseException | None = None
        try:
            await self._handler([message for message, _ in batch])
        except Exception as exc:  # any failure means "not durable"
            log.warning("MQTT batch of %d not stored: %r", len(batch), exc)
            outcome = exc
        for _, settle in batch:
            try:
                settle(outcome)
            except Exception:  # a broken callback must not stop ingestion
                log.exception("settling an MQTT message failed")
        self.held -= len(batch)
        self._wake()

    def _wake(self) -> None:
        """Reserve the free room for the longest-waiting producers and wake only those."""
        waiters = self._waiters
        while waiters and self.held < self._capacity:
            waiter = waiters.popleft()
            if not waiter.done():  # a cancelled producer is skipped
                self.held += 1
                waiter.set_result(None)
