"""IngestMetrics as Prometheus metrics, served as text at ``GET /metrics``.

Each hub gets its own ``CollectorRegistry`` (not the process-global one), so tests and two
hubs in one process never collide.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class PrometheusIngestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._records = Counter(
            "smdh_ingest_readings",
            "Readings by outcome (accepted, or the rejection reason code)",
            ["outcome"],
            registry=self.registry,
        )
        self._batches = Counter(
            "smdh_ingest_batches", "Micro-batches written to the store", registry=self.registry
        )
        self._queue_depth = Gauge(
            "smdh_ingest_queue_depth", "Records waiting for the pipeline", registry=self.registry
        )
        self._batch_seconds = Histogram(
            "smdh_ingest_batch_seconds",
            "Time to process and durably store one micro-batch",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._latency = Histogram(
            "smdh_ingest_latency_seconds",
            "Submission to durable, per message",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe_batch(
        self,
        accepted: int,
        rejected_by_code: dict[str, int],
        batch_seconds: float,
        queue_depth: int,
        latencies_s: Sequence[float],
    ) -> None:
        self._records.labels("accepted").inc(accepted)
        for code, count in rejected_by_code.items():
            self._records.labels(code).inc(count)
        self._batches.inc()
        self._queue_depth.set(queue_depth)
        self._batch_seconds.observe(batch_seconds)
        for latency in latencies_s:
            self._latency.observe(latency)

    def set_queue_depth(self, depth: int) -> None:
        self._queue_depth.set(depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)
