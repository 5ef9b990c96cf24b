"""Token-bucket rate limiting per key (a principal's actor, or a client address).

Each key has a bucket of ``burst`` tokens refilled at ``rate`` per second; a request takes one
token or is refused with the seconds until one is available (HTTP 429 + Retry-After). Buckets
that have refilled completely are forgotten, so memory stays bounded by active callers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import attrs


@attrs.frozen
class RateLimit:
    rate: float  # tokens per second
    burst: int  # bucket size

    def __attrs_post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")


class TokenBuckets:
    MAX_KEYS = 100_000

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if allowed; otherwise the seconds to wait before retrying."""
        now = self._clock()
        rate, burst = self.limit.rate, float(self.limit.burst)
        with self._lock:
            tokens, last = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > self.MAX_KEYS:
                    self._forget_full(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate

    def _forget_full(self, now: float) -> None:
        rate, burst = self.limit.rate, float(self.limit.burst)
        full = [k for k, (t, last) in self._buckets.items() if t + (now - last) * rate >= burst]
        for key in full:
            del self._buckets[key]


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
