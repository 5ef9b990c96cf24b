"""``IngestMetrics`` as CloudWatch metrics through the Embedded Metric Format (EMF).

Each ``observe_batch`` prints EMF JSON lines (Powertools ``EphemeralMetrics``) to stdout; in
Lambda stdout is the function's log stream and CloudWatch turns the lines into metrics
asynchronously. No ``PutMetricData`` call sits on the ingest path, and no alarm per sensor
exists (the seed's $378/month CloudWatch line): alerting is SMDH's own rule evaluator.

Dimensions stay low-cardinality: ``service`` (+ optional ``stage``) on every metric, and
``reason`` (the parser's small, fixed set of rejection codes) on ``RejectedByReason``. There
is no device or tenant dimension: every distinct dimension combination is a separate custom
metric, billed monthly, so a per-device dimension turns 1500 devices into thousands of
metrics, exactly the cost the seed ran into. Per-tenant usage belongs in the tenant-scoped
telemetry queries and the logs (searchable with Logs Insights), not in metric dimensions.

``EphemeralMetrics`` keeps its own state (``Metrics`` shares state across instances), so
two adapters or tests never mix their metrics; a lock makes ``observe_batch`` thread-safe.
Powertools flushes early by itself when a metric collects 100 values (EMF's limit).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "SMDH"


class EmfIngestMetrics:
    def __init__(
        self, *, namespace: str = NAMESPACE, service: str = "ingest", stage: str | None = None
    ) -> None:
        self._namespace = namespace
        self._service = service
        self._stage = stage
        self._lock = threading.Lock()

    def _metrics(self) -> EphemeralMetrics:
        metrics = EphemeralMetrics(namespace=self._namespace, service=self._service)
        if self._stage:
            metrics.add_dimension(name="stage", value=self._stage)
        return metrics

    def observe_batch(
        self,
        accepted: int,
        rejected_by_code: dict[str, int],
        batch_seconds: float,
        queue_depth: int,
        latencies_s: Sequence[float],
    ) -> None:
        with self._lock:
            metrics = self._metrics()
            metrics.add_metric(name="AcceptedReadings", unit=MetricUnit.Count, value=accepted)
            metrics.add_metric(
                name="RejectedReadings",
                unit=MetricUnit.Count,
                value=sum(rejected_by_code.values()),
            )
            metrics.add_metric(name="Batches", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="BatchDuration", unit=MetricUnit.Seconds, value=batch_seconds)
            metrics.add_metric(name="QueueDepth", unit=MetricUnit.Count, value=queue_depth)
            for latency in latencies_s:
                metrics.add_metric(name="IngestLatency", unit=MetricUnit.Seconds, value=latency)
            metrics.flush_metrics()
            for code, count in sorted(rejected_by_code.items()):
                if count:
                    by_reason = self._metrics()
                    by_reason.add_dimension(name="reason", value=code)
                    by_reason.add_metric(
                        name="RejectedByReason", unit=MetricUnit.Count, value=count
                    )
                    by_reason.flush_metrics()
