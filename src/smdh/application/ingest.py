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
from collections.abc import Callable, Sequence
from typing import Literal

import attrs

from smdh.application.ports import Clock, DeadLetterStore, TelemetryStore
from smdh.application.projections import DeviceEntry, DeviceRegistry, TenantDirectory
from smdh.application.quotas import RateLimiter
from smdh.domain.sensors.base import Reading, SensorType
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
        for record in records:
            outcome = self._process_record(record, now, oldest, samples, letters)
            outcomes.append(outcome)
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

    def _process_record(
        self,
        record: RawRecord,
        now: float,
        oldest: float,
        samples: list[DeviceSample],
        letters: list[DeadLetter],
    ) -> RecordOutcome:
        def reject(code: str, reason: str, index: int | None = None) -> Rejection:
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

        checked = self._check_record(record)
        if isinstance(checked, Refused):
            return RecordOutcome(0, (reject(checked.code, checked.reason),))
        entry, sensor_type, payload = checked
        readings, invalid = sensor_type.partition(payload, now=now)
        rejections = [
            reject(getattr(error, "reason_code", None) or error.code, error.message, error.index)
            for error in invalid
        ]
        # Each sample gives one reading or one indexed rejection, in order: the readings'
        # positions in the payload are the indices no rejection took.
        taken = {error.index for error in invalid if error.index is not None}
        positions = [i for i in range(len(readings) + len(taken)) if i not in taken]
        fresh: list[tuple[int, Reading]] = []
        for position, reading in zip(positions, readings, strict=True):
            if reading.timestamp >= oldest:
                fresh.append((position, reading))
                continue
            rejections.append(
                reject(
                    "too-late",
                    f"timestamp {reading.timestamp:.0f} is older than the late-data "
                    f"window of {self._late_window_s / 86400:g} days",
                    position,
                )
            )
        if self._rate_limiter is not None and fresh:
            granted = self._rate_limiter.grant(record.tenant_id, len(fresh), now)
            for position, reading in fresh[granted:]:
                rejections.append(
                    reject(
                        "quota-exceeded",
                        f"tenant is over its readings-per-second quota "
                        f"(sample at {reading.timestamp:.3f})",
                        position,
                    )
                )
            fresh = fresh[:granted]
        tenant, site, device, kind = (
            entry.tenant_id,
            entry.site_id,
            entry.device_id,
            entry.sensor_type,
        )
        samples.extend(
            DeviceSample(tenant, site, device, kind, r.timestamp, r.values) for _, r in fresh
        )
        accepted = len(fresh)
        return RecordOutcome(accepted, tuple(rejections))

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
        try:
            payload: object = json.loads(record.payload)
        except (ValueError, UnicodeDecodeError) as error:
            return Refused("malformed-json", f"malformed JSON: {error}")
        except RecursionError:  # "[[[[..." within the size limit: refuse, never raise
            return Refused("malformed-json", "malformed JSON: nested too deeply")
        return entry, sensor_type, payload
