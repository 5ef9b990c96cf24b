"""The MQTT micro-batcher: batches overlap (up to ``max_in_flight``) so messages that arrive
while one batch commits reach the handler at once, and capacity still bounds what is held."""

from __future__ import annotations

import asyncio

import pytest

from smdh.adapters.embedded.mqtt_messages import MicroBatcher, MqttMessage


def message(n: int) -> MqttMessage:
    return MqttMessage(f"sensors/acme:m{n}/telemetry", b"{}", f"acme:m{n}", "telemetry", 0.0)


def test_a_second_batch_is_handed_over_while_the_first_is_still_committing() -> None:
    async def scenario() -> None:
        started: list[list[str]] = []
        release = asyncio.Event()

        async def handler(batch: list[MqttMessage]) -> None:
            started.append([m.device_key for m in batch])
            await release.wait()

        batcher = MicroBatcher(handler, capacity=10, max_batch=5, max_in_flight=2)
        runner = asyncio.create_task(batcher.run())
        settled: list[BaseException | None] = []
        await batcher.put(message(1), settled.append)
        while len(started) < 1:
            await asyncio.sleep(0)
        for n in (2, 3):
            await batcher.put(message(n), settled.append)
        while len(started) < 2:
            await asyncio.sleep(0)
        # the first batch has not returned, yet the next messages are with the handler
        assert started == [["acme:m1"], ["acme:m2", "acme:m3"]]
        assert settled == [] and batcher.held == 3
        await batcher.put(message(4), settled.append)  # both slots busy: m4 stays queued
        await asyncio.sleep(0.01)
        assert len(started) == 2
        release.set()
        while len(settled) < 4:
            await asyncio.sleep(0)
        assert settled == [None] * 4 and batcher.held == 0
        assert started[2] == ["acme:m4"]
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_capacity_holds_producers_while_batches_are_in_flight() -> None:
    async def scenario() -> None:
        release = asyncio.Event()

        async def handler(batch: list[MqttMessage]) -> None:
            await release.wait()

        batcher = MicroBatcher(handler, capacity=3, max_batch=1, max_in_flight=4)
        runner = asyncio.create_task(batcher.run())
        for n in range(3):
            await batcher.put(message(n), lambda _outcome: None)
        blocked = asyncio.create_task(batcher.put(message(9), lambda _outcome: None))
        await asyncio.sleep(0.01)
        assert not blocked.done() and batcher.held == 3
        release.set()
        await asyncio.wait_for(blocked, 5)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        assert batcher.high_water == 3

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_settings_must_be_positive() -> None:
    async def handler(batch: list[MqttMessage]) -> None:
        return None

    with pytest.raises(ValueError, match="max_in_flight"):
        MicroBatcher(handler, max_in_flight=0)
