"""``StreamPublisher`` on Kinesis Data Streams: PutRecords in bounded batches, no drops.

* **Batches.** One PutRecords call takes at most 500 records and 5 MiB (data plus partition
  keys); one record at most 1 MiB. Records are packed greedily in order; a record that can
  never fit is refused with ``RecordTooLarge`` before anything is sent.
* **Partial failures.** PutRecords succeeds as a call while refusing single entries
  (``FailedRecordCount`` > 0, per-entry ``ErrorCode`` such as
  ``ProvisionedThroughputExceededException``). Only the refused entries are sent again,
  with exponential back-off and full jitter; after ``max_attempts`` the call raises
  ``PublishFailed`` carrying every record still not accepted. Nothing is dropped silently.
  A retried record may land after a later record of the same device; readings carry their
  own timestamps and the TelemetryStore write is idempotent, so that is harmless.
* **Partition key = ``"{tenant}:{device}"``** (the device key). Kinesis hashes it (MD5) onto
  the shards, so the seed's ``partition_key = tenant_id`` would pin a whole tenant, however
  large, to one shard (1 MB/s, 1000 records/s): one noisy tenant would throttle every other
  tenant sharing that shard. Per-device keys spread each tenant's devices over all shards,
  while all records of one device stay on one shard, in order. A single device at 1 Hz is
  far below a shard's limits. Tenant isolation does not depend on the key: the consumer
  takes the tenant from the device registry, never from the stream position.

The record data is a small JSON envelope (``encode_record`` / ``decode_record``) that the
Kinesis-triggered Lambda turns back into a ``RawRecord``.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from smdh.application.ingest import RawRecord, RecordKind

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_BYTES_PER_RECORD = 1024 * 1024
MAX_PARTITION_KEY_CHARS = 256


class RecordTooLarge(ValueError):
    """A record that Kinesis can never accept (data plus key over 1 MiB)."""


class PublishFailed(RuntimeError):
    """Records still refused by Kinesis after every attempt; the caller must retry them."""

    def __init__(self, records: Sequence[RawRecord], errors: Sequence[str]) -> None:
        self.records = list(records)
        self.errors = list(errors)
        summary = ", ".join(sorted(set(self.errors))) or "unknown"
        super().__init__(f"{len(self.records)} record(s) not accepted by Kinesis ({summary})")


def device_partition_key(record: RawRecord) -> str:
    """The device key ``tenant:device``: spreads a tenant over shards, keeps device order."""
    return f"{record.tenant_id}:{record.device_id}"


def encode_record(record: RawRecord) -> bytes:
    envelope: dict[str, object] = {
        "source": record.source,
        "tenant_id": record.tenant_id,
        "device_id": record.device_id,
        "kind": record.kind,
        "received_at": record.received_at,
    }
    if isinstance(record.payload, bytes):
        envelope["payload_b64"] = base64.b64encode(record.payload).decode("ascii")
    else:
        envelope["payload"] = record.payload
    return json.dumps(envelope, separators=(",", ":")).encode()


def decode_record(data: bytes) -> RawRecord:
    envelope: dict[str, Any] = json.loads(data)
    payload: bytes | str
    if "payload_b64" in envelope:
        payload = base64.b64decode(envelope["payload_b64"])
    else:
        payload = str(envelope["payload"])
    return RawRecord(
        source=str(envelope["source"]),
        tenant_id=str(envelope["tenant_id"]),
        device_id=str(envelope["device_id"]),
        kind=cast(RecordKind, envelope["kind"]),
        payload=payload,
        received_at=float(envelope["received_at"]),
    )


class KinesisStreamPublisher:
    def __init__(
        self,
        client: KinesisClient,
        stream_name: str,
        *,
        partition_key: Callable[[RawRecord], str] = device_partition_key,
        max_attempts: int = 8,
        base_delay_s: float = 0.05,
        max_delay_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._stream = stream_name
        self._partition_key = partition_key
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._sleep = sleep

    def publish(self, records: Sequence[RawRecord]) -> None:
        entries = [self._entry(record) for record in records]  # refuses before sending
        for batch in _batches(list(range(len(entries))), entries):
            self._put_with_retries(batch, entries, records)

    def _entry(self, record: RawRecord) -> tuple[bytes, str]:
        key = self._partition_key(record)
        if not 1 <= len(key) <= MAX_PARTITION_KEY_CHARS:
            raise ValueError(f"partition key must be 1-256 characters, got {len(key)}")
        data = encode_record(record)
        size = len(data) + len(key.encode())
        if size > MAX_BYTES_PER_RECORD:
            raise RecordTooLarge(
                f"record of device {key!r} is {size} bytes; Kinesis takes at most "
                f"{MAX_BYTES_PER_RECORD} bytes per record"
            )
        return data, key

    def _put_with_retries(
        self,
        batch: list[int],
        entries: Sequence[tuple[bytes, str]],
        records: Sequence[RawRecord],
    ) -> None:
        pending = batch
        errors: list[str] = []
        for attempt in range(1, self._max_attempts + 1):
            response = self._client.put_records(
                StreamName=self._stream,
                Records=[{"Data": entries[i][0], "PartitionKey": entries[i][1]} for i in pending],
            )
            if not response.get("FailedRecordCount"):
                return
            results = response["Records"]
            failed = [
                i for i, result in zip(pending, results, strict=True) if "ErrorCode" in result
            ]
            errors = [str(r.get("ErrorCode")) for r in results if "ErrorCode" in r]
            pending = failed
            if attempt < self._max_attempts:
                cap = min(self._max_delay_s, self._base_delay_s * 2 ** (attempt - 1))
                self._sleep(random.uniform(0, cap))  # noqa: S311  (jitter, not crypto)
        raise PublishFailed([records[i] for i in pending], errors)


def _batches(indexes: list[int], entries: Sequence[tuple[bytes, str]]) -> list[list[int]]:
    """Consecutive groups of at most 500 entries and 5 MiB each, in order."""
    batches: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index in indexes:
        data, key = entries[index]
        entry_size = len(data) + len(key.encode())
        if current and (
            len(current) == MAX_RECORDS_PER_CALL or size + entry_size > MAX_BYTES_PER_CALL
        ):
            batches.append(current)
            current, size = [], 0
        current.append(index)
        size += entry_size
    if current:
        batches.append(current)
    return batches
