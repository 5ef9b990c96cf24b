"""Alert evaluation throughput: the evaluator alone, and the ingest pipeline with it on/off.

1. ``evaluate_batch`` alone: 10,000 rules over 30 tenants (each tenant: 100 devices, 70
   machines, 15 energy meters, 15 air-quality sensors over 2 sites; its ~333 rules: the
   default rules switched on, 60 % single-device thresholds, 20 % per-site thresholds,
   5 % per-type thresholds, 15 % of the other kinds: sustained, state duration, rate of
   change, anomaly, window average). Samples as the ingest benchmark's fleet sends them,
   1 Hz per device, in batches of 500; thresholds sit above normal values but a fraction
   of the samples crosses them, so alerts are raised and cleared during the run.
2. The ingest pipeline (one worker thread) on the ingest benchmark's workload, without and
   with ``AlertingService.on_batch`` as after-store hook (the same 10,000 rules; the bench
   tenant has its 333). ``--pipeline-profile memory`` (default): the memory telemetry,
   event and state stores. ``--pipeline-profile local``: what ``smdh serve`` runs, a fresh
   data directory with the SQLite telemetry store and its rollup marks (the rollup hook,
   on in both runs), the SQLite event store and ``alert_state.sqlite3``.

    .venv/bin/python benchmarks/bench_alert_evaluator.py --samples 300000 --repeat 5
    .venv/bin/python benchmarks/bench_alert_evaluator.py --samples 1000 --repeat 5 \
        --pipeline-profile local

The pipeline runs alternate off/on so that load from other processes hits both alike.
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest_pipeline import (
    SITES,
    TENANT,
    chunks,
    pipeline_with,
    prepare,
    records,
    sample_values,
)

from smdh.adapters.memory.alert_state import InMemoryEvaluationStateStore
from smdh.application.alerting import AlertingService
from smdh.application.projections import RuleEntry, TenantDirectory
from smdh.domain.alerts.defaults import default_rule_id, default_rules_for
from smdh.domain.alerts.evaluation_state import EvaluationState
from smdh.domain.alerts.evaluator import RuleIndex, evaluate_batch
from smdh.domain.alerts.rules import RuleDefinition, RuleScope
from smdh.domain.sensors.registry import default_registry
from smdh.domain.shared.ids import RuleId, TenantId
from smdh.domain.telemetry import DeviceSample
from smdh.entrypoints.container import build_container

TENANTS = 30
RULES = 10_000
FLEET = (("machine", 70), ("energy", 15), ("air_quality", 15))
# measure -> the top of its normal range in the fleet's samples; thresholds lie 0-10 % above
MEASURES = {
    "machine": {"temperature_c": 90.0, "power_watts": 20_000.0},
    "energy": {"current": 60.0, "voltage": 240.0},
    "air_quality": {"co2_ppm": 2_000.0, "pm25_ugm3": 40.0, "humidity_pct": 60.0},
}
EXCURSIONS = 0.002  # share of samples with one measure 50 % above its normal range


def fleet(tenant: str) -> list[tuple[str, str, str]]:
    out = []
    for sensor_type, count in FLEET:
        for n in range(count):
            out.append((f"{sensor_type.replace('_', '-')}-{n:03d}", sensor_type, SITES[n % 2]))
    return out


def tenant_names() -> list[str]:
    return [TENANT] + [f"tenant-{i:02d}" for i in range(1, TENANTS)]


def make_rules(seed: int = 11) -> list[RuleEntry]:
    rng = random.Random(seed)
    registry = default_registry()
    entries: list[RuleEntry] = []
    per_tenant = RULES // TENANTS
    for t_index, tenant in enumerate(tenant_names()):
        devices = fleet(tenant)
        defaults = [
            (default_rule_id(st.name, d), d) for st in registry for d in default_rules_for(st)
        ]
        count = per_tenant + (1 if t_index < RULES % TENANTS else 0)
        made = list(defaults)
        while len(made) < count:
            device, sensor_type, site = rng.choice(devices)
            measure, ceiling = rng.choice(list(MEASURES[sensor_type].items()))
            roll = rng.random()
            threshold = ceiling * rng.uniform(1.0, 1.1)
            fields: dict[str, Any] = {}
            if roll < 0.60:
                scope = RuleScope(sensor_type=sensor_type, device_id=device)
            elif roll < 0.80:
                scope = RuleScope(sensor_type=sensor_type, site_id=site)
            elif roll < 0.85:
                scope = RuleScope(sensor_type=sensor_type)
            else:
                scope = RuleScope(sensor_type=sensor_type, device_id=device)
                fields = rng.choice(
                    [
                        {"duration_s": 60},
                        {"kind": "rate_of_change", "window_s": 30},
                        {"kind": "anomaly", "warmup": 30, "z_threshold": 4.0},
                        {"kind": "window_average", "window_s": 600},
                    ]
                )
                if fields.get("kind") == "rate_of_change":
                    threshold = ceiling / 10
            definition = RuleDefinition.create(
                f"r{len(made)}", scope, measure, "gt", threshold, clear_threshold=None, **fields
            )
            made.append((f"r{len(made)}", definition))
        for rule_id, definition in made:
            entries.append(RuleEntry(TenantId(tenant), RuleId(rule_id), definition, True, 1))
    return entries


def samples(total: int, seed: int = 7) -> list[DeviceSample]:
    rng = random.Random(seed)
    devices = [(t, d) for t in tenant_names() for d in fleet(t)]
    out = []
    start = 1_767_600_000.0
    second = 0
    while len(out) < total:
        for tenant, (device, sensor_type, site) in devices:
            values = sample_values(sensor_type, rng, second)
            if rng.random() < EXCURSIONS:
                measure, top = rng.choice(list(MEASURES[sensor_type].items()))
                values[measure] = top * 1.5
            out.append(DeviceSample(tenant, site, device, sensor_type, start + second, values))
        second += 1
    return out[:total]


def spread(rates: list[float]) -> str:
    ordered = sorted(rates)
    return (
        f"best {ordered[-1]:,.0f}, median {statistics.median(ordered):,.0f}, "
        f"worst {ordered[0]:,.0f}"
    )


def bench_evaluator(entries: list[RuleEntry], total: int, repeat: int) -> float:
    """Two consecutive stretches of ``total`` samples on a fresh state: the first binds
    every device (the cost a fresh process or a rule change pays once per device), the
    second is the steady state."""
    index = RuleIndex.build(entries)
    everything = samples(2 * total)
    stretches = (chunks(everything[:total], 500), chunks(everything[total:], 500))
    rates: list[list[float]] = [[], []]
    cpu_rates: list[list[float]] = [[], []]
    raised = 0
    for _ in range(repeat):
        state = EvaluationState()
        for n, batches in enumerate(stretches):
            gc.collect()
            began, cpu = time.perf_counter(), time.process_time()
            for batch in batches:
                raised += len(evaluate_batch(index, batch, state))
                state.take_changes()  # what the service snapshots after each batch
            cpu_rates[n].append(total / (time.process_time() - cpu))
            rates[n].append(total / (time.perf_counter() - began))
    print(
        f"evaluate_batch, {len(index):,} rules / {TENANTS} tenants, {total:,} samples, "
        f"batches of 500 ({raised // repeat:,} raise/clear decisions per run of 2x{total:,}):\n"
        f"  first {total:,} (binds 3,000 devices), wall: {spread(rates[0])} readings/s\n"
        f"                                       CPU:  {spread(cpu_rates[0])} readings/CPU-s\n"
        f"  next {total:,} (steady state), wall:         {spread(rates[1])} readings/s\n"
        f"                                       CPU:  {spread(cpu_rates[1])} readings/CPU-s",
        flush=True,
    )
    return max(rates[1])


def bench_pipeline(
    entries: list[RuleEntry], total: int, repeat: int, profile: str = "memory"
) -> tuple[float, float]:
    rates: dict[bool, list[float]] = {False: [], True: []}
    cpu_rates: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeat):
        for alerting in (False, True):
            with tempfile.TemporaryDirectory(prefix="smdh-alert-bench-") as folder:
                rate, cpu_rate = _pipeline_run(entries, total, profile, folder, alerting)
            rates[alerting].append(rate)
            cpu_rates[alerting].append(cpu_rate)
    off, on = max(rates[False]), max(rates[True])
    cpu_off, cpu_on = max(cpu_rates[False]), max(cpu_rates[True])
    store = "memory stores" if profile == "memory" else "SQLite stores + rollup marks"
    print(
        f"ingest pipeline, {store}, 1 worker, {total:,} samples, {repeat} runs each:\n"
        f"  alerting off, wall: {spread(rates[False])} samples/s\n"
        f"  alerting on,  wall: {spread(rates[True])} samples/s\n"
        f"  alerting off, CPU:  {spread(cpu_rates[False])} samples/CPU-s\n"
        f"  alerting on,  CPU:  {spread(cpu_rates[True])} samples/CPU-s\n"
        f"  best on vs best off: wall {(off - on) / off:.1%} slower, CPU "
        f"{(cpu_off - cpu_on) / cpu_off:.1%} slower; median vs median: wall "
        f"{1 - statistics.median(rates[True]) / statistics.median(rates[False]):.1%}, CPU "
        f"{1 - statistics.median(cpu_rates[True]) / statistics.median(cpu_rates[False]):.1%}",
        flush=True,
    )
    return off, on


def _pipeline_run(
    entries: list[RuleEntry], total: int, profile: str, folder: str, alerting: bool
) -> tuple[float, float]:
    """(samples/s, samples per CPU-s) of one run on a fresh container."""
    container = build_container(profile, folder)
    prepare(container)
    raw = records(total, container.clock().now().timestamp())
    if profile == "memory":
        pipeline = pipeline_with(container, container.telemetry_store())
        state_store: Any = InMemoryEvaluationStateStore()
    else:
        pipeline = container.ingest_pipeline()
        container.rollup_hook()  # as in the hub: rollup marks after every batch
        state_store = container.alert_state_store()
    if alerting:
        directory = TenantDirectory()
        directory.rules = {(e.tenant_id, e.rule_id): e for e in entries}
        service = AlertingService(
            events=container.event_store(),
            directory=directory,
            clock=container.clock(),
            state_store=state_store,
        )
        service.start()
        pipeline.add_after_store_hook(service.on_batch)
    gc.collect()
    count = 0
    began, cpu = time.perf_counter(), time.process_time()
    for batch in chunks(raw, 500):
        result = pipeline.process(batch)
        assert result.dead_letters == 0
        count += len(result.stored)
    cpu_rate = count / (time.process_time() - cpu)
    rate = count / (time.perf_counter() - began)
    if profile == "local":
        for provider in (container.rollup_store, container.telemetry_store,
                         container.dead_letters, container.alert_state_store,
                         container.event_store):  # fmt: skip
            provider().close()
    return rate, cpu_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=300_000)
    parser.add_argument("--pipeline-samples", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pipeline-profile", choices=("memory", "local"), default="memory")
    args = parser.parse_args()
    print(f"Python {platform.python_version()}, {platform.machine()}", flush=True)
    entries = make_rules()
    bench_evaluator(entries, args.samples, args.repeat)
    bench_pipeline(entries, args.pipeline_samples, args.repeat, args.pipeline_profile)


if __name__ == "__main__":
    main()
