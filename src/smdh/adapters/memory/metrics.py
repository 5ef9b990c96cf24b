"""In-memory IngestMetrics: plain counters for tests and the live terminal summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


class CountingIngestMetrics:
    def __init__(self) -> None:
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.batches = 0
        self.queue_depth = 0
        self.max_latency_s = 0.0

    def observe_batch(
        self,
        accepted: int,
        rejected_by_code: dict[str, int],
        batch_seconds: float,
        queue_depth: int,
        latencies_s: Sequence[float],
    ) -> None:
        self.accepted += accepted
        self.rejected.update(rejected_by_code)
        self.batches += 1
        self.queue_depth = queue_depth
        if latencies_s:
            self.max_latency_s = max(self.max_latency_s, *latencies_s)
