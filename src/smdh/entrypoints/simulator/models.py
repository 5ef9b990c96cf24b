"""Simulated devices: pure models (no I/O, no clock) emitting payloads the sensor modules parse.

``next_samples(now)`` returns every sample due at or before ``now`` (epoch seconds), oldest
first. Each model draws from its own ``random.Random`` seeded from the run seed and a CRC-32
of tenant and device id: the same seed and start give the same payloads, whatever the device
order, wall clock or transport. Work hours (``Schedule``, site-local): Mon-Fri 06-22, Sat
06-14 at 60 %, a 10 % skeleton crew otherwise.
"""

from __future__ import annotations

import heapq
import math
import random
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

Sample = dict[str, object]
DAY_S = 86_400.0
WEEK_S = 7 * DAY_S
SQRT3 = math.sqrt(3.0)
MACHINE_PERIOD_S = 1.0
ENERGY_PERIOD_S = 15.0
AIR_PERIOD_S = 60.0
ROUTE = ("receiving", "cnc", "assembly", "qa", "shipping")
# seconds a job spends after being scanned at a location before it reaches the next one
DWELL_S = {"cnc": (1200.0, 5400.0), "assembly": (900.0, 3600.0)}  # others: 300-1800 s
RFID_LOCATIONS = frozenset({"receiving", "shipping"})  # portals read tags; stations scan labels
ERROR_CODES = ("E-STOP", "F-104", "F-221", "TOOL-BREAK", "DOOR-OPEN", "7003")
MACHINE_LAG_S = {"running": 1200.0, "idle": 1800.0, "offline": 2400.0}  # temperature lags


def stable_rng(seed: int, key: str) -> random.Random:
    """A generator for one device or route: the seed and a CRC-32 of ``key`` (never hash())."""
    return random.Random(seed * 4_294_967_296 + zlib.crc32(key.encode()))  # noqa: S311 - simulation, not security


def _clip(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def _alpha(dt: float, tau: float) -> float:
    return 1.0 - math.exp(-dt / tau)


@dataclass(frozen=True)
class Schedule:
    """Work hours in a site's local time, given as a fixed UTC offset."""

    utc_offset_s: float = 0.0
    shift_start_h: float = 6.0
    shift_end_h: float = 22.0
    saturday_end_h: float = 14.0

    def local(self, t: float) -> tuple[int, float]:  # (weekday, Monday = 0; hour of day)
        local = t + self.utc_offset_s
        days = math.floor(local / DAY_S)
        return (days + 3) % 7, (local - days * DAY_S) / 3600.0  # 1970-01-01 was a Thursday

    def intensity(self, t: float) -> float:
        """How busy the site is: 1 in a weekday shift, 0.6 on Saturday morning, else 0.1."""
        weekday, hour = self.local(t)
        if self.shift_start_h <= hour < self.shift_end_h:
            if weekday < 5:
                return 1.0
            if weekday == 5 and hour < self.saturday_end_h:
                return 0.6
        return 0.1


class DeviceModel(Protocol):
    device_id: str
    sensor_type: str
    kind: str  # "telemetry" or "scan": the topic the samples go to

    def next_samples(self, now: float) -> list[Sample]: ...


class _Periodic:
    """A device sampling every ``period`` seconds from ``start`` on."""

    kind = "telemetry"
    sensor_type = ""
    period = 1.0

    def __init__(self, device_id: str, rng: random.Random, start: float, schedule: Schedule):
        self.device_id, self._rng, self._start, self._schedule = device_id, rng, start, schedule
        self._n = 0  # samples taken; the next is due at start + n * period (no float drift)

    def next_samples(self, now: float) -> list[Sample]:
        out: list[Sample] = []
        due = self._start + self._n * self.period
        while due <= now:
            out.append(self._sample(due))
            self._n += 1
            due = self._start + self._n * self.period
        return out

    def _sample(self, t: float) -> Sample:
        raise NotImplementedError


class MachineModel(_Periodic):
    """Running/idle/offline Markov chain, 30 s cycles while running, 2-5 % scrap, warming up."""

    sensor_type = "machine"
    period = MACHINE_PERIOD_S
    ideal_cycle_s = 30.0

    def __init__(self, device_id: str, rng: random.Random, start: float, schedule: Schedule):
        super().__init__(device_id, rng, start, schedule)
        self._rated_w = rng.uniform(5_000, 40_000)
        self.scrap_rate = rng.uniform(0.02, 0.05)
        self._ambient = rng.uniform(19.0, 24.0)
        self._heat = rng.uniform(30.0, 50.0)  # °C above ambient when running for hours
        self._drift = 0.0  # slow wander of the running temperature (tool wear, coolant)
        self._cycles = rng.randrange(0, 200_000)
        self._scrap = int(self._cycles * self.scrap_rate)
        self._temp = self._ambient + 3.0
        self.state = "idle"
        self._until = start + rng.uniform(0, 300)
        self._error: str | None = None
        self._next_cycle = math.inf
        self._lag = {state: _alpha(self.period, tau) for state, tau in MACHINE_LAG_S.items()}

    def _enter(self, t: float, state: str, duration: float) -> None:
        self.state, self._until = state, t + duration
        self._next_cycle = t + self._cycle_time() if state == "running" else math.inf

    def _cycle_time(self) -> float:
        return self.ideal_cycle_s * max(0.95, self._rng.gauss(1.08, 0.05))

    def _transition(self, t: float) -> None:
        rng, busy = self._rng, self._schedule.intensity(t)
        self._drift = _clip(self._drift + rng.gauss(0, 1.5), -5.0, 8.0)
        if self.state == "running":
            if rng.random() < 0.08:  # ~1 stop a day; rarely longer than the 15 min alert
                long_stop = rng.random() < 0.08
                down = rng.uniform(900, 2700) if long_stop else rng.uniform(60, 840)
                self._error = rng.choice(ERROR_CODES) if rng.random() < 0.7 else None
                self._enter(t, "offline", down)
            else:
                self._enter(t, "idle", max(30.0, rng.expovariate(1 / (360 + 1440 * (busy < 0.5)))))
            return
        if self.state == "offline":  # back on: a short setup before production resumes
            self._error = None
            self._enter(t, "idle", rng.uniform(60, 300))
        elif rng.random() < busy * 0.97:
            self._enter(t, "running", max(120.0, rng.expovariate(1 / 2400)))
        else:
            self._enter(t, "idle", max(60.0, rng.expovariate(1 / 1800)))

    def _sample(self, t: float) -> Sample:
        rng = self._rng
        if t >= self._until:
            self._transition(t)
        state = self.state
        while self._next_cycle <= t:
            self._cycles += 1
            if rng.random() < self.scrap_rate:
                self._scrap += 1
            self._next_cycle += self._cycle_time()
        if state == "running":
            target = self._ambient + self._heat + self._drift
            power = self._rated_w * max(0.0, rng.gauss(0.85, 0.05))
        elif state == "idle":
            target = self._ambient + 0.25 * self._heat
            power = self._rated_w * max(0.0, rng.gauss(0.12, 0.005))
        else:
            target, power = self._ambient, 0.0
        self._temp += (target - self._temp) * self._lag[state] + rng.gauss(0, 0.03)
        sample: Sample = {"timestamp": round(t, 3), "state": state, "power_watts": round(power, 1)}
        sample.update(temperature_c=round(self._temp, 2), cycle_count=self._cycles)
        sample["scrap_count"] = self._scrap
        if self._error is not None:
            sample["error_code"] = self._error
        return sample


class EnergyMeterModel(_Periodic):
    """Three-phase 400 V meter: current follows the site's load, kWh integrates V·I·PF·√3."""

    sensor_type = "energy"
    period = ENERGY_PERIOD_S
    reset_probability = ENERGY_PERIOD_S / WEEK_S  # a meter reset about once a simulated week

    def __init__(self, device_id: str, rng: random.Random, start: float, schedule: Schedule):
        super().__init__(device_id, rng, start, schedule)
        self._rated_a = rng.uniform(60.0, 250.0)
        self._kwh = rng.uniform(1_000.0, 80_000.0)
        self._pf_full = rng.uniform(0.90, 0.97)
        self._v_bias = rng.uniform(-0.008, 0.008)
        self._load = 0.1 + 0.75 * schedule.intensity(start)
        self._lag = _alpha(self.period, 900)

    def _sample(self, t: float) -> Sample:
        rng = self._rng
        target = 0.05 + 0.8 * self._schedule.intensity(t)
        load = self._load + (target - self._load) * self._lag + rng.gauss(0, 0.01)
        self._load = load = _clip(load, 0.03, 1.1)
        hour = self._schedule.local(t)[1]
        swing = 0.006 * math.cos(2 * math.pi * (hour - 3) / 24)  # the grid sags by day
        voltage = round(_clip(400 * (1 + self._v_bias + swing + rng.gauss(0, 0.002)), 392, 408), 1)
        current = round(self._rated_a * self._load * (1 + rng.gauss(0, 0.01)), 2)
        pf = _clip(self._pf_full - 0.12 * (1 - self._load) + rng.gauss(0, 0.004), 0.80, 0.98)
        pf = round(pf, 3)
        self._kwh += SQRT3 * voltage * current * pf * self.period / 3_600_000
        if rng.random() < self.reset_probability:
            self._kwh = 0.0
        sample: Sample = {"timestamp": round(t, 3), "voltage": voltage, "current": current}
        sample.update(power_factor=pf, phases=3, kwh_cumulative=round(self._kwh, 3))
        return sample


class AirQualityModel(_Periodic):
    """CO2 following occupancy (peaks 1,000-1,400 ppm), bumps, ~1 spike > 5,000 ppm a day."""

    sensor_type = "air_quality"
    period = AIR_PERIOD_S
    spike_probability = AIR_PERIOD_S / DAY_S
    bump_probability = 4 * AIR_PERIOD_S / DAY_S
    dust_probability = 2 * AIR_PERIOD_S / DAY_S

    def __init__(self, device_id: str, rng: random.Random, start: float, schedule: Schedule):
        super().__init__(device_id, rng, start, schedule)
        self._outdoor = rng.uniform(410.0, 440.0)
        self._amplitude = rng.uniform(600.0, 950.0)
        self._occupancy = schedule.intensity(start)
        self._co2 = self._outdoor + self._amplitude * self._occupancy
        self._bump = self._spike = self._dust = 0.0
        self._voc_base = rng.uniform(40.0, 150.0)
        self._pm_base = rng.uniform(3.0, 9.0)
        self._pm_ratios = (rng.uniform(0.6, 0.75), rng.uniform(1.08, 1.2), rng.uniform(1.3, 1.8))
        self._temp_base = rng.uniform(20.0, 22.5)
        self._humidity_base = rng.uniform(38.0, 50.0)
        self._pressure = rng.uniform(1005.0, 1022.0)
        self._lags = (_alpha(self.period, 1800), _alpha(self.period, 2700))
        self._fades = (math.exp(-self.period / 1200), math.exp(-self.period / 480))

    def _sample(self, t: float) -> Sample:
        rng = self._rng
        occupancy_lag, co2_lag = self._lags
        bump_fade, spike_fade = self._fades
        hour = self._schedule.local(t)[1]
        people = self._schedule.intensity(t)
        if 12.0 <= hour < 12.5 or 18.0 <= hour < 18.5:  # breaks: the canteen fills instead
            people *= 0.6
        self._occupancy += (people - self._occupancy) * occupancy_lag
        self._co2 += (self._outdoor + self._amplitude * self._occupancy - self._co2) * co2_lag
        self._bump *= bump_fade
        self._spike *= spike_fade
        self._dust *= bump_fade
        if people > 0.5 and rng.random() < self.bump_probability:  # a crowd, a forklift
            self._bump += rng.uniform(150.0, 400.0)
        if rng.random() < self.dust_probability:  # grinding, sweeping
            self._dust += rng.uniform(20.0, 80.0)
        if rng.random() < self.spike_probability:  # dry ice, a CO2 leak, exhaust
            self._spike = rng.uniform(5_200.0, 8_500.0) - self._co2 - self._bump
        co2 = max(380.0, self._co2 + self._bump + self._spike + rng.gauss(0, 8))
        voc = self._voc_base + 250 * self._occupancy + 0.3 * self._bump + 0.05 * self._spike
        pm25 = self._pm_base + 10 * self._occupancy + self._dust + rng.gauss(0, 0.6)
        pm25 = _clip(pm25, 0.5, 500.0)
        pm1_ratio, pm4_ratio, pm10_ratio = self._pm_ratios
        daily = math.sin(2 * math.pi * (hour - 9) / 24)
        temp = self._temp_base + 2.5 * self._occupancy + 1.0 * daily + rng.gauss(0, 0.1)
        humidity = self._humidity_base - 4 * self._occupancy - 3 * daily + rng.gauss(0, 0.4)
        self._pressure += (1013.0 - self._pressure) * 0.0005 + rng.gauss(0, 0.05)
        voc = max(0.0, voc * (1 + rng.gauss(0, 0.05)))
        sample: Sample = {"timestamp": round(t, 3), "co2_ppm": round(co2, 1)}
        sample["voc_ppb"] = round(voc, 1)
        sample.update(pm1_ugm3=round(pm25 * pm1_ratio, 1), pm25_ugm3=round(pm25, 1))
        sample.update(pm4_ugm3=round(pm25 * pm4_ratio, 1), pm10_ugm3=round(pm25 * pm10_ratio, 1))
        sample.update(temperature_c=round(temp, 2), humidity_pct=round(_clip(humidity, 5, 95), 1))
        sample["pressure_hpa"] = round(_clip(self._pressure, 950.0, 1060.0), 1)
        return sample


class JobRoute:
    """Jobs of one site moving through its locations, scanned once on entering each one by
    the scanner reading that location. Releases follow the schedule (thinned Poisson); events
    come lazily, in time order, from the route's own generator: who asks first changes nothing.
    """

    locations = ROUTE

    def __init__(self, site_id: str, rng: random.Random, start: float, schedule: Schedule):
        self.jobs_per_day = rng.uniform(100.0, 360.0)  # about 5 scans per job
        self._rng = rng
        self._schedule = schedule
        self._peak_rate = self.jobs_per_day / (16 * 3600.0)  # releases/s in a weekday shift
        self._prefix = f"WO-{site_id}-{time.strftime('%y%m%d%H%M', time.gmtime(start))}"
        self._scanners: list[str] = []
        self._outbox: dict[str, list[Sample]] = {}
        self._pending: list[tuple[float, int, int]] = []  # (time, job number, step) heap
        self._jobs: dict[int, tuple[str, int, str, int]] = {}  # job -> id, qty, part, operator
        self._released = 0
        self._next_release = self._release_after(start)

    def attach(self, scanner_id: str) -> None:
        self._scanners = sorted({*self._scanners, scanner_id})  # by id: order-independent
        self._outbox[scanner_id] = []

    def take(self, scanner_id: str, now: float) -> list[Sample]:
        self._advance(now)
        out, self._outbox[scanner_id] = self._outbox[scanner_id], []
        return out

    def _release_after(self, t: float) -> float:
        while True:  # thinning: candidates at the peak rate, kept as busy as the schedule
            t += self._rng.expovariate(self._peak_rate)
            if self._rng.random() < self._schedule.intensity(t):
                return t

    def _advance(self, now: float) -> None:
        rng, pending = self._rng, self._pending
        while True:
            due = pending[0][0] if pending else math.inf
            if self._next_release <= due and self._next_release <= now:
                self._released += 1
                job = self._released
                info = (rng.randint(1, 50), f"P-{rng.randrange(1000, 1100)}", rng.randint(1, 12))
                self._jobs[job] = (f"{self._prefix}-{job:05d}", *info)
                heapq.heappush(pending, (self._next_release, job, 0))
                self._next_release = self._release_after(self._next_release)
            elif due <= now:
                t, job, step = heapq.heappop(pending)
                self._scan(t, job, step)
                if step + 1 < len(self.locations):
                    low, high = DWELL_S.get(self.locations[step], (300.0, 1800.0))
                    heapq.heappush(pending, (t + rng.uniform(low, high), job, step + 1))
                else:
                    del self._jobs[job]
            else:
                return

    def _scan(self, t: float, job: int, step: int) -> None:
        if not self._scanners:
            return
        location = self.locations[step]
        scanner = self._scanners[step % len(self._scanners)]
        job_id, quantity, part, operator = self._jobs[job]
        scan: Sample = {"timestamp": round(t, 3), "job_id": job_id, "location_id": location}
        scan["scan_type"] = "rfid" if location in RFID_LOCATIONS else "barcode"
        scan["scanner_id"] = scanner
        scan["metadata"] = {"operator": f"op-{operator}", "part": part, "quantity": quantity}
        self._outbox[scanner].append(scan)


class ScannerModel:
    """An RFID/barcode reader: the scans of its route's locations that it reads."""

    sensor_type = "job_scan"
    kind = "scan"

    def __init__(self, device_id: str, route: JobRoute):
        self.device_id, self.route = device_id, route
        route.attach(device_id)

    def next_samples(self, now: float) -> list[Sample]:
        return self.route.take(self.device_id, now)


@dataclass(frozen=True)
class DeviceRef:
    device_id: str
    sensor_type: str
    site_id: str = "site"
    tenant: str = ""
    utc_offset_s: float = 0.0


_PERIODIC_MODELS = (AirQualityModel, EnergyMeterModel, MachineModel)
_PERIODIC: dict[str, type[_Periodic]] = {m.sensor_type: m for m in _PERIODIC_MODELS}
MODEL_TYPES = (*_PERIODIC, ScannerModel.sensor_type)


def build_models(devices: Sequence[DeviceRef], *, seed: int, start: float) -> list[DeviceModel]:
    """One model per device, in the given order; scanners of a site share its JobRoute."""
    routes: dict[tuple[str, str], JobRoute] = {}
    models: list[DeviceModel] = []
    for ref in devices:
        schedule = Schedule(utc_offset_s=ref.utc_offset_s)
        if ref.sensor_type == "job_scan":
            key = (ref.tenant, ref.site_id)
            if key not in routes:
                rng = stable_rng(seed, f"route:{ref.tenant}/{ref.site_id}")
                routes[key] = JobRoute(ref.site_id, rng, start, schedule)
            models.append(ScannerModel(ref.device_id, routes[key]))
        elif ref.sensor_type in _PERIODIC:
            rng = stable_rng(seed, f"{ref.tenant}/{ref.device_id}")
            models.append(_PERIODIC[ref.sensor_type](ref.device_id, rng, start, schedule))
        else:
            known = ", ".join(MODEL_TYPES)
            raise ValueError(f"no simulator model for sensor type {ref.sensor_type!r} ({known})")
    return models
