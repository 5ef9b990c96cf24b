"""Retention on the embedded stores: raw rows past the policy are archived as Parquet per
(sensor type, day), readable afterwards, and only then deleted; other tenants untouched."""

from __future__ import annotations

import pytest

from smdh.application.lifecycle import read_parquet
from smdh.domain.telemetry import DeviceSample
from smdh.domain.tenancy.tenant import RetentionPolicy
from tests.integration.analytics.conftest import DataDir, seed

pytestmark = pytest.mark.integration
DAY = 86_400


def test_retention_archives_then_deletes(data_dir: DataDir) -> None:
    seed(data_dir.container, "acme", {"m1": "machine", "m2": "machine"})
    seed(data_dir.container, "globex", {"g1": "machine"})
    telemetry = data_dir.container.telemetry_store()
    now = data_dir.container.clock().now().timestamp()
    today = now // DAY * DAY
    samples = [
        DeviceSample(tenant, f"{tenant}-site", device, "machine", today - d * DAY + s * 600.0,
                     {"power_watts": float(d * 1000 + s), "state": "running"})
        for tenant, device in (("acme", "m1"), ("acme", "m2"), ("globex", "g1"))
        for d in range(5)
        for s in range(10)
    ]  # fmt: skip
    telemetry.write(samples)
    data_dir.rollups.on_stored(samples)
    data_dir.rollups.flush()

    report = data_dir.retention().run_tenant("acme", RetentionPolicy(raw_days=2, rollup_days=3))

    # days -4 and -3 end before the cutoff (the UTC midnight 2 days ago)
    assert len(report.archived_files) == 2
    assert report.raw_deleted == 2 * 10 * 2
    name = report.archived_files[0]
    assert name.startswith("raw/machine/") and name.endswith(".parquet")
    columns, rows = read_parquet(data_dir.archive.get("acme", name))
    assert columns[:3] == ["device_id", "site_id", "ts"]
    assert len(rows) == 20 and {r[0] for r in rows} == {"m1", "m2"}
    assert rows[0][columns.index("power_watts")] == 4000.0
    assert (data_dir.path / "archive" / "tenants" / "acme" / name).is_file()
    # hot store: the old rows are gone, recent ones kept; globex keeps everything
    cutoff = today - 2 * DAY
    assert telemetry.query_range("acme", "m1", 0, cutoff) == []
    assert len(telemetry.query_range("acme", "m1", cutoff, now + DAY)) == 30
    assert len(telemetry.query_range("globex", "g1", 0, now + DAY)) == 50
    assert data_dir.archive.list("globex") == []
    # rollups older than 3 days are gone for acme only
    assert report.rollups_deleted > 0
    assert data_dir.rollups.buckets("acme", "m1", "power_watts", 0, today - 3 * DAY, DAY) == []
    assert len(data_dir.rollups.buckets("globex", "g1", "power_watts", 0, now + DAY, DAY)) == 5

    # a second run archives nothing new and keeps the archive's rows (merge, no loss)
    again = data_dir.retention().run_tenant("acme", RetentionPolicy(raw_days=2, rollup_days=3))
    assert again.archived_files == () and again.raw_deleted == 0
    assert len(read_parquet(data_dir.archive.get("acme", name))[1]) == 20
