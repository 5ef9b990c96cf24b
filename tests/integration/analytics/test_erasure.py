"""GDPR erasure on the embedded stores: afterwards no byte of the erased tenant's ids, its
people's addresses or a distinctive value of its data is left in any file of the data
directory; the other tenant is intact."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smdh.application.delivery import Delivery
from smdh.application.lifecycle import read_parquet
from smdh.domain.telemetry import DeadLetter, DeviceSample
from smdh.domain.tenancy.tenant import RetentionPolicy
from tests.integration.analytics.conftest import DataDir, seed

pytestmark = pytest.mark.integration
DAY = 86_400
VALUE = 4321.987654321  # distinctive: appears only in the erased tenant's data
KEPT_VALUE = 1234.5678901
NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _patterns(*texts: str, value: float) -> dict[str, bytes]:
    found = {text: text.encode() for text in texts}
    found["value (big-endian double, SQLite)"] = struct.pack(">d", value)
    found["value (little-endian double, Parquet)"] = struct.pack("<d", value)
    found["value (text)"] = repr(value).encode()
    return found


def _hits(root: Path, patterns: dict[str, bytes]) -> list[str]:
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{label} in {path.name}" for label, p in patterns.items() if p in data]
    return hits


def _fill(data_dir: DataDir, tenant: str, device: str, value: float) -> None:
    telemetry = data_dir.container.telemetry_store()
    now = data_dir.container.clock().now().timestamp()
    samples = [
        DeviceSample(tenant, f"{tenant}-site", device, "machine", now - d * DAY - s,
                     {"power_watts": value, "state": "running", "error_code": f"{device}-E1"})
        for d in range(4)
        for s in range(0, 600, 10)
    ]  # fmt: skip
    telemetry.write(samples)
    data_dir.rollups.on_stored(samples)
    data_dir.container.alerting_service().on_batch(samples)  # alert_state.sqlite3 keys
    data_dir.rollups.flush()
    data_dir.container.dead_letters().add(
        [
            DeadLetter(
                tenant,
                device,
                "mqtt",
                now,
                "out-of-range",
                "too big",
                f'{{"device": "{device}", "power_watts": {value}}}',
            )
        ]
    )
    data_dir.retention().run_tenant(tenant, RetentionPolicy(raw_days=1, rollup_days=2))


def test_erasing_a_tenant_leaves_no_byte_of_it(data_dir: DataDir) -> None:
    seed(data_dir.container, "zanzibar", {"zz-press-17": "machine"})
    seed(data_dir.container, "keeper", {"kp-lathe-3": "machine"})
    _fill(data_dir, "zanzibar", "zz-press-17", VALUE)
    _fill(data_dir, "keeper", "kp-lathe-3", KEPT_VALUE)
    erased = _patterns("zanzibar", "zz-press-17", "boss@zanzibar.example", value=VALUE)
    kept = _patterns("keeper", "kp-lathe-3", "boss@keeper.example", value=KEPT_VALUE)
    assert len(_hits(data_dir.path, erased)) >= 6  # the check can see what it looks for
    assert data_dir.archive.list("zanzibar")

    report = data_dir.eraser().erase_tenant("zanzibar")

    assert report.telemetry_rows > 0 and report.archives > 0 and report.purged_rows > 0
    data_dir.close()
    assert _hits(data_dir.path, erased) == []
    assert {h.split(" in ")[0] for h in _hits(data_dir.path, kept)} >= {
        "keeper", "kp-lathe-3", "boss@keeper.example", "value (big-endian double, SQLite)",
    }  # fmt: skip


def test_the_other_tenant_is_intact_and_readable(data_dir: DataDir) -> None:
    seed(data_dir.container, "zanzibar", {"zz-press-17": "machine"})
    seed(data_dir.container, "keeper", {"kp-lathe-3": "machine"})
    _fill(data_dir, "zanzibar", "zz-press-17", VALUE)
    _fill(data_dir, "keeper", "kp-lathe-3", KEPT_VALUE)
    telemetry = data_dir.container.telemetry_store()
    before = telemetry.query_range("keeper", "kp-lathe-3", 0, 2e9, limit=10_000)
    data_dir.eraser().erase_tenant("zanzibar")
    assert telemetry.query_range("keeper", "kp-lathe-3", 0, 2e9, limit=10_000) == before
    assert telemetry.query_range("zanzibar", "zz-press-17", 0, 2e9) == []
    assert data_dir.container.dead_letters().count("keeper") == 1
    assert data_dir.container.dead_letters().count("zanzibar") == 0
    app = data_dir.container.application()
    assert app.directory.site("keeper", "keeper-site") is not None
    assert app.devices.lookup("zanzibar", "zz-press-17") is None
    assert data_dir.container.credentials().password_hash("keeper", "keeper-boss") is not None
    assert data_dir.container.credentials().password_hash("zanzibar", "zanzibar-boss") is None
    # a fresh process replays an event store in which zanzibar never existed
    events = data_dir.container.event_store().read_all(limit=10_000)
    assert events and all(e.event.tenant_id != "zanzibar" for e in events)
    # new data of the surviving tenant still flows (the writer's series cache was cleared)
    telemetry.write(
        [DeviceSample("keeper", "keeper-site", "kp-lathe-3", "machine", 1e9, {"power_watts": 1.0})]
    )
    assert telemetry.query_range("keeper", "kp-lathe-3", 1e9, 1e9 + 1)


def _delivery(tenant: str, device: str) -> Delivery:
    """A notification row about the device's alert, as the dispatcher records it."""
    alert_id = f"hot:{device}:1"
    return Delivery(
        idempotency_key=f"alert:{tenant}:{alert_id}:1:webhook:https://hooks.example.com/x",
        tenant_id=tenant, alert_id=alert_id, event_type="AlertRaised", channel="webhook",
        recipient="https://hooks.example.com/x", subject=f"[WARNING] hot on {device}",
        body="hot", payload={"tenant_id": tenant, "device_id": device, "alert_id": alert_id},
        next_attempt_at=NOW, created_at=NOW,
    )  # fmt: skip


def test_erasing_one_device(data_dir: DataDir) -> None:
    seed(data_dir.container, "keeper", {"kp-lathe-3": "machine", "kp-mill-9": "machine"})
    _fill(data_dir, "keeper", "kp-lathe-3", KEPT_VALUE)
    _fill(data_dir, "keeper", "kp-mill-9", VALUE)
    deliveries = data_dir.container.delivery_log()
    deliveries.record([_delivery("keeper", "kp-lathe-3"), _delivery("keeper", "kp-mill-9")])
    report = data_dir.eraser().erase_device("keeper", "kp-mill-9")
    assert [d.alert_id for d in deliveries.list("keeper")] == ["hot:kp-lathe-3:1"]
    assert report.archives > 0
    telemetry = data_dir.container.telemetry_store()
    assert telemetry.query_range("keeper", "kp-mill-9", 0, 2e9) == []
    assert telemetry.query_range("keeper", "kp-lathe-3", 0, 2e9)
    for name in data_dir.archive.list("keeper"):
        _, rows = read_parquet(data_dir.archive.get("keeper", name))
        assert rows and {r[0] for r in rows} == {"kp-lathe-3"}
    data_dir.close()
    assert _hits(data_dir.path, _patterns("kp-mill-9", value=VALUE)) == []
    assert _hits(data_dir.path, _patterns("kp-lathe-3", value=KEPT_VALUE))
