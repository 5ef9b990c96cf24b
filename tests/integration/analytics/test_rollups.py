"""Rollups on the embedded store: maintained incrementally from stored batches, they equal
the same statistics recomputed from the raw samples, under late data and redelivery."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from smdh.adapters.embedded.rollups import SqliteRollupStore
from smdh.adapters.embedded.telemetry_store import FILE_NAME, SqliteTelemetryStore
from smdh.adapters.memory.rollups import InMemoryRollupStore
from smdh.domain.sensors import default_registry
from smdh.domain.telemetry import DeviceSample

pytestmark = pytest.mark.integration

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
STATES = ("running", "idle", "offline")


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[SqliteTelemetryStore, SqliteRollupStore]]:
    registry = default_registry()
    telemetry = SqliteTelemetryStore(tmp_path / FILE_NAME, registry)
    rollups = SqliteRollupStore(tmp_path / FILE_NAME, registry, flush_interval_s=3600.0)
    yield telemetry, rollups
    rollups.close()
    telemetry.close()


def machine(
    ts: float, rng: random.Random, device: str = "m1", tenant: str = "acme"
) -> DeviceSample:
    values = {
        "power_watts": round(rng.uniform(0, 5000), 3),
        "state": rng.choice(STATES),
        "cycle_count": int((ts - T0) // 7),
    }
    if rng.random() < 0.3:
        del values["power_watts"]
    return DeviceSample(tenant, "plant", device, "machine", ts, values)


def store(
    telemetry: SqliteTelemetryStore, rollups: SqliteRollupStore, batch: list[DeviceSample]
) -> None:
    telemetry.write(batch)
    rollups.on_stored(batch)


RANGES = [
    (T0, T0 + 2 * 86_400),
    (T0 + 17.5, T0 + 86_400 + 3_725.25),
    (T0 + 3_599, T0 + 3_661),
    (T0 + 60, T0 + 120),
    (T0 - 3600, T0 + 40),
]


def assert_same(rollups: SqliteRollupStore, reference: InMemoryRollupStore) -> None:
    for width in (60, 3600, 86_400):
        for start, end in RANGES:
            for measure in ("power_watts", "cycle_count"):
                got = rollups.buckets("acme", "m1", measure, start, end, width)
                want = reference.buckets("acme", "m1", measure, start, end, width)
                assert len(got) == len(want)
                for g, w in zip(got, want, strict=True):
                    assert g.start == w.start and g.count == w.count
                    assert (g.first, g.last, g.first_at, g.last_at) == (
                        w.first,
                        w.last,
                        w.first_at,
                        w.last_at,
                    )
                    assert (g.minimum, g.maximum) == (w.minimum, w.maximum)
                    assert g.total == pytest.approx(w.total, rel=1e-12)
                    assert g.increase == pytest.approx(w.increase, rel=1e-12)
            _assert_same_means(rollups, reference, start, end, width)
            got_s = rollups.state_buckets("acme", "m1", "state", start, end, width)
            want_s = reference.state_buckets("acme", "m1", "state", start, end, width)
            assert [(b.start, b.counts) for b in got_s] == [(b.start, b.counts) for b in want_s]
            for g, w in zip(got_s, want_s, strict=True):
                assert g.seconds == pytest.approx(w.seconds)


def _assert_same_means(
    rollups: SqliteRollupStore,
    reference: InMemoryRollupStore,
    start: float,
    end: float,
    width: int,
) -> None:
    """``means`` (one read of several measures) gives each bucket's start, average, count."""
    measures = ("power_watts", "cycle_count", "temperature_c")
    got = rollups.means("acme", "m1", measures, start, end, width)
    want = reference.means("acme", "m1", measures, start, end, width)
    assert set(got) == set(want) == set(measures)
    assert got["temperature_c"].starts == want["temperature_c"].starts == []  # no data
    for measure in measures[:2]:
        buckets = rollups.buckets("acme", "m1", measure, start, end, width)
        g, w = got[measure], want[measure]
        assert g.starts == w.starts == [b.start for b in buckets]
        assert g.counts == w.counts == [b.count for b in buckets]
        assert g.means == [b.average for b in buckets]
        assert g.means == pytest.approx(w.means, rel=1e-12)


def test_incremental_rollups_equal_the_raw_recomputation(
    stores: tuple[SqliteTelemetryStore, SqliteRollupStore],
) -> None:
    telemetry, rollups = stores
    rng = random.Random(7)
    times = sorted(T0 + rng.uniform(0, 2 * 86_400) for _ in range(6000))
    for i in range(0, len(times), 250):
        store(telemetry, rollups, [machine(ts, rng) for ts in times[i : i + 250]])
        if i % 1000 == 0:
            rollups.flush()
    # a counter restart, and another tenant's device that must not leak into acme's buckets
    store(
        telemetry,
        rollups,
        [DeviceSample("acme", "plant", "m1", "machine", T0 + 5000.5, {"cycle_count": 3})],
    )
    store(telemetry, rollups, [machine(T0 + 100.0, rng, tenant="globex")])
    assert_same(rollups, InMemoryRollupStore(telemetry, default_registry()))
    hour = rollups.buckets("acme", "m1", "power_watts", T0, T0 + 3600, 3600)
    raw = telemetry.aggregate("acme", "m1", "power_watts", T0, T0 + 3600, 3600)
    assert [(h.start, h.count, h.minimum, h.maximum, h.first, h.last) for h in hour] == [
        (b.start, b.count, b.minimum, b.maximum, b.first, b.last) for b in raw
    ]


def test_late_data_recomputes_the_touched_buckets(
    stores: tuple[SqliteTelemetryStore, SqliteRollupStore],
) -> None:
    telemetry, rollups = stores
    rng = random.Random(3)
    store(telemetry, rollups, [machine(T0 + s, rng) for s in range(0, 7200, 10)])
    rollups.flush()
    before = rollups.buckets("acme", "m1", "power_watts", T0, T0 + 7200, 3600)
    late = DeviceSample(
        "acme", "plant", "m1", "machine", T0 + 125.5, {"power_watts": 99_999.0, "state": "offline"}
    )
    store(telemetry, rollups, [late])
    after = rollups.buckets("acme", "m1", "power_watts", T0, T0 + 7200, 3600)
    assert after[0].count == before[0].count + 1 and after[0].maximum == 99_999.0
    assert after[1] == before[1]  # the untouched hour is unchanged
    day = rollups.buckets("acme", "m1", "power_watts", T0, T0 + 86_400, 86_400)
    assert day[0].maximum == 99_999.0
    # an upsert that replaces a value lowers the maximum again
    store(
        telemetry,
        rollups,
        [DeviceSample("acme", "plant", "m1", "machine", T0 + 125.5, {"power_watts": 1.0})],
    )
    again = rollups.buckets("acme", "m1", "power_watts", T0, T0 + 86_400, 86_400)
    assert again[0].maximum < 99_999.0 and again[0].count == day[0].count
    assert_same(rollups, InMemoryRollupStore(telemetry, default_registry()))


def test_redelivery_does_not_double_count(
    stores: tuple[SqliteTelemetryStore, SqliteRollupStore],
) -> None:
    telemetry, rollups = stores
    rng = random.Random(11)
    batch = [machine(T0 + s, random.Random(s)) for s in range(0, 600)]
    store(telemetry, rollups, batch)
    once = rollups.buckets("acme", "m1", "cycle_count", T0, T0 + 600, 60)
    states_once = rollups.state_buckets("acme", "m1", "state", T0, T0 + 600, 3600)
    store(telemetry, rollups, batch)  # at-least-once delivery
    store(telemetry, rollups, list(reversed(batch[:120])))
    assert rollups.buckets("acme", "m1", "cycle_count", T0, T0 + 600, 60) == once
    assert rollups.state_buckets("acme", "m1", "state", T0, T0 + 600, 3600) == states_once
    assert sum(b.count for b in once) == 600
    assert sum(states_once[0].seconds.values()) == pytest.approx(600.0)
    del rng


def test_rebuild_gives_the_same_tables(
    stores: tuple[SqliteTelemetryStore, SqliteRollupStore], tmp_path: Path
) -> None:
    telemetry, rollups = stores
    rng = random.Random(5)
    times = sorted(T0 + rng.uniform(0, 86_400) for _ in range(3000))
    rng.shuffle(times)
    for i in range(0, len(times), 100):
        store(telemetry, rollups, [machine(ts, rng) for ts in times[i : i + 100]])
    rollups.flush()
    tables = [name for t in rollups.tables().values() for name in t.names.values()]

    def dump() -> list[list[tuple[object, ...]]]:
        with rollups.writing() as conn:
            return [
                conn.execute(f"SELECT * FROM {name} ORDER BY 1, 2").fetchall()  # noqa: S608
                for name in tables
            ]

    incremental = dump()
    with rollups.writing() as conn:
        for name in tables:
            conn.execute(f"DELETE FROM {name}")  # noqa: S608
    rollups.rebuild("acme", T0 - 86_400, T0 + 2 * 86_400)
    rebuilt = dump()
    for a, b in zip(incremental, rebuilt, strict=True):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert [v is None for v in x] == [v is None for v in y]
            assert [v for v in x if v is not None] == pytest.approx(
                [v for v in y if v is not None], rel=1e-9, abs=1e-9
            )


def test_oee_from_rollups_equals_oee_from_raw_samples(tmp_path: Path) -> None:
    from smdh.adapters.embedded.archive import LocalArchiveStore  # noqa: PLC0415
    from smdh.adapters.embedded.telemetry_lifecycle import SqliteTelemetryLifecycle  # noqa: PLC0415
    from smdh.application.analytics import Analytics  # noqa: PLC0415
    from smdh.entrypoints.container import build_container  # noqa: PLC0415
    from tests.integration.analytics.conftest import DataDir, seed  # noqa: PLC0415

    container = build_container("local", tmp_path / "d")
    container.application().refresh()
    seed(container, "acme", {"m1": "machine"}, tz="Europe/Berlin")
    telemetry = container.telemetry_store()
    rollups = SqliteRollupStore(telemetry.path, container.sensors())
    data = DataDir(tmp_path, container, rollups, SqliteTelemetryLifecycle(telemetry, rollups),
                   LocalArchiveStore(tmp_path / "a"))  # fmt: skip
    rng = random.Random(9)
    state, cycles, scrap, batch = "running", 0, 0, []
    for k in range(2 * 86_400):
        if k % 397 == 0:
            state = rng.choice(STATES)
        if state == "running" and k % 3 == 0:
            cycles += 1
            scrap += rng.random() < 0.05
        if rng.random() < 0.995:  # a few gaps: unknown time
            values = {"state": state, "cycle_count": cycles, "scrap_count": scrap}
            batch.append(DeviceSample("acme", "acme-site", "m1", "machine", T0 + k, values))
    store(telemetry, rollups, batch)
    app = container.application()

    def run(raw_limit_s: float) -> list[tuple[float, float, float, int, int]]:
        analytics = Analytics(directory=app.directory, devices=app.devices, telemetry=telemetry,
                              rollups=rollups, raw_limit_s=raw_limit_s)  # fmt: skip
        rows = analytics.oee("acme", T0 + 3600, T0 + 2 * 86_400 - 3600, "hour")
        return [(r.result.run_s, r.result.idle_s, r.result.unknown_s, r.result.produced,
                 r.result.scrap) for r in rows if r.device_id == "m1"]  # fmt: skip

    from_raw, from_rollups = run(1e9), run(0)
    assert len(from_raw) == len(from_rollups) == 46
    for a, b in zip(from_raw, from_rollups, strict=True):
        assert a[:3] == pytest.approx(b[:3], abs=1e-6)
        assert abs(a[3] - b[3]) <= 1 and abs(a[4] - b[4]) <= 1  # the step across a gap
    data.close()
