"""The live terminal summary of a running hub: rates, totals, rejects, per sensor type."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import TextIO

from smdh.application.ingest_worker import IngestTotals, IngestWorker


def summary_line(
    totals: IngestTotals, rate: float, queue_depth: int, open_alerts: int | None = None
) -> str:
    types = " · ".join(f"{name} {count:,}" for name, count in sorted(totals.by_sensor_type.items()))
    rejects = ", ".join(f"{code} {n}" for code, n in totals.rejected_by_code.most_common(3))
    return (
        f"{time.strftime('%H:%M:%S')}  {rate:8.1f} readings/s | stored {totals.accepted:,}"
        f" | rejected {totals.rejected:,}{f' ({rejects})' if rejects else ''}"
        f" | {types or 'waiting for data'} | queue {queue_depth}"
        + ("" if open_alerts is None else f" | open alerts {open_alerts}")
    )


async def print_summary_forever(
    totals: IngestTotals,
    worker: IngestWorker,
    interval_s: float = 2.0,
    out: TextIO = sys.stdout,
    open_alerts: Callable[[], int] | None = None,
) -> None:
    tty = out.isatty()
    last_count, last_time = totals.accepted, time.monotonic()
    while True:
        await asyncio.sleep(interval_s if tty else interval_s * 5)
        now = time.monotonic()
        rate = (totals.accepted - last_count) / max(now - last_time, 1e-9)
        last_count, last_time = totals.accepted, now
        line = summary_line(totals, rate, worker.depth, open_alerts() if open_alerts else None)
        if tty:
            out.write("\r\x1b[2K" + line)
        else:
            out.write(line + "\n")
        out.flush()
