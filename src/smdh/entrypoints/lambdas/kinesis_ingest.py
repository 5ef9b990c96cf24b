"""Kinesis -> the ingest pipeline, with a partial batch response.

The batch normally goes through ``IngestPipeline.process`` in one call: one Timestream
write for the whole batch (chunked by 100), bad records dead-lettered with their reasons,
good ones stored. Only if that call raises (Timestream still throttling after the writer's
retries, a bug) is the batch processed record by record under Powertools'
``BatchProcessor``, so just the records that fail again are reported in
``batchItemFailures`` and one poison record does not block the shard. Writes are
idempotent (deterministic Timestream versions), so reprocessing and Kinesis redeliveries
store exactly the same records.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from smdh.adapters.aws.kinesis_publisher import decode_record
from smdh.application.ingest import BatchResult, IngestPipeline, RawRecord
from smdh.application.ports import DeadLetterStore
from smdh.domain.telemetry import DeadLetter, capped
from smdh.entrypoints.lambdas import runtime

logger = Logger(service="smdh-ingest")
metrics = Metrics(namespace="SMDH", service="ingest")


def decode(record: Any) -> RawRecord | DeadLetter:
    """One Kinesis record's envelope, or a dead letter saying why it is unreadable."""
    kinesis = record.get("kinesis", {})
    data = kinesis.get("data", "")
    try:
        return decode_record(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        return DeadLetter(
            tenant_id="",
            device_id="",
            source="kinesis",
            received_at=float(kinesis.get("approximateArrivalTimestamp") or 0.0),
            reason_code="malformed-envelope",
            reason=f"not an SMDH stream envelope: {type(error).__name__}",
            payload=capped(str(data)),
        )


def ingest(
    event: dict[str, Any],
    pipeline: IngestPipeline,
    dead_letters: DeadLetterStore,
    context: LambdaContext | None = None,
) -> dict[str, Any]:
    records: Sequence[dict[str, Any]] = event.get("Records", [])
    decoded = [decode(record) for record in records]
    raws = [item for item in decoded if isinstance(item, RawRecord)]
    unreadable = [item for item in decoded if isinstance(item, DeadLetter)]
    if unreadable:
        dead_letters.add(unreadable)
    try:
        result = pipeline.process(raws)
    except Exception:
        logger.exception("batch of %d records failed; retrying record by record", len(raws))
        metrics.add_metric(name="IsolatedBatches", unit=MetricUnit.Count, value=1)
        return isolate(event, pipeline, context)
    observe(result, len(records), len(unreadable))
    return {"batchItemFailures": []}


def isolate(
    event: dict[str, Any], pipeline: IngestPipeline, context: LambdaContext | None
) -> dict[str, Any]:
    def one(record: KinesisStreamRecord) -> None:
        item = decode(record.raw_event)
        if isinstance(item, RawRecord):  # unreadable ones were dead-lettered already
            pipeline.process([item])

    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    response: dict[str, Any] = dict(
        process_partial_response(
            event=event, record_handler=one, processor=processor, context=context
        )
    )
    return response


def observe(result: BatchResult, records: int, unreadable: int) -> None:
    metrics.add_metric(name="IngestRecords", unit=MetricUnit.Count, value=records)
    metrics.add_metric(name="StoredSamples", unit=MetricUnit.Count, value=len(result.stored))
    letters = result.dead_letters + unreadable
    metrics.add_metric(name="DeadLetters", unit=MetricUnit.Count, value=letters)
    if letters:
        logger.info("dead letters", extra={"by_code": json.dumps(result.rejected_by_code)})


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = runtime.refreshed()
    return ingest(event, built.ingest_pipeline(), built.dead_letters(), context)
