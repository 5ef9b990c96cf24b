"""Alert evaluation under at-least-once delivery (the ``aws`` profile's ingest hook).

Kinesis redelivers whole batches (a retry after a timeout, bisection after an error, a
shard handed to a new consumer) and the IoT fast path sends a second copy of critical
messages. Telemetry writes are idempotent; alert evaluation is not: replaying
``[900 ppm at t-2, 6000 ppm at t-1]`` clears the open alert with the old 900 and raises a
*new episode* with the old 6000. So the evaluator only sees samples newer than the
device's last-seen time *before the batch*: a redelivered sample (same device and time =
the same point) or one older than what was already evaluated is stored but not evaluated
again. The last-seen times are part of the evaluation state, which the ``aws`` profile
keeps in DynamoDB, so this holds across cold starts too.

(A late sample older than the device's newest one is not evaluated either: raising or
clearing an alert on data older than the current reading would be wrong anyway.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from smdh.application.alerting import AlertingService
from smdh.application.ingest import IngestPipeline
from smdh.domain.telemetry import DeviceSample
from smdh.entrypoints.alerting_runtime import DispatchSignal


def only_new_samples(alerting: AlertingService) -> Callable[[Sequence[DeviceSample]], None]:
    def evaluate(samples: Sequence[DeviceSample]) -> None:
        alerting.start()  # restores last-seen times on the first batch (idempotent)
        last_seen = alerting.state.last_seen
        before: dict[tuple[str, str], float] = {}
        for s in samples:  # the times before this batch, read before it is evaluated
            key = (s.tenant_id, s.device_id)
            if key not in before:
                entry = last_seen.get(key)
                before[key] = float("-inf") if entry is None else entry[0]
        fresh = [s for s in samples if s.timestamp > before[(s.tenant_id, s.device_id)]]
        if fresh:
            alerting.on_batch(fresh)

    return evaluate


def hook_alerting_once(pipeline: IngestPipeline, alerting: AlertingService) -> DispatchSignal:
    """Like ``alerting_runtime.hook_alerting``, with redelivered samples filtered out."""
    signal = DispatchSignal()
    pipeline.add_after_store_hook(only_new_samples(alerting))
    alerting.add_listener(signal.kick)
    return signal
