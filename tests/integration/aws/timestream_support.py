"""Helpers for the Timestream tests: a recorder of WriteRecords calls and error injection.

``Recorder`` hooks a boto3 client's event system: ``provide-client-params`` sees each call's
arguments (what we send), ``before-call`` may answer instead of moto (a synthetic
``RejectedRecordsException`` or throttling) - moto itself accepts any write.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
from botocore.awsrequest import AWSResponse

from smdh.adapters.aws.timestream_query import TimestreamTelemetryStore
from smdh.adapters.aws.timestream_writer import TimestreamTelemetryWriter
from smdh.adapters.memory.dead_letters import InMemoryDeadLetterStore

DATABASE = "smdh_manufacturing"
TABLES = {
    "machine": "machine_telemetry",
    "energy": "energy_monitoring",
    "air_quality": "air_quality",
    "job_scan": "job_scan_events",
}
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@attrs.define
class FixedNow:
    moment: datetime = NOW

    def now(self) -> datetime:
        return self.moment


Answer = Callable[[dict[str, Any]], dict[str, Any] | None]


class Recorder:
    """Records every call of ``operation`` on ``client``; ``answer`` may fake a reply."""

    def __init__(self, client: Any, operation: str = "WriteRecords") -> None:
        self.calls: list[dict[str, Any]] = []
        self.request_bytes = 0
        self.answers: list[Answer] = []
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"provide-client-params.{service}.{operation}", self._params)
        client.meta.events.register(f"before-call.{service}.{operation}", self._before)

    def _params(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(json.loads(json.dumps(params)))

    def _before(self, params: dict[str, Any], **_: Any) -> Any:
        body = params.get("body", b"")
        self.request_bytes += len(body if isinstance(body, bytes) else str(body).encode())
        if not self.answers:
            return None
        error = self.answers.pop(0)(self.calls[-1])
        if error is None:
            return None
        status = 500 if error["Error"]["Code"] == "InternalServerException" else 400
        return AWSResponse("http://fake", status, {}, None), error

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for call in self.calls for record in call["Records"]]


def rejected(*rejections: dict[str, Any]) -> Answer:
    def answer(_call: dict[str, Any]) -> dict[str, Any]:
        return {
            "Error": {"Code": "RejectedRecordsException", "Message": "rejected"},
            "RejectedRecords": list(rejections),
        }

    return answer


def failing(code: str) -> Answer:
    return lambda _call: {"Error": {"Code": code, "Message": code}}


def create_timestream(write_client: Any, memory_hours: int = 720) -> None:
    write_client.create_database(DatabaseName=DATABASE)
    for table in TABLES.values():
        write_client.create_table(
            DatabaseName=DATABASE,
            TableName=table,
            RetentionProperties={
                "MemoryStoreRetentionPeriodInHours": memory_hours,
                "MagneticStoreRetentionPeriodInDays": 730,
            },
        )


def make_store(
    make_client: Callable[[str], Any], memory_hours: int = 720
) -> tuple[TimestreamTelemetryStore, Recorder, InMemoryDeadLetterStore, FixedNow]:
    write = make_client("timestream-write")
    create_timestream(write, memory_hours)
    letters = InMemoryDeadLetterStore()
    clock = FixedNow()
    writer = TimestreamTelemetryWriter(
        write, DATABASE, TABLES, letters, clock, memory_hours, sleep=lambda _s: None
    )
    recorder = Recorder(write)
    return (
        TimestreamTelemetryStore(writer, make_client("timestream-query")),
        recorder,
        letters,
        clock,
    )
