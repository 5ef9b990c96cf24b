"""Export on the embedded stores: CSV streamed page by page with the site's zone or UTC,
Parquet readable, constant memory for a large range, and the CLI command."""

from __future__ import annotations

import argparse
import csv
import io
import tracemalloc
from pathlib import Path

import pytest

from smdh.application.analytics import Analytics
from smdh.application.export import COLUMNS, Exporter, csv_chunks, parquet_chunks
from smdh.application.lifecycle import read_parquet
from smdh.domain.telemetry import DeviceSample
from smdh.entrypoints.export_command import run_export
from tests.integration.analytics.conftest import DataDir, seed

pytestmark = pytest.mark.integration
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, 01:00 in Berlin


def _exporter(data_dir: DataDir, page_size: int = 5000) -> Exporter:
    app = data_dir.container.application()
    telemetry = data_dir.container.telemetry_store()
    analytics = Analytics(
        directory=app.directory, devices=app.devices, telemetry=telemetry, rollups=data_dir.rollups
    )
    return Exporter(analytics, app.devices, app.directory, page_size=page_size)


def _write(data_dir: DataDir, n: int, step: float = 1.0) -> None:
    telemetry = data_dir.container.telemetry_store()
    for i in range(0, n, 20_000):
        telemetry.write([
            DeviceSample("acme", "acme-site", "m1", "machine", T0 + k * step,
                         {"power_watts": float(k), "state": "running", "cycle_count": k})
            for k in range(i, min(n, i + 20_000))
        ])  # fmt: skip


def test_csv_with_the_site_timezone_or_utc(data_dir: DataDir) -> None:
    seed(data_dir.container, "acme", {"m1": "machine"}, tz="Europe/Berlin")
    seed(data_dir.container, "globex", {"g1": "machine"})
    _write(data_dir, 12, step=600.0)
    exporter = _exporter(data_dir, page_size=5)  # several pages
    text = b"".join(
        csv_chunks(COLUMNS["readings"], exporter.rows("acme", "readings", T0, T0 + 7200, "site"))
    ).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(COLUMNS["readings"])
    assert len(rows) == 1 + 12 * 3
    assert rows[1][0] == "2026-01-01T01:00:00+01:00" and float(rows[1][1]) == T0
    assert rows[1][3:6] == ["m1", "machine", "cycle_count"]
    utc = list(
        csv.reader(
            io.StringIO(
                b"".join(
                    csv_chunks(
                        COLUMNS["readings"], exporter.rows("acme", "readings", T0, T0 + 7200)
                    )
                ).decode()
            )
        )
    )
    assert utc[1][0] == "2026-01-01T00:00:00+00:00"
    assert "g1" not in text


def test_parquet_and_metrics_datasets(data_dir: DataDir) -> None:
    seed(data_dir.container, "acme", {"m1": "machine"})
    _write(data_dir, 7200)
    exporter = _exporter(data_dir)
    data = b"".join(
        parquet_chunks(
            COLUMNS["readings"], exporter.rows("acme", "readings", T0, T0 + 3600), row_group=1000
        )
    )
    columns, rows = read_parquet(data)
    assert columns == list(COLUMNS["readings"]) and len(rows) == 3600 * 3
    oee = list(exporter.rows("acme", "oee", T0, T0 + 7200))
    assert len(oee) == 2 and oee[0][3] == "m1"
    assert oee[0][9] == 3600.0  # run_s: running all hour


def test_constant_memory_for_a_large_range(data_dir: DataDir) -> None:
    seed(data_dir.container, "acme", {"m1": "machine"})
    _write(data_dir, 150_000)
    exporter = _exporter(data_dir)
    total = 0
    tracemalloc.start()
    try:
        for chunk in csv_chunks(
            COLUMNS["readings"], exporter.rows("acme", "readings", T0, T0 + 200_000)
        ):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 20_000_000  # ~27 MB of CSV went through
    assert peak < 12_000_000, f"peak {peak / 1e6:.1f} MB"  # pages of 5000 samples, not the range


def test_cli_writes_a_file_with_a_progress_bar(
    data_dir: DataDir, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(data_dir.container, "acme", {"m1": "machine"})
    _write(data_dir, 100)
    out = tmp_path / "out.csv"
    args = argparse.Namespace(tenant="acme", dataset="readings", start=T0, end=T0 + 3600,
                              format="csv", timezone="UTC", output=str(out))  # fmt: skip
    run_export(args, data_dir.container)
    assert len(out.read_text().splitlines()) == 1 + 300
    assert "100%" in capsys.readouterr().err
