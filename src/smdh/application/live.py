"""The live view: recent samples (and later alerts) pushed to subscribers per tenant.

The portal's ``GET /v1/stream`` subscribes here. Each subscriber has a bounded queue; a
subscriber too slow to keep up loses its oldest undelivered items and is told how many it
missed (a live view favours the present over completeness: the data itself is in the store).
Runs on the event loop: ``publish`` is called from the loop after each stored batch.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from typing import Any

from smdh.domain.telemetry import DeviceSample

LiveItem = dict[str, Any]


class Subscription:
    def __init__(self, tenant_id: str, maxsize: int) -> None:
        self.tenant_id = tenant_id
        self.queue: asyncio.Queue[LiveItem] = asyncio.Queue(maxsize)
        self.missed = 0

    def offer(self, item: LiveItem) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.missed += 1
        self.queue.put_nowait(item)

    async def next(self) -> LiveItem:
        return await self.queue.get()


class LiveFeed:
    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[int, Subscription] = {}
        self._ids = itertools.count(1)

    def subscribe(self, tenant_id: str) -> tuple[int, Subscription]:
        key = next(self._ids)
        subscription = Subscription(tenant_id, self._queue_size)
        self._subscribers[key] = subscription
        return key, subscription

    def unsubscribe(self, key: int) -> None:
        self._subscribers.pop(key, None)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish_samples(self, samples: Iterable[DeviceSample]) -> None:
        if not self._subscribers:
            return
        by_tenant: dict[str, list[DeviceSample]] = {}
        for sample in samples:
            by_tenant.setdefault(sample.tenant_id, []).append(sample)
        for subscription in list(self._subscribers.values()):
            for sample in by_tenant.get(subscription.tenant_id, ()):
                subscription.offer(
                    {
                        "event": "reading",
                        "device_id": sample.device_id,
                        "site_id": sample.site_id,
                        "sensor_type": sample.sensor_type,
                        "timestamp": sample.timestamp,
                        "values": dict(sample.values),
                    }
                )

    def publish(self, tenant_id: str, item: LiveItem) -> None:
        """Any other live item (alerts) for one tenant."""
        for subscription in list(self._subscribers.values()):
            if subscription.tenant_id == tenant_id:
                subscription.offer(item)
