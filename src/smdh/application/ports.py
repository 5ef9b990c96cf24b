"""Ports: every outside thing the application talks to, as ``typing.Protocol``.

Adapters live in ``smdh.adapters.{memory,embedded,aws}``; each port has one contract test
suite in ``tests/`` that every adapter passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import attrs

if TYPE_CHECKING:
    from smdh.application.ingest import RawRecord

from smdh.domain.shared.events import DomainEvent
from smdh.domain.telemetry import Bucket, DeadLetter, DeviceSample, MeasurePoint


@attrs.frozen
class StoredEvent:
    """A domain event with its global position in the store (for projections and audit)."""

    position: int
    event: DomainEvent


class EventStore(Protocol):
    """Append-only event streams with optimistic concurrency on (aggregate id, version).

    ``append`` takes the new events of one or more aggregates and stores all of them or none.
    For each aggregate the events' versions must continue its stream exactly (the first new
    version is the current version + 1); if another writer got there first the whole append
    fails with ``ConcurrencyConflict``.
    """

    def append(self, events: Sequence[DomainEvent]) -> None: ...

    def load(self, aggregate_id: str, after_version: int = 0) -> list[DomainEvent]: ...

    def current_version(self, aggregate_id: str) -> int: ...

    def read_all(
        self, after_position: int = 0, limit: int = 1000, tenant_id: str | None = None
    ) -> list[StoredEvent]:
        """Events in global order; ``tenant_id`` restricts to one tenant's events."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self, prefix: str = "") -> str: ...

    def new_secret(self) -> str:
        """A high-entropy secret for device credentials or one-time tokens."""
        ...


class SecretHasher(Protocol):
    """One-way hashing for passwords and device secrets (we store only hashes)."""

    def hash(self, secret: str) -> str: ...

    def verify(self, secret: str, hashed: str) -> bool: ...


# --- identity: access tokens (local issuer or Amazon Cognito) ---------------------------------

from smdh.application.principals import Principal  # noqa: E402  (section appended to the file)


@attrs.frozen
class IssuedToken:
    """An access token as the token endpoint returns it (RFC 6749 section 5.1)."""

    access_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105  (a scheme name, not a secret)


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal:
        """The principal a bearer token proves; raises ``AuthenticationFailed`` otherwise."""
        ...


class TokenIssuer(Protocol):
    def issue(self, principal: Principal, ttl_seconds: int | None = None) -> IssuedToken:
        """A signed access token for ``principal``; the issuer's default lifetime if None."""
        ...


class CredentialStore(Protocol):
    """Password hashes of people (operators and tenant users), kept apart from events.

    Passwords are secrets, not business facts: they never enter the event store, so erasing
    a tenant's people is deleting rows here. ``tenant_id`` is ``None`` for operators.
    """

    def set_password_hash(
        self, tenant_id: str | None, user_id: str, password_hash: str
    ) -> None: ...

    def password_hash(self, tenant_id: str | None, user_id: str) -> str | None: ...

    def delete(self, tenant_id: str | None, user_id: str) -> None: ...

    def delete_tenant(self, tenant_id: str) -> int: ...


class TelemetryStore(Protocol):
    """Time series of device samples. Every query is scoped by tenant inside the adapter.

    ``write`` returns only once the samples are durable, and is idempotent: a sample with the
    same (tenant, device, timestamp) replaces the measures it carries, so redelivery never
    duplicates a point.
    """

    def write(self, samples: Sequence[DeviceSample]) -> None: ...

    def latest(self, tenant_id: str, device_id: str) -> list[MeasurePoint]:
        """The most recent value of each measure of one device."""
        ...

    def query_range(
        self,
        tenant_id: str,
        device_id: str,
        start: float,
        end: float,
        measures: Sequence[str] | None = None,
        limit: int = 1000,
    ) -> list[DeviceSample]:
        """Samples with start <= timestamp < end, oldest first, at most ``limit``."""
        ...

    def aggregate(
        self,
        tenant_id: str,
        device_id: str,
        measure: str,
        start: float,
        end: float,
        bucket_seconds: int,
    ) -> list[Bucket]:
        """Buckets aligned to multiples of ``bucket_seconds`` since the epoch; no empty ones."""
        ...


class DeadLetterStore(Protocol):
    def add(self, letters: Sequence[DeadLetter]) -> None: ...

    def list(
        self, tenant_id: str, *, after_id: int = 0, limit: int = 100
    ) -> list[tuple[int, DeadLetter]]:
        """A tenant's dead letters, oldest first, with their ids for paging."""
        ...

    def count(self, tenant_id: str | None = None) -> int: ...


class IngestMetrics(Protocol):
    """Operational counters of the ingest path (Prometheus locally, CloudWatch EMF on AWS)."""

    def observe_batch(
        self,
        accepted: int,
        rejected_by_code: dict[str, int],
        batch_seconds: float,
        queue_depth: int,
        latencies_s: Sequence[float],
    ) -> None: ...


class StreamPublisher(Protocol):
    """Puts raw device records on the ingest stream (Kinesis on AWS, a queue locally).

    ``publish`` returns once every record is accepted by the stream; records the stream
    refused are retried, never dropped (an exception means the caller must retry).
    """

    def publish(self, records: Sequence[RawRecord]) -> None: ...


class DeviceGateway(Protocol):
    """Device identities and configuration on the device-facing side (broker / IoT Core)."""

    def provision(self, tenant_id: str, device_id: str) -> dict[str, str]:
        """Create the device's broker identity; returns what the device needs to connect."""
        ...

    def publish_desired(
        self, tenant_id: str, device_id: str, config: dict[str, object]
    ) -> None: ...

    def reported(self, tenant_id: str, device_id: str) -> dict[str, object]: ...

    def deprovision(self, tenant_id: str, device_id: str) -> None: ...


class ArchiveStore(Protocol):
    """Cold storage of data leaving the hot store (local folder of files, S3 on AWS).

    Keys are always under the tenant's own prefix: ``put(tenant, name, data)``.
    """

    def put(self, tenant_id: str, name: str, data: bytes) -> str: ...

    def get(self, tenant_id: str, name: str) -> bytes: ...

    def list(self, tenant_id: str, prefix: str = "") -> list[str]: ...

    def delete_tenant(self, tenant_id: str) -> int: ...


@attrs.frozen
class Notification:
    """One message to one recipient on one channel; ``idempotency_key`` is stable per alert
    transition and recipient, so a redelivery can be recognised by the receiver."""

    channel: str  # "email", "sms", "slack", "webhook", "in_app"
    recipient: str  # address, phone number, URL or tenant id
    subject: str
    body: str
    idempotency_key: str
    payload: dict[str, object] = attrs.field(factory=dict)


class Notifier(Protocol):
    def send(self, notification: Notification) -> None:
        """Deliver or raise; the caller (the outbox dispatcher) retries with back-off."""
        ...


# --- analytics: rollups, telemetry lifecycle (retention, erasure) --------------------------

ROLLUP_WIDTHS = (60, 3600, 86_400)  # 1 minute, 1 hour, 1 day; aligned to the epoch (UTC)


@attrs.define(slots=True)
class RollupBucket:
    """One numeric measure over ``[start, start + width)``: the ``Bucket`` statistics plus
    when the first and last values were taken and ``increase``, the reset-aware growth of a
    cumulative counter between consecutive samples of the bucket (a drop counts the new
    value, as a counter restarted from zero). Not frozen: queries build thousands, and a
    frozen class pays a ``object.__setattr__`` per field."""

    start: float
    count: int
    minimum: float
    maximum: float
    total: float
    first: float
    last: float
    first_at: float
    last_at: float
    increase: float

    @property
    def average(self) -> float:
        return self.total / self.count if self.count else 0.0

    def to_bucket(self) -> Bucket:
        return Bucket(
            self.start, self.count, self.minimum, self.maximum, self.total, self.first, self.last
        )


@attrs.frozen(slots=True)
class StateBucket:
    """One enum measure (a machine's ``state``) over ``[start, start + width)``: samples
    per value, and seconds each value held (a sample holds until the next one, at most the
    store's ``hold_s``)."""

    start: float
    counts: dict[str, int]
    seconds: dict[str, float]


@attrs.define(slots=True)
class BucketMeans:
    """One measure's buckets, oldest first, as columns: start, average, sample count. Lists
    of numbers, which the garbage collector does not track: a month of hours is three lists,
    not thousands of objects kept alive through a query (and its collector pauses)."""

    starts: list[float] = attrs.field(factory=list)
    means: list[float] = attrs.field(factory=list)
    counts: list[int] = attrs.field(factory=list)

    def add(self, start: float, mean: float, count: int) -> None:
        self.starts.append(start)
        self.means.append(mean)
        self.counts.append(count)


class RollupStore(Protocol):
    """1-minute, 1-hour and 1-day rollups per (device, measure), kept current from stored
    batches (``on_stored`` is the ingest pipeline's after-store hook). Answers equal the same
    aggregation over the raw samples, for any ``[start, end)``: whole buckets come from the
    rollup of that width, partial edge buckets from finer rollups and raw samples."""

    def on_stored(self, samples: Sequence[DeviceSample]) -> None: ...

    def flush(self) -> int:
        """Recompute every bucket touched since the last flush; returns buckets written."""
        ...

    def buckets(
        self, tenant_id: str, device_id: str, measure: str, start: float, end: float, width: int
    ) -> list[RollupBucket]: ...

    def state_buckets(
        self, tenant_id: str, device_id: str, measure: str, start: float, end: float, width: int
    ) -> list[StateBucket]: ...

    def means(
        self,
        tenant_id: str,
        device_id: str,
        measures: Sequence[str],
        start: float,
        end: float,
        width: int,
    ) -> dict[str, BucketMeans]:
        """Per measure, the start, average and count of each of its ``buckets`` (empty
        columns for a measure without data): the same numbers, several measures in one read
        and without the other statistics, for long ranges read often (air quality)."""
        ...


@attrs.frozen(slots=True)
class SeriesInfo:
    """One stored series: a device's samples of one sensor type, and their time span."""

    tenant_id: str
    device_id: str
    sensor_type: str
    site_id: str
    first_ts: float | None
    last_ts: float | None


class TelemetryLifecycle(Protocol):
    """What retention and erasure need of the telemetry store beyond ``TelemetryStore``.

    ``delete_raw_before`` and ``delete_rollups_before`` remove one tenant's rows older than
    ``before``; ``erase`` removes a tenant's (or one device's) samples, series, latest values
    and rollups; ``compact`` makes deleted bytes unrecoverable from the file (secure delete
    and VACUUM).
    """

    def series(self, tenant_id: str) -> list[SeriesInfo]: ...

    def delete_raw_before(self, tenant_id: str, before: float) -> int: ...

    def delete_rollups_before(self, tenant_id: str, before: float) -> int: ...

    def erase(self, tenant_id: str, device_id: str | None = None) -> int: ...

    def compact(self) -> None: ...


class TenantDataPurger(Protocol):
    """Removes one tenant's (or one device's) rows from a store that has no erase method of
    its own (the event store, dead letters, credentials), then compacts its file."""

    def purge(self, tenant_id: str, device_id: str | None = None) -> int: ...
