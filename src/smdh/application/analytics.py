"""Analytics orchestration: OEE, energy and cost, air quality and jobs for a tenant.

The numbers come from the pure functions of ``smdh.domain.metrics``; this module only finds
the devices (tenant-scoped registry), reads their data and feeds them in:

* **OEE** per machine and site, per site-local hour, day, shift occurrence or in total.
  Ranges up to ``raw_limit_s`` (6 h) read raw state and counter samples and run
  ``oee_by_buckets`` as is; longer ranges read the rollups: state seconds per 1-hour (or
  1-minute, when shifts or the zone do not fall on whole hours) bucket and counter
  increases, placed in the same planned-time cells. Microstops are raw-path only.
* **Energy** per meter and site from ``kwh_cumulative`` 1-hour rollups (reset-aware
  increases), costed with the site's tariff (``smdh.application.tariffs``).
* **Air quality** from 1-hour PM2.5/PM10 rollups: hourly means, NowCast AQI, daily AQI
  (site-local days) and the indoor index of hourly CO2/VOC means.
* **Jobs** from raw ``job_scan`` samples: current location, dwell, WIP, idle jobs, lead times.

Every method takes the tenant from the caller (the verified principal) and never reads
another tenant's devices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import attrs

from smdh.application.analytics_support import (
    MAX_GAP_S,
    AirRow,
    Locator,
    Period,
    air_rows,
    aligned_width,
    check_range,
    clip,
    counter_intervals,
    increments,
)
from smdh.application.ports import RollupStore, TelemetryStore
from smdh.application.projections import DeviceEntry, DeviceRegistry, SiteEntry, TenantDirectory
from smdh.application.tariffs import TariffCatalogue
from smdh.domain.metrics import air_quality as aq
from smdh.domain.metrics import calendar as cal
from smdh.domain.metrics import energy as en
from smdh.domain.metrics import jobs as jb
from smdh.domain.metrics import oee as oe
from smdh.domain.shared.errors import NotFound
from smdh.domain.telemetry import DeviceSample

Group = Literal["hour", "day", "shift", "month", "total"]
_PAGE = 50_000
_AIR = ("pm25_ugm3", "pm10_ugm3", "co2_ppm", "voc_ppb")


@attrs.frozen
class OeeRow:
    device_id: str | None  # None: the site's combined result
    site_id: str
    period: Period
    result: oe.OeeResult


@attrs.frozen
class EnergyRow:
    device_id: str | None
    site_id: str
    period: Period
    cost: en.CostResult
    tariff: str


@attrs.frozen
class JobsOverview:
    current: dict[str, jb.Visit]
    dwell: dict[str, jb.DwellStats]
    wip: dict[str, int]
    idle: list[jb.IdleJob]
    lead_times: list[jb.RouteLeadTime]
    duplicates: int


class Analytics:
    def __init__(
        self,
        *,
        directory: TenantDirectory,
        devices: DeviceRegistry,
        telemetry: TelemetryStore,
        rollups: RollupStore,
        tariffs: TariffCatalogue | None = None,
        raw_limit_s: float = 6 * 3600,
    ) -> None:
        self._directory = directory
        self._devices = devices
        self._telemetry = telemetry
        self._rollups = rollups
        self._tariffs = tariffs or TariffCatalogue()
        self._raw_limit_s = raw_limit_s

    @property
    def telemetry(self) -> TelemetryStore:
        return self._telemetry

    # --- shared ------------------------------------------------------------------------

    def _site(self, tenant_id: str, site_id: str) -> SiteEntry:
        site = self._directory.site(tenant_id, site_id)
        if site is None:
            raise NotFound(f"site {site_id} not found")
        return site

    def _targets(
        self, tenant_id: str, sensor_type: str, site_id: str | None, device_id: str | None
    ) -> list[tuple[SiteEntry, list[DeviceEntry]]]:
        if device_id is not None:
            entry = self._devices.lookup(tenant_id, device_id)
            if entry is None or entry.sensor_type != sensor_type:
                raise NotFound(f"{sensor_type} device {device_id} not found")
            return [(self._site(tenant_id, entry.site_id), [entry])]
        sites = (
            [self._site(tenant_id, site_id)]
            if site_id is not None
            else self._directory.list_sites(tenant_id)
        )
        found = self._devices.list(tenant_id, sensor_type=sensor_type)
        return [(s, [d for d in found if d.site_id == s.site_id]) for s in sites]

    def raw(
        self, entry: DeviceEntry, measure: str | None, start: float, end: float
    ) -> list[DeviceSample]:
        """A device's samples in ``[start, end)`` (only ``measure``, or all), paged."""
        out: list[DeviceSample] = []
        cursor = start
        while cursor < end:
            page = self._telemetry.query_range(
                entry.tenant_id,
                entry.device_id,
                cursor,
                end,
                None if measure is None else [measure],
                _PAGE,
            )
            out += page
            if len(page) < _PAGE:
                return out
            cursor = math.nextafter(page[-1].timestamp, math.inf)
        return out

    def periods(self, site: SiteEntry, start: float, end: float, group: Group) -> list[Period]:
        """The site-local periods of ``[start, end)``, clipped to it."""
        tz = site.details.timezone
        if group == "total":
            return [Period("total", start, end)]
        if group == "shift":
            found = cal.shift_instances(site.details.shifts, tz, start, end)
            items = [(i.label, i.start, i.end) for i in found]
        else:
            found_b = cal.local_buckets(tz, start, end, group)
            items = [(b.label, b.start, b.end) for b in found_b]
        return [Period(label, max(s, start), min(e, end)) for label, s, e in items]

    # --- OEE -----------------------------------------------------------------------------

    def oee(
        self,
        tenant_id: str,
        start: float,
        end: float,
        group: Group = "hour",
        *,
        site_id: str | None = None,
        device_id: str | None = None,
    ) -> list[OeeRow]:
        check_range(start, end)
        rows: list[OeeRow] = []
        for site, machines in self._targets(tenant_id, "machine", site_id, device_id):
            periods = self.periods(site, start, end, group)
            windows = [(p.start, p.end) for p in periods]
            shifts = site.details.shifts
            planned = (
                cal.planned_intervals(shifts, site.details.timezone, start, end)
                if shifts
                else [(start, end)]
            )
            per_machine = [
                (m.device_id, self._machine_oee(m, planned, windows, start, end)) for m in machines
            ]
            for device, results in per_machine:
                rows += [
                    OeeRow(device, site.site_id, p, r)
                    for p, r in zip(periods, results, strict=True)
                ]
            if device_id is None:
                for i, p in enumerate(periods):
                    combined = oe.combine(results[i] for _, results in per_machine)
                    rows.append(OeeRow(None, site.site_id, p, combined))
        return rows

    def _machine_oee(
        self,
        machine: DeviceEntry,
        planned: Sequence[cal.Interval],
        windows: list[cal.Interval],
        start: float,
        end: float,
    ) -> list[oe.OeeResult]:
        ideal = machine.ideal_cycle_time_s
        width = aligned_width(planned, windows)
        if end - start <= self._raw_limit_s or width is None:
            states = [
                (s.timestamp, str(s.values["state"]))
                for s in self.raw(machine, "state", start - MAX_GAP_S, end)
            ]

            def counter(measure: str) -> list[tuple[float, int]]:
                rows = self.raw(machine, measure, start - 3600, end)
                return [(s.timestamp, int(s.values[measure])) for s in rows]

            return oe.oee_by_buckets(
                states, counter("cycle_count"), counter("scrap_count"),
                ideal_cycle_time_s=ideal, planned=planned, buckets=windows,
            )  # fmt: skip
        cells = cal.merge(planned)
        t, d = machine.tenant_id, machine.device_id
        held_by = self._rollups.state_buckets(t, d, "state", start, end, width)
        lo = start - width
        produced = increments(self._rollups.buckets(t, d, "cycle_count", lo, end, width), start)
        scrap = increments(self._rollups.buckets(t, d, "scrap_count", lo, end, width), start)
        n = len(windows)
        held = [dict.fromkeys(("running", "idle", "offline"), 0.0) for _ in range(n)]
        made, bad = [0] * n, [0] * n
        locate = Locator(cells, windows)
        for b in held_by:
            i = locate(b.start)
            if i is not None:
                for key, secs in b.seconds.items():
                    held[i][key] = held[i].get(key, 0.0) + secs
        for counts, into in ((produced, made), (scrap, bad)):
            for ts, grown in counts:
                i = locate(ts)
                if i is not None:
                    into[i] += grown
        results: list[oe.OeeResult] = []
        for i, (w0, w1) in enumerate(windows):
            planned_s = cal.total_seconds(cal.intersect(cells, [(w0, w1)]))
            run, idle, off = held[i]["running"], held[i]["idle"], held[i]["offline"]
            results.append(
                oe.OeeResult(
                    calendar_s=w1 - w0, planned_s=planned_s, run_s=run, idle_s=idle,
                    offline_s=off, unknown_s=max(planned_s - run - idle - off, 0.0),
                    microstop_s=0.0, microstops_count=0, produced=made[i], scrap=bad[i],
                    ideal_produced_s=None if ideal is None else ideal * made[i],
                    ideal_good_s=None if ideal is None else ideal * (made[i] - bad[i]),
                )
            )  # fmt: skip
        return results

    # --- energy --------------------------------------------------------------------------

    def energy(
        self,
        tenant_id: str,
        start: float,
        end: float,
        group: Group = "day",
        *,
        site_id: str | None = None,
        device_id: str | None = None,
    ) -> list[EnergyRow]:
        check_range(start, end)
        rows: list[EnergyRow] = []
        for site, meters in self._targets(tenant_id, "energy", site_id, device_id):
            tariff = self._tariffs.resolve(site.details.tariff_ref)
            tz = site.details.timezone
            periods = self.periods(site, start, end, group)
            per_site: list[list[en.EnergyInterval]] = [[] for _ in periods]
            for meter in meters:
                buckets = self._rollups.buckets(
                    meter.tenant_id,
                    meter.device_id,
                    "kwh_cumulative",
                    start - 3600,
                    end + 3600,
                    3600,
                )
                intervals = counter_intervals(buckets)
                for i, p in enumerate(periods):
                    part = clip(intervals, p.start, p.end)
                    per_site[i] += part
                    costed = en.cost(part, tariff, tz)
                    rows.append(EnergyRow(meter.device_id, site.site_id, p, costed, tariff.name))
            if device_id is None:
                for p, part in zip(periods, per_site, strict=True):
                    rows.append(
                        EnergyRow(None, site.site_id, p, en.cost(part, tariff, tz), tariff.name)
                    )
        return rows

    # --- air quality ---------------------------------------------------------------------

    def air_quality(
        self,
        tenant_id: str,
        start: float,
        end: float,
        group: Literal["hour", "day"] = "hour",
        *,
        site_id: str | None = None,
        device_id: str | None = None,
    ) -> list[AirRow]:
        check_range(start, end)
        rows: list[AirRow] = []
        lookback = (aq.NOWCAST_HOURS - 1) * 3600
        for site, sensors in self._targets(tenant_id, "air_quality", site_id, device_id):
            tz = site.details.timezone
            for sensor in sensors:
                means = self._rollups.means(
                    sensor.tenant_id, sensor.device_id, _AIR, start - lookback, end, 3600
                )
                hourly = {m: aq.HourlySeries(c.starts, c.means, c.counts) for m, c in means.items()}
                rows += air_rows(
                    sensor, site, hourly, self.periods(site, start, end, group), group, tz
                )
        return rows

    # --- jobs ----------------------------------------------------------------------------

    def job_history(
        self, tenant_id: str, start: float, end: float, site_id: str | None = None
    ) -> jb.JobHistory:
        check_range(start, end)
        scans: list[jb.Scan] = []
        for _, scanners in self._targets(tenant_id, "job_scan", site_id, None):
            for scanner in scanners:
                for s in self.raw(scanner, None, start, end):
                    values = s.values
                    if "job_id" in values and "location_id" in values:
                        who = str(values.get("scanner_id") or scanner.device_id)
                        scans.append(
                            (s.timestamp, str(values["job_id"]), str(values["location_id"]), who)
                        )
        return jb.build_history(scans)

    def jobs(
        self,
        tenant_id: str,
        start: float,
        now: float,
        *,
        site_id: str | None = None,
        idle_after_s: float = 4 * 3600,
        exits: Sequence[str] = (),
    ) -> JobsOverview:
        history = self.job_history(tenant_id, start, now, site_id)
        current = {job: visits[-1] for job, visits in history.visits.items() if visits}
        return JobsOverview(
            current=current,
            dwell=jb.dwell_by_location(history, now, exits),
            wip=jb.wip_at(history, now, exits),
            idle=jb.idle_jobs(history, now, idle_after_s, exits),
            lead_times=jb.lead_time_by_route(history, exits),
            duplicates=history.duplicates,
        )
