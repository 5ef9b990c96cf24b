"""KinesisStreamPublisher against moto: batching limits, partial failures, no drops."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from smdh.adapters.aws.kinesis_publisher import (
    MAX_BYTES_PER_CALL,
    KinesisStreamPublisher,
    PublishFailed,
    RecordTooLarge,
    decode_record,
    device_partition_key,
    encode_record,
)
from smdh.application.ingest import RawRecord

pytestmark = pytest.mark.integration

STREAM = "smdh-ingest"


def record(i: int, *, tenant: str = "acme", payload: bytes | str | None = None) -> RawRecord:
    return RawRecord(
        source="mqtt",
        tenant_id=tenant,
        device_id=f"press-{i % 7}",
        kind="telemetry",
        payload=payload if payload is not None else f'{{"seq": {i}}}',
        received_at=1_740_000_000.0 + i,
    )


@pytest.fixture
def kinesis(aws_clients: Callable[[str], Any]) -> Any:
    client = aws_clients("kinesis")
    client.create_stream(StreamName=STREAM, ShardCount=4)
    client.get_waiter("stream_exists").wait(StreamName=STREAM)
    return client


def read_stream(client: Any) -> list[tuple[str, RawRecord]]:
    found: list[tuple[str, RawRecord]] = []
    for shard in client.list_shards(StreamName=STREAM)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            found += [(r["PartitionKey"], decode_record(r["Data"])) for r in page["Records"]]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return found


def count_put_records(client: Any) -> list[int]:
    sizes: list[int] = []

    def before(params: dict[str, Any], **_: object) -> None:
        sizes.append(len(params["Records"]))

    client.meta.events.register("provide-client-params.kinesis.PutRecords", before)
    return sizes


def test_records_round_trip_through_the_stream(kinesis: Any) -> None:
    records = [record(i) for i in range(20)] + [record(99, payload=b"\x00\xffbinary")]
    KinesisStreamPublisher(kinesis, STREAM).publish(records)
    read = read_stream(kinesis)
    assert sorted((r.received_at, r) for _, r in read) == sorted(
        (r.received_at, r) for r in records
    )
    assert {key for key, r in read} == {device_partition_key(r) for r in records}


def test_per_device_order_is_kept_and_devices_spread_over_shards(kinesis: Any) -> None:
    records = [record(i) for i in range(70)]
    KinesisStreamPublisher(kinesis, STREAM).publish(records)
    shards_used = 0
    for shard in kinesis.list_shards(StreamName=STREAM)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        got = [
            decode_record(r["Data"]) for r in kinesis.get_records(ShardIterator=iterator)["Records"]
        ]
        shards_used += bool(got)
        for device in {r.device_id for r in got}:
            times = [r.received_at for r in got if r.device_id == device]
            assert times == sorted(times)
    assert shards_used >= 2  # one tenant's seven devices do not sit on one shard


def test_at_most_500_records_per_call(kinesis: Any) -> None:
    sizes = count_put_records(kinesis)
    records = [record(i) for i in range(1_201)]
    KinesisStreamPublisher(kinesis, STREAM).publish(records)
    assert sizes == [500, 500, 201]
    assert len(read_stream(kinesis)) == 1_201


def test_at_most_5_mib_per_call(kinesis: Any) -> None:
    sizes = count_put_records(kinesis)
    big = "x" * (900 * 1024)  # 900 KiB each: five fit in 5 MiB, six do not
    records = [record(i, payload=big) for i in range(12)]
    KinesisStreamPublisher(kinesis, STREAM).publish(records)
    assert sizes == [5, 5, 2]
    assert all(n * 900 * 1024 <= MAX_BYTES_PER_CALL for n in sizes)
    assert len(read_stream(kinesis)) == 12


def test_a_record_over_1_mib_is_refused_before_anything_is_sent(kinesis: Any) -> None:
    sizes = count_put_records(kinesis)
    records = [record(1), record(2, payload="x" * (1024 * 1024))]
    with pytest.raises(RecordTooLarge, match="1048576"):
        KinesisStreamPublisher(kinesis, STREAM).publish(records)
    assert sizes == []


class FlakyKinesis:
    """The real moto client, except that PutRecords refuses chosen entries of chosen calls
    (as a throttled shard does: the refused entries are not written)."""

    def __init__(self, real: Any, refuse: Callable[[int, int], bool]) -> None:
        self.real = real
        self.refuse = refuse  # (call number, entry index) -> refuse?
        self.calls: list[int] = []

    def put_records(self, StreamName: str, Records: Sequence[Any]) -> dict[str, Any]:  # noqa: N803
        call = len(self.calls)
        self.calls.append(len(Records))
        refused = [i for i in range(len(Records)) if self.refuse(call, i)]
        accepted = [r for i, r in enumerate(Records) if i not in refused]
        real_results = iter(
            self.real.put_records(StreamName=StreamName, Records=accepted)["Records"]
            if accepted
            else []
        )
        results = [
            {
                "ErrorCode": "ProvisionedThroughputExceededException",
                "ErrorMessage": "Rate exceeded for shard",
            }
            if i in refused
            else next(real_results)
            for i in range(len(Records))
        ]
        return {"FailedRecordCount": len(refused), "Records": results}


def test_refused_entries_are_retried_with_back_off_and_nothing_is_lost(kinesis: Any) -> None:
    flaky = FlakyKinesis(kinesis, lambda call, i: call < 2 and i % 3 == 0)
    delays: list[float] = []
    records = [record(i) for i in range(30)]
    KinesisStreamPublisher(flaky, STREAM, sleep=delays.append, base_delay_s=0.1).publish(records)
    assert flaky.calls == [30, 10, 4]  # only the refused entries are sent again
    assert len(delays) == 2
    assert 0 <= delays[0] <= 0.1 and 0 <= delays[1] <= 0.2
    read = sorted(r.received_at for _, r in read_stream(kinesis))
    assert read == [r.received_at for r in records]  # all there, none twice


def test_records_still_refused_after_all_attempts_are_raised_not_dropped(kinesis: Any) -> None:
    flaky = FlakyKinesis(kinesis, lambda call, i: i == 0)  # the first pending entry, always
    records = [record(i) for i in range(5)]
    publisher = KinesisStreamPublisher(flaky, STREAM, max_attempts=3, sleep=lambda _: None)
    with pytest.raises(PublishFailed, match="ProvisionedThroughputExceeded") as raised:
        publisher.publish(records)
    assert raised.value.records == records[:1]
    assert flaky.calls == [5, 1, 1]
    assert len(read_stream(kinesis)) == 4


def test_the_envelope_keeps_text_and_binary_payloads() -> None:
    for payload in ("{}", b"\x00\x01"):
        original = record(1, payload=payload)
        assert decode_record(encode_record(original)) == original
