"""End to end: device samples on Kinesis -> ``kinesis_ingest`` -> Timestream writes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from smdh.adapters.aws.kinesis_publisher import KinesisStreamPublisher
from smdh.application.ingest import RawRecord
from smdh.entrypoints.container import Container
from smdh.entrypoints.lambdas import kinesis_ingest
from tests.integration.aws.aws_profile import aws_container, timestream_recorder
from tests.integration.aws.lambda_support import FakeContext, event, install, installed
from tests.integration.aws.timestream_support import Recorder, failing
from tests.unit.ingest.test_ingest_pipeline import ACME, register_world

pytestmark = pytest.mark.integration
__all__ = ["installed"]
STREAM = "smdh-sensor-stream"


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    moto_server: str,
    aws_clients: Callable[[str], Any],
    installed: list[Container],
) -> tuple[Container, Recorder]:
    container = aws_container(monkeypatch, moto_server, aws_clients)
    register_world(container)
    install(installed, container)
    return container, timestream_recorder(container)


def kinesis_event(make_client: Callable[[str], Any], records: list[RawRecord]) -> dict[str, Any]:
    """Publish with the real publisher, read the shard back, wrap it as Lambda would."""
    kinesis = make_client("kinesis")
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    KinesisStreamPublisher(kinesis, STREAM).publish(records)
    shard = kinesis.describe_stream(StreamName=STREAM)["StreamDescription"]["Shards"][0]
    iterator = kinesis.get_shard_iterator(
        StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    got = kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
    arn = f"arn:aws:kinesis:eu-central-1:123456789012:stream/{STREAM}"
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": item["PartitionKey"],
                    "sequenceNumber": item["SequenceNumber"],
                    "data": base64.b64encode(item["Data"]).decode(),
                    "approximateArrivalTimestamp": item["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard['ShardId']}:{item['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/smdh-kinesis-ingest",
                "awsRegion": "eu-central-1",
                "eventSourceARN": arn,
            }
            for item in got
        ]
    }


SAMPLE = {
    "m-1": {"power_watts": 1500.0, "state": "running", "cycle_count": 7},
    "e-1": {"voltage": 400.0, "current": 10.0, "power_factor": 0.9},
    "a-1": {"co2_ppm": 800.0, "pm25_ugm3": 12.0},
}


def machine_records(now: float, samples: int = 50, per_record: int = 10) -> list[RawRecord]:
    """The seed's mix, compressed: each record carries ``per_record`` samples of a device."""
    records = []
    for device, values in SAMPLE.items():
        times = [now - samples + i for i in range(samples)]
        for start in range(0, samples, per_record):
            body = {
                "samples": [{"timestamp": t, **values} for t in times[start : start + per_record]]
            }
            records.append(RawRecord("iot", ACME, device, "telemetry", json.dumps(body), now))
    return records


def test_kinesis_batch_becomes_chunked_versioned_timestream_writes(
    world: tuple[Container, Recorder], aws_clients: Callable[[str], Any]
) -> None:
    container, recorder = world
    now = container.clock().now().timestamp()
    lambda_event = kinesis_event(aws_clients, machine_records(now))
    cold = kinesis_ingest.handler(lambda_event, FakeContext())  # type: ignore[arg-type]
    assert cold == {"batchItemFailures": []}
    # warm from here on: Kinesis redelivers the same batch three times
    dynamodb_reads = Recorder(container.aws_clients().client("dynamodb"), "Query")
    get_items = Recorder(container.aws_clients().client("dynamodb"), "GetItem")
    responses = [
        kinesis_ingest.handler(lambda_event, FakeContext())  # type: ignore[arg-type]
        for _ in range(3)
    ]
    assert responses == [{"batchItemFailures": []}] * 3
    calls = recorder.calls
    assert all(len(call["Records"]) <= 100 for call in calls)
    per_delivery = len(calls) // 4
    deliveries = [calls[i * per_delivery : (i + 1) * per_delivery] for i in range(4)]
    first = deliveries[0]
    assert all(d == first for d in deliveries)  # identical writes, identical versions
    records = [r for call in first for r in call["Records"]]
    assert len(records) == 150 and all(r["MeasureValueType"] == "MULTI" for r in records)
    assert {r["Version"] for r in records} == {1}  # new points: never above an unseen record
    assert sorted(c["TableName"] for c in first) == [
        "air_quality",
        "energy_monitoring",
        "machine_telemetry",
    ]
    # the registry is a cached projection caught up at the cold start: no DynamoDB read
    # for 3 x 150 warm readings (and never a GetItem per record)
    assert get_items.calls == [] and dynamodb_reads.calls == []
    assert container.dead_letters().count() == 0


def test_the_documented_event_fixture_partly_dead_letters(
    world: tuple[Container, Recorder],
) -> None:
    container, recorder = world
    response = kinesis_ingest.handler(event("kinesis_ingest.json"), FakeContext())  # type: ignore[arg-type]
    assert response == {"batchItemFailures": []}
    assert len(recorder.records) == 1
    letters = container.dead_letters()
    assert [item.reason_code for _, item in letters.list("")] == ["malformed-envelope"]
    assert [item.reason_code for _, item in letters.list(ACME)] == ["out-of-range"]


def test_a_failing_record_is_reported_alone_as_a_batch_item_failure(
    world: tuple[Container, Recorder], aws_clients: Callable[[str], Any]
) -> None:
    container, recorder = world
    now = container.clock().now().timestamp()
    lambda_event = kinesis_event(aws_clients, machine_records(now, samples=2, per_record=1))

    def poison(call: dict[str, Any]) -> dict[str, Any] | None:
        devices = {r["Dimensions"][2]["Value"] for r in call["Records"]}
        return failing("ValidationException")(call) if "m-1" in devices else None

    recorder.answers += [poison] * 10
    response = kinesis_ingest.handler(lambda_event, FakeContext())  # type: ignore[arg-type]
    poisoned = [r["kinesis"]["sequenceNumber"] for r in lambda_event["Records"][:2]]
    assert response == {"batchItemFailures": [{"itemIdentifier": n} for n in poisoned]}
    stored = {r["Dimensions"][2]["Value"] for c in recorder.calls[-4:] for r in c["Records"]}
    assert stored == {"e-1", "a-1"}


def test_refresh_costs_one_query_per_invocation_not_per_reading(
    world: tuple[Container, Recorder],
    aws_clients: Callable[[str], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    container, _recorder = world
    monkeypatch.setenv("SMDH_REGISTRY_TTL_S", "0")
    container.aws_resources.reset()
    now = container.clock().now().timestamp()
    lambda_event = kinesis_event(aws_clients, machine_records(now))
    queries = Recorder(container.aws_clients().client("dynamodb"), "Query")
    kinesis_ingest.handler(lambda_event, FakeContext())  # type: ignore[arg-type]
    cold = len(queries.calls)  # projections and the alerting service start up
    kinesis_ingest.handler(lambda_event, FakeContext())  # type: ignore[arg-type]
    assert len(queries.calls) - cold <= 2  # the projections' catch-up, for 150 readings
