"""What the ingest pipeline would reach sharded over processes: a design measurement.

The hub runs one pipeline thread (``bench_ingest_pipeline.py``), capped by one core of
Python. This script measures the option of sharding by device over ``--processes`` worker
processes, each running the same container pipeline (decode, checks, durable SQLite write)
on its own data directory, for its share of the devices, as a sharded store would. Only the
pipeline work is timed; the rate is all samples over the slowest shard's time. Not what
``smdh serve`` does: see "Throughput: the options measured" in docs/benchmarks.md.

    .venv/bin/python benchmarks/bench_ingest_sharded.py --readings 200000 --processes 1 2
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_ingest_pipeline import chunks, prepare, records

from smdh.application.ingest import RawRecord
from smdh.entrypoints.container import build_container

Shard = tuple[str, list[RawRecord], int]


def run_shard(shard: Shard) -> tuple[int, float, float]:
    """(samples stored, wall seconds, CPU seconds) of one shard's pipeline."""
    folder, raw, batch = shard
    container = build_container("local", folder)
    prepare(container)
    pipeline = container.ingest_pipeline()
    gc.collect()
    gc.freeze()
    began, cpu, stored = time.perf_counter(), time.process_time(), 0
    for records_batch in chunks(raw, batch):
        stored += len(pipeline.process(records_batch).stored)
    timing = time.perf_counter() - began, time.process_time() - cpu
    container.telemetry_store().close()
    container.event_store().close()
    return stored, *timing


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000, help="records per batch, in all")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    raw = records(args.readings, time.time())
    devices = sorted({r.device_id for r in raw})
    context = multiprocessing.get_context("spawn")
    for count in args.processes:
        shard_of = {device: n % count for n, device in enumerate(devices)}
        parts: list[list[RawRecord]] = [[] for _ in range(count)]
        for record in raw:
            parts[shard_of[record.device_id]].append(record)
        with tempfile.TemporaryDirectory(prefix="smdh-shards-") as folder:
            shards = [(str(Path(folder) / str(n)), part, args.batch // count)
                      for n, part in enumerate(parts)]  # fmt: skip
            with context.Pool(count) as pool:
                results = pool.map(run_shard, shards)
        stored = sum(r[0] for r in results)
        slowest = max(r[1] for r in results)
        each = ", ".join(f"{r[0] / r[1]:,.0f}" for r in results)
        print(
            f"{count} process(es), {stored:,} samples: {stored / slowest:,.0f} samples/s in "
            f"all (per shard: {each}; CPU {sum(r[2] for r in results):.2f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
