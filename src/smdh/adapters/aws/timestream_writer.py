"""The write side of ``TelemetryStore`` on Amazon Timestream for LiveAnalytics.

One ``DeviceSample`` is one **multi-measure record**: dimensions ``tenant_id``, ``site_id``,
``device_id``, ``sensor_type``; ``MeasureName`` = the sensor type; one typed measure value
per measure (DOUBLE / BIGINT / VARCHAR / BOOLEAN from the sensor registry); ``Time`` in ms.
Records go out in ``WriteRecords`` calls of at most 100, grouped by table.

**Validation on our side.** moto accepts anything, Timestream does not; a record that would
break a Timestream limit is sent to the dead letters with the reason instead of failing the
whole call: names (``[A-Za-z0-9_.-]``, 1-256 bytes, not reserved, no ``ts_`` /
``measure_value`` prefix, no clash with a dimension), dimension values (1 byte to 2 KB),
record size (2 KB), measures per record (256), finite numbers, time not more than 15 minutes
ahead and not older than the memory store (or the magnetic store when magnetic writes are
on). Unknown sensor types or measures and impossible timestamps are programming errors (the
ingest pipeline validated the samples): they raise ``ValueError`` before anything is sent,
as every ``TelemetryStore`` does.

**Version (measure-level, idempotent upserts).** Timestream replaces a whole multi-measure
record on an upsert with a higher ``Version``, and rejects a record with different values
whose version is not higher (``RejectedRecords`` with ``ExistingVersion``); a byte-identical
record is accepted as a no-op. ``timestream_known`` turns that into the port's promise (a
rewrite replaces only the measures it carries): a point this writer has not seen goes out
with ``Version`` 1, so it can never replace anything silently; a point it wrote goes out
merged with the known values. A redelivered batch therefore sends the same records with the
same versions, from a warm or a cold process. When Timestream holds a *different* record
the writer has not seen (another process wrote it, or it fell out of the LRU): a sample
that carries every measure of its sensor type is resent at ``ExistingVersion + 1`` (the
last write wins, nothing can be lost); a partial one goes to the dead letters as
``timestream-conflict``, because writing it would erase the measures it does not carry.

**Failures.** ``RejectedRecordsException`` is handled per record (``RecordIndex`` maps back
into the chunk): version conflicts are handled as above, other rejections go to the dead
letters with Timestream's reason, the rest of the chunk is written. Throttling and 5xx are
retried with exponential back-off and jitter; when the attempts run out the error is raised
so the caller (the Kinesis Lambda) fails the batch and nothing is lost.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
from botocore.exceptions import ClientError

from smdh.adapters.aws.timestream_known import (
    KnownRecord,
    KnownRecords,
    RecordKey,
    measures_of,
    merged,
)
from smdh.application.ports import Clock, DeadLetterStore
from smdh.domain.sensors.base import MeasureSpec, MeasureValue
from smdh.domain.sensors.registry import SensorRegistry, default_registry
from smdh.domain.telemetry import DeadLetter, DeviceSample, capped

log = logging.getLogger(__name__)

MAX_RECORDS_PER_CALL = 100
MAX_RECORD_BYTES = 2048
MAX_DIMENSION_VALUE_BYTES = 2048
MAX_NAME_BYTES = 256
MAX_MEASURES_PER_RECORD = 256
MAX_FUTURE_S = 15 * 60
DIMENSIONS = ("tenant_id", "site_id", "device_id", "sensor_type")
RESERVED_NAMES = frozenset({"measure_name", "measure_value", "time", *DIMENSIONS})
RESERVED_PREFIXES = ("ts_", "measure_value")
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
RETRYABLE_CODES = frozenset(
    {"ThrottlingException", "InternalServerException", "ServiceUnavailable", "RequestTimeout"}
)
DEFAULT_KNOWN_RECORDS = 20_000
_TYPE_BY_KIND = {"float": "DOUBLE", "int": "BIGINT", "str": "VARCHAR", "enum": "VARCHAR"}


class TimestreamLimit(ValueError):
    """A record that Timestream would reject; ``code`` is the dead letter's reason code."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a Timestream measure or dimension name, or None."""
    if not 1 <= len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return f"name {name[:40]!r} must be 1-{MAX_NAME_BYTES} bytes"
    if not set(name) <= NAME_CHARS:
        return f"name {name[:40]!r} may only hold letters, digits, '_', '.' and '-'"
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        return f"name {name!r} is reserved by Timestream or used by a dimension"
    return None


def encode_value(spec: MeasureSpec, value: MeasureValue) -> tuple[str, str]:
    """(Timestream type, text) of one measure value; raises ``TimestreamLimit``."""
    if type(value) is bool:
        return "BOOLEAN", "true" if value else "false"
    kind = _TYPE_BY_KIND[spec.kind]
    if kind == "DOUBLE":
        number = float(value)
        if not math.isfinite(number):
            raise TimestreamLimit("timestream-invalid-value", f"{spec.name} is not finite")
        return kind, repr(number)
    if kind == "BIGINT":
        return kind, str(int(value))
    text = str(value)
    if len(text.encode("utf-8")) > MAX_DIMENSION_VALUE_BYTES:
        raise TimestreamLimit("timestream-value-too-large", f"{spec.name} is over 2 KB")
    return kind, text


def record_size(record: Mapping[str, Any]) -> int:
    """Bytes of the record's names and values (what Timestream meters and limits)."""
    size = 8 + len(record["MeasureName"].encode("utf-8"))
    for item in (*record["Dimensions"], *record["MeasureValues"]):
        size += len(item["Name"].encode("utf-8")) + len(item["Value"].encode("utf-8"))
    return size


@attrs.frozen
class Pending:
    """One record on its way, with the sample it came from (for dead letters)."""

    table: str
    record: dict[str, Any]
    sample: DeviceSample
    key: RecordKey
    complete: bool  # carries every measure of its sensor type: replacing loses nothing


class TimestreamTelemetryWriter:
    """``write(samples)`` of ``TelemetryStore`` for Timestream (see the module text)."""

    def __init__(
        self,
        client: Any,
        database: str,
        tables: str | Mapping[str, str],
        dead_letters: DeadLetterStore,
        clock: Clock,
        memory_store_hours: int,
        *,
        magnetic_store_days: int | None = None,
        registry: SensorRegistry | None = None,
        max_attempts: int = 6,
        base_delay_s: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        known_records: int = DEFAULT_KNOWN_RECORDS,
    ) -> None:
        if memory_store_hours < 1:
            raise ValueError("memory_store_hours must be at least 1")
        self.client = client
        self.database = database
        self.tables = tables
        self.dead_letters = dead_letters
        self.clock = clock
        self.memory_store_hours = memory_store_hours
        self.magnetic_store_days = magnetic_store_days
        self.registry = registry or default_registry()
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.sleep = sleep
        self.known = KnownRecords(known_records)

    def table_for(self, sensor_type: str) -> str:
        if isinstance(self.tables, str):
            return self.tables
        table = self.tables.get(sensor_type)
        if table is None:
            raise ValueError(f"no Timestream table for sensor type {sensor_type!r}")
        return table

    def table_names(self) -> list[str]:
        names = [self.tables] if isinstance(self.tables, str) else list(self.tables.values())
        return sorted(set(names))

    # --- write ---------------------------------------------------------------------------

    def write(self, samples: Sequence[DeviceSample]) -> None:
        merged = self._merge(samples)  # raises ValueError before anything is sent
        now = self.clock.now().timestamp()
        pending: list[Pending] = []
        letters: list[DeadLetter] = []
        for sample in merged:
            try:
                pending.append(self._record(sample, now))
            except TimestreamLimit as error:
                letters.append(self._letter(sample, error.code, error.reason, now))
        by_table: dict[str, list[Pending]] = {}
        for item in pending:
            by_table.setdefault(item.table, []).append(item)
        for table, items in by_table.items():
            for start in range(0, len(items), MAX_RECORDS_PER_CALL):
                letters += self._write_chunk(
                    table, items[start : start + MAX_RECORDS_PER_CALL], now
                )
        if letters:
            self.dead_letters.add(letters)

    def _merge(self, samples: Iterable[DeviceSample]) -> list[DeviceSample]:
        """Checks every sample; samples of one point in one batch become one record (the
        later one's values win), in first-seen order; samples without values are dropped."""
        merged: dict[tuple[str, str, str, str, float], DeviceSample] = {}
        for sample in samples:
            sensor_type = self.registry.find(sample.sensor_type)
            if sensor_type is None:
                raise ValueError(f"unknown sensor type {sample.sensor_type!r}")
            for name in sample.values:
                if sensor_type.measure(name) is None:
                    raise ValueError(f"unknown measure {name!r} of {sample.sensor_type}")
            ts = sample.timestamp
            if not (isinstance(ts, int | float) and math.isfinite(ts) and ts >= 0):
                raise ValueError(f"invalid timestamp {ts!r}")
            if not sample.values:
                continue
            key = (sample.tenant_id, sample.site_id, sample.device_id, sample.sensor_type, ts)
            earlier = merged.get(key)
            merged[key] = (
                sample
                if earlier is None
                else attrs.evolve(sample, values={**earlier.values, **sample.values})
            )
        return list(merged.values())

    def _record(self, sample: DeviceSample, now: float) -> Pending:
        time_ms = round(sample.timestamp * 1000)
        self._check_time(time_ms / 1000, now)
        dimensions = [
            ("tenant_id", sample.tenant_id),
            ("site_id", sample.site_id),
            ("device_id", sample.device_id),
            ("sensor_type", sample.sensor_type),
        ]
        for name, value in dimensions:
            if not 1 <= len(value.encode("utf-8")) <= MAX_DIMENSION_VALUE_BYTES:
                raise TimestreamLimit("timestream-dimension", f"{name} must be 1 byte to 2 KB")
        if len(sample.values) > MAX_MEASURES_PER_RECORD:
            raise TimestreamLimit("timestream-too-many-measures", "over 256 measures")
        sensor_type = self.registry.get(sample.sensor_type)
        measures: list[tuple[str, str, str]] = []
        for name in sorted(sample.values):
            problem = name_problem(name)
            if problem is not None:
                raise TimestreamLimit("timestream-name", problem)
            spec = sensor_type.measure(name)
            if spec is None:  # pragma: no cover - checked in _merge
                raise ValueError(f"unknown measure {name!r}")
            measures.append((name, *encode_value(spec, sample.values[name])))
        table = self.table_for(sample.sensor_type)
        key: RecordKey = (table, tuple(dimensions), sample.sensor_type, time_ms)
        version, measures = merged(self.known.get(key), measures)
        record: dict[str, Any] = {
            "Dimensions": [{"Name": n, "Value": v} for n, v in dimensions],
            "MeasureName": sample.sensor_type,
            "MeasureValueType": "MULTI",
            "MeasureValues": [{"Name": n, "Type": t, "Value": v} for n, t, v in measures],
            "Time": str(time_ms),
            "TimeUnit": "MILLISECONDS",
            "Version": version,
        }
        size = record_size(record)
        if size > MAX_RECORD_BYTES:
            raise TimestreamLimit("timestream-record-too-large", f"record is {size} B > 2 KB")
        complete = set(sample.values) >= set(sensor_type.measure_names())
        return Pending(table, record, sample, key, complete)

    def _check_time(self, ts: float, now: float) -> None:
        if ts > now + MAX_FUTURE_S:
            raise TimestreamLimit(
                "timestream-future", f"time {ts:.3f} is more than 15 minutes in the future"
            )
        if self.magnetic_store_days is not None:
            window_s, store = self.magnetic_store_days * 86400.0, "magnetic store retention"
        else:
            window_s, store = self.memory_store_hours * 3600.0, "memory store window"
        if ts < now - window_s:
            raise TimestreamLimit(
                "timestream-retention", f"time {ts:.3f} is older than the {store}"
            )

    # --- calls ---------------------------------------------------------------------------

    def _write_chunk(self, table: str, chunk: list[Pending], now: float) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        for _round in range(3):  # the chunk, then at most two rounds of version resends
            rejections: dict[int, dict[str, Any]] = {}
            for rejection in self._call(table, [item.record for item in chunk]):
                index = rejection.get("RecordIndex")
                if isinstance(index, int) and 0 <= index < len(chunk):
                    rejections[index] = rejection
                else:
                    log.error("Timestream rejected an unknown record index %r", index)
            resend: list[Pending] = []
            for index, item in enumerate(chunk):
                answer = rejections.get(index)
                if answer is None:  # accepted: Timestream now holds this record
                    known = KnownRecord(item.record["Version"], measures_of(item.record))
                    self.known.put(item.key, known)
                    continue
                existing = answer.get("ExistingVersion")
                if not isinstance(existing, int) or existing < item.record["Version"]:
                    reason = str(answer.get("Reason") or "rejected by Timestream")
                    letters.append(self._letter(item.sample, "timestream-rejected", reason, now))
                    continue
                self.known.forget(item.key)  # someone else wrote it: we no longer know it
                if item.complete:
                    record = {**item.record, "Version": existing + 1}
                    resend.append(attrs.evolve(item, record=record))
                    continue
                reason = (
                    f"Timestream holds another record for this point (version {existing}) "
                    "that this writer has not seen; an upsert replaces the whole record, so "
                    "this partial sample would erase the measures it does not carry"
                )
                letters.append(self._letter(item.sample, "timestream-conflict", reason, now))
            if not resend:
                return letters
            chunk = resend
        for item in chunk:
            letters.append(
                self._letter(item.sample, "timestream-version-conflict", "kept losing", now)
            )
        return letters

    def _call(self, table: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One WriteRecords with retries; returns the rejected records (maybe none)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                self.client.write_records(
                    DatabaseName=self.database, TableName=table, Records=records
                )
                return []
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code == "RejectedRecordsException":
                    rejected = error.response.get("RejectedRecords", [])
                    return list(rejected) if isinstance(rejected, list) else []
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                retryable = code in RETRYABLE_CODES or status >= 500
                if not retryable or attempt >= self.max_attempts:
                    raise
                delay = self.base_delay_s * 2 ** (attempt - 1)
                self.sleep(random.uniform(0, delay))  # noqa: S311  (jitter, not a secret)

    def _letter(self, sample: DeviceSample, code: str, reason: str, now: float) -> DeadLetter:
        payload = json.dumps(
            {"timestamp": sample.timestamp, "sensor_type": sample.sensor_type, **sample.values},
            default=str,
        )
        return DeadLetter(
            tenant_id=sample.tenant_id,
            device_id=sample.device_id,
            source="timestream",
            received_at=now,
            reason_code=code,
            reason=reason,
            payload=capped(payload),
        )
