"""``smdh export``: a tenant's dataset over a range to a CSV or Parquet file (or stdout),
streamed from the local stores with a progress bar on stderr.

    smdh export --tenant acme --dataset readings --from 2026-01-01T00:00Z \\
        --to 2026-02-01T00:00Z --format parquet --output january.parquet
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from smdh.application.analytics import Analytics
from smdh.application.export import COLUMNS, DATASETS, Exporter, csv_chunks, parquet_chunks


def _instant(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset (Z or +02:00)")
    return moment.timestamp()


class ProgressBar:
    """``[#####.....]  50%  12.3 MB`` on stderr, redrawn at most every 0.2 s."""

    def __init__(self, stream: IO[str], width: int = 30) -> None:
        self.stream, self.width = stream, width
        self.fraction, self.bytes, self._drawn = 0.0, 0, 0.0

    def update(self, fraction: float | None = None, written: int = 0) -> None:
        if fraction is not None:
            self.fraction = min(max(fraction, 0.0), 1.0)
        self.bytes += written
        now = time.monotonic()
        if now - self._drawn >= 0.2 or self.fraction >= 1.0:
            self._drawn = now
            filled = int(self.fraction * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            size = self.bytes / 1e6
            self.stream.write(f"\r[{bar}] {self.fraction:4.0%}  {size:.1f} MB")
            self.stream.flush()

    def done(self) -> None:
        self.update(1.0)
        self.stream.write("\n")


def run_export(args: argparse.Namespace, container: Any) -> None:
    from smdh.adapters.memory.rollups import InMemoryRollupStore  # noqa: PLC0415

    app = container.application()
    app.refresh()
    telemetry = container.telemetry_store()
    rollups = getattr(container, "rollup_store", None)
    rollups = rollups() if rollups is not None else InMemoryRollupStore(telemetry, app.sensors)
    analytics = Analytics(
        directory=app.directory, devices=app.devices, telemetry=telemetry, rollups=rollups
    )
    exporter = Exporter(analytics, app.devices, app.directory)
    bar = ProgressBar(sys.stderr)
    start, end = args.start, args.end
    rows = exporter.rows(args.tenant, args.dataset, start, end, args.timezone, bar.update)
    header = COLUMNS[args.dataset]
    chunks = csv_chunks(header, rows) if args.format == "csv" else parquet_chunks(header, rows)
    target = None if args.output in (None, "-") else Path(args.output)
    out = sys.stdout.buffer if target is None else target.open("wb")
    try:
        for chunk in chunks:
            out.write(chunk)
            bar.update(written=len(chunk))
    finally:
        if target is not None:
            out.close()
    bar.done()


def add_export_parser(sub: Any) -> None:
    """``smdh export ...`` on the main parser's subcommands."""
    p = sub.add_parser("export", help="export readings or metrics to CSV or Parquet")
    p.add_argument("--tenant", required=True)
    p.add_argument("--dataset", choices=DATASETS, default="readings")
    p.add_argument("--from", dest="start", type=_instant, required=True,
                   help="ISO 8601 with offset, or epoch seconds")  # fmt: skip
    p.add_argument("--to", dest="end", type=_instant, required=True)
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--timezone", choices=("UTC", "site"), default="UTC",
                   help="write times in UTC or in each site's zone")  # fmt: skip
    p.add_argument("--output", "-o", help="file to write (default: stdout)")
    p.set_defaults(action=run_export)
