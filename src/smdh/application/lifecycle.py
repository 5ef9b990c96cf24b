"""Data lifecycle: retention (archive, then delete) and GDPR erasure.

**Retention** (``RetentionJob.run``, scheduled daily): per tenant, raw samples older than
``raw_days`` whole UTC days are first written to the ``ArchiveStore`` as one Parquet file per
(sensor type, UTC day), ``raw/<type>/<YYYY-MM-DD>.parquet`` (columns ``device_id``,
``site_id``, ``ts`` and one per measure; a file already there is merged, so a rerun or late
data never loses rows), and only then deleted from the hot store. Rollups older than
``rollup_days`` are deleted (they are derived data; the archive keeps the raw rows).

**Erasure** (``Eraser``): a tenant, or one device of it. Telemetry (samples, latest values,
rollups, series), archives (removed; for a device, rewritten without its rows), dead
letters, credentials and the event store: its events are *removed*, not tombstoned, since a
tombstone would have to name the tenant. The tenant's users and e-mail addresses exist only
in those events (passwords only in the credential store), so nothing personal survives.
Every file is then compacted (secure delete, ``VACUUM``, WAL truncated), so no byte of the
erased data remains in any file of the data directory. The in-process projections forget
the tenant at once; another running process forgets it when it restarts (its projections
replay a store in which the tenant never existed).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from smdh.application.ports import (
    ArchiveStore,
    Clock,
    CredentialStore,
    TelemetryLifecycle,
    TelemetryStore,
    TenantDataPurger,
)
from smdh.application.projections import DeviceRegistry, TenantDirectory
from smdh.domain.sensors.registry import SensorRegistry
from smdh.domain.shared.events import EventContext
from smdh.domain.shared.ids import TenantId
from smdh.domain.tenancy import tenant as t

log = logging.getLogger(__name__)
DAY = 86_400
_PAGE = 20_000


@attrs.frozen
class RetentionReport:
    tenant_id: str
    archived_files: tuple[str, ...]
    raw_deleted: int
    rollups_deleted: int


def day_name(sensor_type: str, day_start: float) -> str:
    return f"raw/{sensor_type}/{datetime.fromtimestamp(day_start, UTC).date().isoformat()}.parquet"


def to_parquet(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """Rows as one Parquet file (zstd); ``ts`` a float, other columns strings or numbers."""
    import pyarrow as pa  # type: ignore[import-untyped]  # noqa: PLC0415 - heavy, on demand
    import pyarrow.parquet as pq  # type: ignore[import-untyped]  # noqa: PLC0415

    data = list(zip(*rows, strict=True)) or [() for _ in columns]
    arrays = [pa.array(list(col)) if len(col) else pa.array([], pa.string()) for col in data]
    table = pa.Table.from_arrays(arrays, names=list(columns))
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def read_parquet(data: bytes) -> tuple[list[str], list[tuple[Any, ...]]]:
    """An archive file's column names and rows (for merging, device erasure and tests)."""
    import pyarrow.parquet as pq  # noqa: PLC0415

    table = pq.read_table(io.BytesIO(data))
    columns = [str(n) for n in table.column_names]
    values = [table.column(n).to_pylist() for n in columns]
    return columns, list(zip(*values, strict=True))


class RetentionJob:
    def __init__(
        self,
        *,
        directory: TenantDirectory,
        telemetry: TelemetryStore,
        lifecycle: TelemetryLifecycle,
        archive: ArchiveStore,
        sensors: SensorRegistry,
        clock: Clock,
    ) -> None:
        self._directory = directory
        self._telemetry = telemetry
        self._lifecycle = lifecycle
        self._archive = archive
        self._sensors = sensors
        self._clock = clock

    def run(self) -> list[RetentionReport]:
        """Apply every tenant's policy once (the scheduler calls this daily)."""
        reports = []
        for entry in list(self._directory.tenants.values()):
            if entry.status is t.TenantStatus.ERASED:
                continue
            reports.append(self.run_tenant(entry.tenant_id, entry.retention))
        return reports

    def run_tenant(self, tenant_id: str, policy: t.RetentionPolicy) -> RetentionReport:
        now = self._clock.now().timestamp()
        raw_cutoff = (now - policy.raw_days * DAY) // DAY * DAY
        files: list[str] = []
        series = [s for s in self._lifecycle.series(tenant_id) if s.first_ts is not None]
        for type_name in sorted({s.sensor_type for s in series}):
            mine = [s for s in series if s.sensor_type == type_name]
            first = min(s.first_ts or now for s in mine)
            day = first // DAY * DAY
            while day < raw_cutoff:
                name = self._archive_day(tenant_id, type_name, mine, day)
                if name is not None:
                    files.append(name)
                day += DAY
        raw_deleted = self._lifecycle.delete_raw_before(tenant_id, raw_cutoff)
        rollups = self._lifecycle.delete_rollups_before(tenant_id, now - policy.rollup_days * DAY)
        log.info("retention %s: %d files, %d raw rows", tenant_id, len(files), raw_deleted)
        return RetentionReport(tenant_id, tuple(files), raw_deleted, rollups)

    def _archive_day(
        self, tenant_id: str, type_name: str, series: Sequence[Any], day: float
    ) -> str | None:
        sensor_type = self._sensors.get(type_name)
        measures = list(sensor_type.measure_names())
        columns = ["device_id", "site_id", "ts", *measures]
        rows: list[tuple[Any, ...]] = []
        for s in sorted(series, key=lambda s: s.device_id):
            cursor = day
            while cursor < day + DAY:
                page = self._telemetry.query_range(
                    tenant_id, s.device_id, cursor, day + DAY, measures, _PAGE
                )
                rows += [
                    (p.device_id, p.site_id, p.timestamp, *(p.values.get(m) for m in measures))
                    for p in page
                    if p.sensor_type == type_name
                ]
                if len(page) < _PAGE:
                    break
                cursor = page[-1].timestamp + 1e-6
        if not rows:
            return None
        name = day_name(type_name, day)
        if name in self._archive.list(tenant_id, f"raw/{type_name}/"):
            old_columns, old_rows = read_parquet(self._archive.get(tenant_id, name))
            seen = {(r[0], r[2]) for r in rows}
            index = {c: i for i, c in enumerate(old_columns)}
            rows += [
                tuple(r[index[c]] if c in index else None for c in columns)
                for r in old_rows
                if (r[index["device_id"]], r[index["ts"]]) not in seen
            ]
        rows.sort(key=lambda r: (r[0], r[2]))
        self._archive.put(tenant_id, name, to_parquet(columns, rows))
        return name


@attrs.frozen
class ErasureReport:
    tenant_id: str
    device_id: str | None
    telemetry_rows: int
    archives: int
    purged_rows: int


class Eraser:
    def __init__(
        self,
        *,
        directory: TenantDirectory,
        devices: DeviceRegistry,
        lifecycle: TelemetryLifecycle,
        archive: ArchiveStore,
        credentials: CredentialStore,
        purgers: Sequence[TenantDataPurger],
        clock: Clock,
    ) -> None:
        self._directory = directory
        self._devices = devices
        self._lifecycle = lifecycle
        self._archive = archive
        self._credentials = credentials
        self._purgers = tuple(purgers)
        self._clock = clock

    def erase_tenant(self, tenant_id: str) -> ErasureReport:
        telemetry = self._lifecycle.erase(tenant_id)
        archives = self._archive.delete_tenant(tenant_id)
        self._credentials.delete_tenant(tenant_id)
        purged = sum(p.purge(tenant_id) for p in self._purgers)
        self._lifecycle.compact()
        self._forget(tenant_id)
        return ErasureReport(tenant_id, None, telemetry, archives, purged)

    def erase_device(self, tenant_id: str, device_id: str) -> ErasureReport:
        telemetry = self._lifecycle.erase(tenant_id, device_id)
        rewritten = 0
        for name in self._archive.list(tenant_id):
            columns, rows = read_parquet(self._archive.get(tenant_id, name))
            if "device_id" not in columns:
                continue
            at = columns.index("device_id")
            kept = [r for r in rows if r[at] != device_id]
            if len(kept) != len(rows):
                self._archive.put(tenant_id, name, to_parquet(columns, kept))
                rewritten += 1
        purged = sum(p.purge(tenant_id, device_id) for p in self._purgers)
        self._lifecycle.compact()
        # rules scoped to the device went with its events (the event store's purger)
        self._directory.forget_device_rules(tenant_id, device_id)
        return ErasureReport(tenant_id, device_id, telemetry, rewritten, purged)

    def _forget(self, tenant_id: str) -> None:
        """The in-process read models drop the tenant, as on ``TenantErasureCompleted``."""
        entry = self._directory.tenant(tenant_id)
        version = 0 if entry is None else entry.version
        event = t.TenantErasureCompleted(
            aggregate_id=t.tenant_aggregate_id(TenantId(tenant_id)),
            version=version + 1,
            occurred_at=self._clock.now(),
            tenant_id=tenant_id,
            actor=EventContext(self._clock.now(), "system:erasure").actor,
        )
        self._directory.apply(event)
        self._devices.apply(event)
