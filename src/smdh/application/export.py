"""Export (FR-10): a tenant's readings or metrics over a range as CSV or Parquet, streamed.

``Exporter.rows`` yields the rows of a dataset page by page from the stores (readings: one
page of ``page_size`` samples per device at a time; metrics: one day at a time), and
``csv_chunks`` / ``parquet_chunks`` turn rows into byte chunks as they come, so memory stays
constant for any range. Times are written in the requested zone (``UTC`` or the site's own,
``"site"``) as ISO 8601 with the offset, plus ``epoch`` seconds.

Datasets (columns):

* ``readings``: time, epoch, site_id, device_id, sensor_type, measure, value (long format:
  one row per measure, whatever the sensor type);
* ``oee``: hourly per machine; ``energy``: hourly per meter; ``air_quality``: hourly per
  sensor; ``jobs``: one row per visit of a job to a location.

Parquet needs ``pyarrow`` (imported only when asked for).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo

from smdh.application.analytics import Analytics
from smdh.application.projections import DeviceRegistry, TenantDirectory
from smdh.domain.shared.errors import ValidationError

Dataset = Literal["readings", "oee", "energy", "air_quality", "jobs"]
DATASETS: tuple[str, ...] = ("readings", "oee", "energy", "air_quality", "jobs")
COLUMNS: dict[str, tuple[str, ...]] = {
    "readings": ("time", "epoch", "site_id", "device_id", "sensor_type", "measure", "value"),
    "oee": ("time", "epoch", "site_id", "device_id", "oee", "availability", "performance",
            "quality", "planned_s", "run_s", "produced", "scrap"),
    "energy": ("time", "epoch", "site_id", "device_id", "kwh", "cost", "currency", "tariff"),
    "air_quality": ("time", "epoch", "site_id", "device_id", "pm25_ugm3", "pm10_ugm3", "aqi",
                    "aqi_category", "indoor_level"),
    "jobs": ("time", "epoch", "job_id", "location_id", "left", "dwell_s", "scans"),
}  # fmt: skip
Progress = Callable[[float], None]  # fraction of the range done, 0..1
DAY = 86_400
CHUNK_BYTES = 64 * 1024


class Exporter:
    def __init__(
        self,
        analytics: Analytics,
        devices: DeviceRegistry,
        directory: TenantDirectory,
        page_size: int = 5000,
    ) -> None:
        self._analytics = analytics
        self._devices = devices
        self._directory = directory
        self._page = page_size

    def _zone(self, tenant_id: str, site_id: str, timezone: str) -> tzinfo:
        if timezone != "site":
            return UTC
        site = self._directory.site(tenant_id, site_id)
        return ZoneInfo(site.details.timezone) if site is not None else UTC

    def rows(
        self,
        tenant_id: str,
        dataset: str,
        start: float,
        end: float,
        timezone: str = "UTC",
        progress: Progress | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """The dataset's rows in order, produced lazily (see the module docstring)."""
        if dataset not in DATASETS:
            raise ValidationError(f"dataset must be one of {', '.join(DATASETS)}")
        if not (math.isfinite(start) and math.isfinite(end)) or start >= end:
            raise ValidationError("the range must have a start before its end")
        if timezone not in ("UTC", "site"):
            raise ValidationError("timezone must be UTC or site")
        report = progress or (lambda _fraction: None)
        if dataset == "readings":
            yield from self._readings(tenant_id, start, end, timezone, report)
        elif dataset == "jobs":
            yield from self._jobs(tenant_id, start, end, timezone)
        else:
            yield from self._metrics(tenant_id, dataset, start, end, timezone, report)
        report(1.0)

    def _stamp(self, ts: float, zone: tzinfo) -> tuple[str, float]:
        return datetime.fromtimestamp(ts, zone).isoformat(), ts

    def _readings(
        self, tenant_id: str, start: float, end: float, timezone: str, report: Progress
    ) -> Iterator[tuple[Any, ...]]:
        devices = self._devices.list(tenant_id)
        telemetry = self._analytics.telemetry
        for n, device in enumerate(devices):
            zone = self._zone(tenant_id, device.site_id, timezone)
            cursor = start
            while cursor < end:
                page = telemetry.query_range(
                    tenant_id, device.device_id, cursor, end, None, self._page
                )
                for s in page:
                    stamp = self._stamp(s.timestamp, zone)
                    for measure, value in sorted(s.values.items()):
                        yield (*stamp, s.site_id, s.device_id, s.sensor_type, measure, value)
                if len(page) < self._page:
                    break
                cursor = math.nextafter(page[-1].timestamp, math.inf)
                report((n + (cursor - start) / (end - start)) / len(devices))
            report((n + 1) / len(devices))

    def _metrics(
        self,
        tenant_id: str,
        dataset: str,
        start: float,
        end: float,
        timezone: str,
        report: Progress,
    ) -> Iterator[tuple[Any, ...]]:
        cursor = start
        while cursor < end:
            stop = min(end, (math.floor(cursor / DAY) + 1) * DAY)
            yield from self._metric_rows(tenant_id, dataset, cursor, stop, timezone)
            cursor = stop
            report((cursor - start) / (end - start))

    def _metric_rows(
        self, tenant_id: str, dataset: str, start: float, end: float, timezone: str
    ) -> Iterable[tuple[Any, ...]]:
        a = self._analytics
        if dataset == "oee":
            for o in a.oee(tenant_id, start, end, "hour"):
                if o.device_id is None:
                    continue
                r = o.result
                yield (*self._stamp(o.period.start, self._zone(tenant_id, o.site_id, timezone)),
                       o.site_id, o.device_id, r.oee, r.availability, r.performance, r.quality,
                       r.planned_s, r.run_s, r.produced, r.scrap)  # fmt: skip
        elif dataset == "energy":
            for e in a.energy(tenant_id, start, end, "hour"):
                if e.device_id is None:
                    continue
                yield (*self._stamp(e.period.start, self._zone(tenant_id, e.site_id, timezone)),
                       e.site_id, e.device_id, e.cost.kwh, e.cost.cost, e.cost.currency,
                       e.tariff)  # fmt: skip
        else:
            for q in a.air_quality(tenant_id, start, end, "hour"):
                aqi = q.aqi
                yield (*self._stamp(q.period.start, self._zone(tenant_id, q.site_id, timezone)),
                       q.site_id, q.device_id, q.pm25, q.pm10,
                       None if aqi is None else aqi.aqi, None if aqi is None else aqi.category,
                       None if q.indoor is None else q.indoor.level)  # fmt: skip

    def _jobs(
        self, tenant_id: str, start: float, end: float, timezone: str
    ) -> Iterator[tuple[Any, ...]]:
        del timezone  # a job crosses sites: its times are UTC
        zone = UTC
        history = self._analytics.job_history(tenant_id, start, end)
        for job_id, visits in sorted(history.visits.items()):
            for v in visits:
                left = None if v.left is None else self._stamp(v.left, zone)[0]
                yield (*self._stamp(v.arrived, zone), job_id, v.location_id, left,
                       v.dwell_s(end), v.scans)  # fmt: skip


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """CSV (RFC 4180, UTF-8, ``\\r\\n``) in chunks of about ``CHUNK_BYTES``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


class _Sink(io.RawIOBase):
    """A write-only file that hands out what was written since the last ``drain``."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def drain(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def parquet_chunks(
    header: Sequence[str], rows: Iterable[Sequence[Any]], row_group: int = 50_000
) -> Iterator[bytes]:
    """Parquet written one row group at a time; every column as text except ``epoch``."""
    import pyarrow as pa  # type: ignore[import-untyped]  # noqa: PLC0415 - heavy, on demand
    import pyarrow.parquet as pq  # type: ignore[import-untyped]  # noqa: PLC0415

    fields = [pa.field(n, pa.float64() if n == "epoch" else pa.string()) for n in header]
    schema = pa.schema(fields)
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    batch: list[Sequence[Any]] = []

    def flush() -> None:
        columns = list(zip(*batch, strict=True)) if batch else [() for _ in header]
        arrays = [
            pa.array(
                [None if v is None else (float(v) if f.name == "epoch" else str(v)) for v in col],
                type=f.type,
            )
            for f, col in zip(fields, columns, strict=True)
        ]
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) >= row_group:
            flush()
            yield sink.drain()
    if batch:
        flush()
    writer.close()
    yield sink.drain()
