"""The TelemetryStore contract on SQLite, plus what only a real file can show."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from smdh.adapters.embedded.telemetry_store import FILE_NAME, SqliteTelemetryStore
from smdh.application.ports import TelemetryStore
from smdh.domain.sensors import (
    DashboardSpec,
    MeasureSpec,
    SensorRegistry,
    SensorType,
    default_registry,
)
from tests.contract.telemetry_store_contract import (
    BASE,
    TelemetryStoreContract,
    machine,
    sample,
)

pytestmark = pytest.mark.integration


def gadget_registry(*measures: MeasureSpec) -> SensorRegistry:
    """A registry with one made-up sensor type, to evolve its schema in tests."""
    return SensorRegistry(
        [
            SensorType(
                name="gadget",
                description="test type",
                topic_kind="telemetry",
                measures=measures,
                dashboard=DashboardSpec(title="Gadget", panels=()),
            )
        ]
    )


class TestSqliteTelemetryStore(TelemetryStoreContract):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> Iterator[None]:
        self.path = tmp_path / FILE_NAME
        self.opened: list[SqliteTelemetryStore] = []
        yield
        for store in self.opened:
            store.close()

    def open(
        self, registry: SensorRegistry | None = None, **options: object
    ) -> SqliteTelemetryStore:
        store = SqliteTelemetryStore(self.path, registry or default_registry(), **options)  # type: ignore[arg-type]
        self.opened.append(store)
        return store

    def make_store(self, registry: SensorRegistry) -> TelemetryStore:
        return self.open(registry)

    def test_data_survives_reopen_and_rewrites_stay_idempotent(self) -> None:
        store = self.open()
        batch = [machine("m1", BASE + i) for i in range(100)]
        store.write(batch)
        before = store.query_range("tenant-a", "m1", BASE, BASE + 1000)
        store.close()
        again = self.open()
        assert again.query_range("tenant-a", "m1", BASE, BASE + 1000) == before
        again.write(batch)  # a fresh series cache must find the existing series
        assert again.query_range("tenant-a", "m1", BASE, BASE + 1000) == before
        with sqlite3.connect(self.path) as conn:
            assert conn.execute("SELECT COUNT(*) FROM series").fetchone() == (1,)
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    def test_synchronous_normal_by_default_and_full_on_request(self) -> None:
        store = self.open()
        assert store._writer is not None
        assert store._writer.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        store.close()
        strict = self.open(synchronous="FULL")
        assert strict._writer is not None
        assert strict._writer.execute("PRAGMA synchronous").fetchone() == (2,)
        strict.write([machine("m1", BASE)])
        assert len(strict.query_range("tenant-a", "m1", BASE, BASE + 1)) == 1
        with pytest.raises(ValueError, match="synchronous"):
            self.open(synchronous="OFF")

    def test_a_measure_added_to_the_registry_becomes_a_column(self) -> None:
        old = self.open(gadget_registry(MeasureSpec("speed")))
        old.write([sample("g1", BASE, sensor_type="gadget", speed=1.0)])
        old.close()
        new = self.open(
            gadget_registry(
                MeasureSpec("speed"), MeasureSpec("mode", kind="enum", choices=("a", "b"))
            )
        )
        assert [dict(s.values) for s in new.query_range("tenant-a", "g1", BASE, BASE + 10)] == [
            {"speed": 1.0}
        ]
        new.write([sample("g1", BASE, sensor_type="gadget", mode="b")])
        new.write([sample("g1", BASE + 1, sensor_type="gadget", speed=2.0, mode="a")])
        got = new.query_range("tenant-a", "g1", BASE, BASE + 10)
        assert [dict(s.values) for s in got] == [
            {"speed": 1.0, "mode": "b"},
            {"speed": 2.0, "mode": "a"},
        ]
        with sqlite3.connect(self.path) as conn:
            columns = [row[1] for row in conn.execute('PRAGMA table_info("samples_gadget")')]
        assert columns == ["series_id", "ts", "speed", "mode"]

    @pytest.mark.parametrize("name", ["ts", "series_id", "Speed", "drop table", "x" * 64])
    def test_names_that_cannot_be_identifiers_are_refused_at_open(self, name: str) -> None:
        with pytest.raises(ValueError, match=name[:10]):
            self.open(gadget_registry(MeasureSpec(name)))

    def test_closed_store_refuses_work(self) -> None:
        store = self.open()
        store.close()
        store.close()  # twice is fine
        with pytest.raises(RuntimeError, match="closed"):
            store.write([machine("m1", BASE)])
        with pytest.raises(RuntimeError, match="closed"):
            store.latest("tenant-a", "m1")

    def test_readers_and_a_writer_run_concurrently(self) -> None:
        store = self.open()
        batches = [
            [machine(f"m{d}", BASE + b * 100 + i) for i in range(100) for d in range(5)]
            for b in range(30)
        ]
        errors: list[BaseException] = []
        done = threading.Event()
        seen: list[int] = []

        def write() -> None:
            try:
                for batch in batches:
                    store.write(batch)
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)
            finally:
                done.set()

        def read() -> None:
            try:
                while not done.is_set():
                    rows = store.query_range("tenant-a", "m3", BASE, BASE + 10_000, limit=10_000)
                    seen.append(len(rows))
                    store.latest("tenant-a", "m3")
                    store.aggregate("tenant-a", "m3", "power_watts", BASE, BASE + 10_000, 600)
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=write)] + [
            threading.Thread(target=read) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert len(store.query_range("tenant-a", "m3", BASE, BASE + 10_000, limit=10_000)) == 3000
        # every read saw a committed state: whole batches of this device only
        assert all(count % 100 == 0 for count in seen)

    def test_a_device_moving_sites_within_one_batch_keeps_its_last_site(self) -> None:
        store = self.open()
        store.write(
            [
                sample("m1", BASE, site="site-1", power_watts=1.0),
                sample("m1", BASE + 1, site="site-2", power_watts=1.0),
                sample("m1", BASE + 2, site="site-1", power_watts=1.0),
            ]
        )
        assert {s.site_id for s in store.query_range("tenant-a", "m1", BASE, BASE + 9)} == {
            "site-1"
        }
        store.close()
        assert {s.site_id for s in self.open().query_range("tenant-a", "m1", BASE, BASE + 9)} == {
            "site-1"
        }
