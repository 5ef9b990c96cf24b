"""The ingest pipeline: raw device messages in, durable samples and dead letters out.

One call to ``IngestPipeline.process`` handles a micro-batch of records from any source
(MQTT, HTTP, Kinesis):

    decode JSON -> identify the device from its authenticated identity -> registry lookup
    (in-memory projection, no store round trip) -> the sensor module's parse (derived
    measures included) -> late-data and quota checks -> one TelemetryStore.write for the
    whole batch -> after-store hooks (alert evaluation) -> dead letters for every rejection

The tenant always comes from the registry entry of the authenticated device, never from
the payload. Every rejection keeps its reason; nothing is dropped silently.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from typing import Literal

import attrs
import orjson

from smdh.application.ports import Clock, DeadLetterStore, TelemetryStore
from smdh.application.projections import DeviceEntry, DeviceRegistry, TenantDirectory
from smdh.application.quotas import RateLimiter
from smdh.domain.sensors.base import MeasureValue, SensorType
from smdh.domain.sensors.registry import SensorRegistry
from smdh.domain.telemetry import DeadLetter, DeviceSample, capped

log = logging.getLogger(__name__)

RecordKind = Literal["telemetry", "scan"]
DEFAULT_LATE_WINDOW_S = 7 * 24 * 3600.0
MAX_PAYLOAD_BYTES = 256 * 1024


@attrs.frozen(slots=True)
class RawRecord:
    """One message as a source received it, attributed to an authenticated device."""

    source: str  # "mqtt", "http", "kinesis", ...
    tenant_id: str
    device_id: str
    kind: RecordKind
    payload: bytes | str
    received_at: float


@attrs.frozen(slots=True)
class Rejection:
    index: int | None  # the sample's position in the message; None = the whole message
    code: str
    reason: str


@attrs.frozen(slots=True)
class RecordOutcome:
    accepted: int
    rejected: tuple[Rejection, ...] = ()


@attrs.frozen
class BatchResult:
    outcomes: list[RecordOutcome]
    stored: list[DeviceSample]
    dead_letters: int
    rejected_by_code: dict[str, int]


@attrs.frozen(slots=True)
class Refused:
    code: str
    reason: str


AfterStoreHook = Callable[[Sequence[DeviceSample]], None]

# A checked record: its device, its fresh samples (index, timestamp, values) and the
# (reason code, reason, index) of each sample it rejected
_Parsed = tuple[
    DeviceEntry,
    list[tuple[int, float, dict[str, MeasureValue]]],
    list[tuple[str, str, int | None]],
]


class IngestPipeline:
    def __init__(
        self,
        *,
        devices: DeviceRegistry,
        directory: TenantDirectory,
        sensors: SensorRegistry,
        store: TelemetryStore,
        dead_letters: DeadLetterStore,
        clock: Clock,
        rate_limiter: RateLimiter | None = None,
        late_window_s: float = DEFAULT_LATE_WINDOW_S,
    ) -> None:
        self._devices = devices
        self._directory = directory
        self._sensors = sensors
        self._store = store
        self._dead_letters = dead_letters
        self._clock = clock
        self._rate_limiter = rate_limiter
        self._late_window_s = late_window_s
        self._after_store: list[AfterStoreHook] = []

    def add_after_store_hook(self, hook: AfterStoreHook) -> None:
        """Runs with every stored batch, after it is durable (alert evaluation goes here)."""
        self._after_store.append(hook)

    def process(self, records: Sequence[RawRecord]) -> BatchResult:
        now = self._clock.now().timestamp()
        oldest = now - self._late_window_s
        samples: list[DeviceSample] = []
        outcomes: list[RecordOutcome] = []
        letters: list[DeadLetter] = []
        # First pass: check and parse every record. Quotas are then granted once per
        # (batch, tenant): the bucket does not refill within a batch (one ``now``), so
        # handing the grant out in record order accepts exactly what one grant per record
        # would have accepted.
        parsed = [self._parse_record(record, now, oldest) for record in records]
        granted = self._grant(records, parsed, now)
        add_sample = samples.append
        for record, outcome in zip(records, parsed, strict=True):
            if type(outcome) is Refused:
                outcomes.append(
                    RecordOutcome(0, (self._reject(letters, record, outcome.code, outcome.reason),))
                )
                continue
            entry, fresh, found = outcome  # type: ignore[misc]
            count = len(fresh)
            if granted is not None and count:
                left = granted[record.tenant_id]
                if found or left < count:
                    outcomes.append(self._accept(record, outcome, granted, samples, letters))  # type: ignore[arg-type]
                    continue
                granted[record.tenant_id] = left - count
            elif found:
                outcomes.append(self._accept(record, outcome, granted, samples, letters))  # type: ignore[arg-type]
                continue
            # the common record: every sample stored, nothing rejected
            tenant, site, device, kind = (
                entry.tenant_id,
                entry.site_id,
                entry.device_id,
                entry.sensor_type,
            )
            for _, timestamp, values in fresh:
                add_sample(DeviceSample(tenant, site, device, kind, timestamp, values))
            outcomes.append(RecordOutcome(count, ()))
        if samples:
            # The one write of the batch: returns only once the samples are durable.
            self._store.write(samples)
            for hook in self._after_store:
                try:
                    hook(samples)
                except Exception:
                    log.exception("after-store hook %r failed", hook)
        if letters:
            self._dead_letters.add(letters)
        by_code: dict[str, int] = {}
        for letter in letters:
            by_code[letter.reason_code] = by_code.get(letter.reason_code, 0) + 1
        return BatchResult(outcomes, samples, len(letters), by_code)

    def _grant(
        self, records: Sequence[RawRecord], parsed: list[Refused | _Parsed], now: float
    ) -> dict[str, int] | None:
        """How many fresh samples each tenant of the batch may store (None = no quotas)."""
        if self._rate_limiter is None:
            return None
        wanted: dict[str, int] = {}
        for record, outcome in zip(records, parsed, strict=True):
            if type(outcome) is tuple and outcome[1]:
                tenant_id = record.tenant_id
                wanted[tenant_id] = wanted.get(tenant_id, 0) + len(outcome[1])
        grant = self._rate_limiter.grant
        return {tenant_id: grant(tenant_id, n, now) for tenant_id, n in wanted.items()}

    def _parse_record(self, record: RawRecord, now: float, oldest: float) -> Refused | _Parsed:
        """The record's device entry, its fresh samples and its rejections, or why not."""
        checked = self._check_record(record)
        if type(checked) is Refused:
            return checked
        entry, sensor_type, payload = checked  # type: ignore[misc]
        valid, invalid = sensor_type.partition_values(payload, now=now)
        rejections: list[tuple[str, str, int | None]] = [
            (getattr(error, "reason_code", None) or error.code, error.message, error.index)
            for error in invalid
        ]
        for item in valid:
            if item[1] < oldest:
                break
        else:
            return entry, valid, rejections  # the common case: every sample is fresh
        fresh = []
        for item in valid:
            if item[1] >= oldest:
                fresh.append(item)
                continue
            rejections.append(
                (
                    "too-late",
                    f"timestamp {item[1]:.0f} is older than the late-data "
                    f"window of {self._late_window_s / 86400:g} days",
                    item[0],
                )
            )
        return entry, fresh, rejections

    def _accept(
        self,
        record: RawRecord,
        parsed: _Parsed,
        granted: dict[str, int] | None,
        samples: list[DeviceSample],
        letters: list[DeadLetter],
    ) -> RecordOutcome:
        entry, fresh, found = parsed
        rejections = [self._reject(letters, record, *rejection) for rejection in found]
        if granted is not None and fresh:
            left = granted.get(record.tenant_id, 0)
            if left < len(fresh):
                for position, timestamp, _values in fresh[left:]:
                    rejections.append(
                        self._reject(
                            letters,
                            record,
                            "quota-exceeded",
                            f"tenant is over its readings-per-second quota "
                            f"(sample at {timestamp:.3f})",
                            position,
                        )
                    )
                fresh = fresh[:left]
            granted[record.tenant_id] = left - len(fresh)
        tenant, site, device, kind = (
            entry.tenant_id,
            entry.site_id,
            entry.device_id,
            entry.sensor_type,
        )
        samples.extend(
            [DeviceSample(tenant, site, device, kind, ts, values) for _, ts, values in fresh]
        )
        return RecordOutcome(len(fresh), tuple(rejections))

    @staticmethod
    def _reject(
        letters: list[DeadLetter],
        record: RawRecord,
        code: str,
        reason: str,
        index: int | None = None,
    ) -> Rejection:
        letters.append(
            DeadLetter(
                tenant_id=record.tenant_id,
                device_id=record.device_id,
                source=record.source,
                received_at=record.received_at,
                reason_code=code,
                reason=reason,
                payload=capped(record.payload),
                index=index,
            )
        )
        return Rejection(index, code, reason)

    def _check_record(self, record: RawRecord) -> Refused | tuple[DeviceEntry, SensorType, object]:
        """The record's device, its sensor type and decoded JSON, or why not."""
        entry = self._devices.lookup(record.tenant_id, record.device_id)
        if entry is None:
            return Refused("unknown-device", "device is not registered")
        if not entry.accepts_readings:
            return Refused("device-decommissioned", "device is decommissioned")
        sensor_type = self._sensors.find(entry.sensor_type)
        if sensor_type is None:
            return Refused("unknown-sensor-type", f"no sensor type {entry.sensor_type}")
        if sensor_type.topic_kind != record.kind:
            return Refused(
                "wrong-topic",
                f"a {entry.sensor_type} device sends {sensor_type.topic_kind} messages, "
                f"not {record.kind}",
            )
        size = (
            len(record.payload)
            if isinstance(record.payload, bytes)
            else len(record.payload.encode("utf-8", "surrogatepass"))
        )
        if size > MAX_PAYLOAD_BYTES:
            return Refused("payload-too-large", f"payload exceeds {MAX_PAYLOAD_BYTES} bytes")
        payload = _decode(record.payload)
        if type(payload) is Refused:
            return payload
        return entry, sensor_type, payload


# 19 digits in a row: possibly an integer beyond 64 bits, which orjson turns into a float
_DIGIT_MARKS = bytes(0x31 if 0x30 <= i <= 0x39 else 0x30 for i in range(256))
_LONG_DIGITS = b"1" * 19
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{19}")


def _decode(raw: bytes | str) -> object:
    """The payload's JSON value, exactly as ``json.loads`` gives it, or a ``Refused``.

    orjson decodes the common payload several times faster. Whatever it refuses (malformed
    text, NaN and Infinity literals, numbers beyond 64 bits or a double, UTF-16, a BOM,
    lone surrogates, nesting deeper than 1024) and any payload with a digit run long enough
    to be such an integer goes to ``json.loads``, so values and reasons stay the same.
    """
    try:
        if isinstance(raw, bytes):
            if _LONG_DIGITS not in raw.translate(_DIGIT_MARKS):
                return orjson.loads(raw)
        elif isinstance(raw, str) and _LONG_DIGITS_TEXT.search(raw) is None:
            return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        return Refused("malformed-json", f"malformed JSON: {error}")
    except RecursionError:  # "[[[[..." within the size limit: refuse, never raise
        return Refused("malformed-json", "malformed JSON: nested too deeply")
