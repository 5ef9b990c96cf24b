"""The one contract every ``TelemetryStore`` adapter passes.

Subclass ``TelemetryStoreContract`` in a ``Test*`` class and implement ``make_store`` (a
fresh, empty store over the given sensor registry). The base class is not named ``Test*``
so pytest does not collect it on its own. Stores with a ``close()`` are closed after each
test.

The contract has two halves. ``TelemetryStoreWriteContract`` is about what ``write`` makes
durable (value encoding, idempotent redelivery, measure-level upserts, latest-by-timestamp,
tenancy of the stored data); ``TelemetryStoreReadContract`` about how queries select and
shape it (range bounds, limits, measure filters, buckets, how a device's site is reported).
``TelemetryStoreContract`` is both. A store whose query engine cannot run here (Timestream:
moto has none) runs the write half over an emulation of the service's documented write
semantics, and its query side is tested with recorded response pages.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterator
from typing import Any

import pytest

from smdh.application.ports import TelemetryStore
from smdh.domain.sensors import SensorRegistry, default_registry
from smdh.domain.telemetry import Bucket, DeviceSample, MeasurePoint

BASE = 1_700_000_040.0  # a multiple of 60 (and of 120), so buckets line up with it
HOUR = 3600


def sample(
    device: str,
    ts: float,
    tenant: str = "tenant-a",
    sensor_type: str = "machine",
    site: str = "site-1",
    **values: Any,
) -> DeviceSample:
    return DeviceSample(tenant, site, device, sensor_type, ts, values)


def machine(device: str, ts: float, tenant: str = "tenant-a", power: float = 100.0) -> DeviceSample:
    return sample(
        device,
        ts,
        tenant,
        power_watts=power,
        state="running",
        temperature_c=40.5,
        cycle_count=int(ts - BASE),
        scrap_count=1,
    )


class _StoreUnderTest(abc.ABC):
    @abc.abstractmethod
    def make_store(self, registry: SensorRegistry) -> TelemetryStore:
        """A fresh, empty store over ``registry``."""

    @pytest.fixture
    def store(self) -> Iterator[TelemetryStore]:
        store = self.make_store(default_registry())
        yield store
        close = getattr(store, "close", None)
        if close is not None:
            close()


class TelemetryStoreWriteContract(_StoreUnderTest):
    """What ``write`` makes durable: encoding, idempotency, upserts, tenancy of stored data."""

    def test_write_then_latest_gives_each_measure_newest_value(self, store: TelemetryStore) -> None:
        store.write([machine("m1", BASE, power=100.0), machine("m1", BASE + 1, power=250)])
        points = store.latest("tenant-a", "m1")
        assert [p.measure for p in points] == sorted(p.measure for p in points)
        by_name = {p.measure: p for p in points}
        assert by_name["power_watts"] == MeasurePoint("power_watts", BASE + 1, 250.0)
        assert type(by_name["power_watts"].value) is float  # float measure, written as int
        assert by_name["state"].value == "running"
        assert by_name["cycle_count"] == MeasurePoint("cycle_count", BASE + 1, 1)
        assert type(by_name["cycle_count"].value) is int
        assert set(by_name) == {
            "power_watts",
            "state",
            "temperature_c",
            "cycle_count",
            "scrap_count",
        }

    def test_latest_is_by_timestamp_not_by_arrival(self, store: TelemetryStore) -> None:
        store.write([machine("m1", BASE + 10, power=10.0)])
        store.write([machine("m1", BASE + 5, power=5.0)])  # late, older sample
        latest = {p.measure: p for p in store.latest("tenant-a", "m1")}
        assert latest["power_watts"] == MeasurePoint("power_watts", BASE + 10, 10.0)
        store.write([machine("m1", BASE + 10, power=11.0)])  # a correction at the same time
        latest = {p.measure: p for p in store.latest("tenant-a", "m1")}
        assert latest["power_watts"] == MeasurePoint("power_watts", BASE + 10, 11.0)

    def test_empty_write_and_sample_without_measures_store_nothing(
        self, store: TelemetryStore
    ) -> None:
        store.write([])
        store.write([sample("m1", BASE)])
        assert store.latest("tenant-a", "m1") == []
        assert store.query_range("tenant-a", "m1", BASE - 10, BASE + 10) == []

    def test_samples_of_every_registered_type_round_trip(self, store: TelemetryStore) -> None:
        written = [
            machine("m1", BASE),
            sample(
                "e1",
                BASE,
                sensor_type="energy",
                voltage=230.0,
                current=10.0,
                power_factor=0.9,
                phases=1,
                kwh_cumulative=1234.5,
                power_watts=2070.0,
            ),
            sample(
                "a1", BASE, sensor_type="air_quality", co2_ppm=600.0, pm25_ugm3=8.0, aqi_instant=33
            ),
            sample("m1", BASE + 1, error_code="17"),
        ]
        store.write(written)
        got = [
            s
            for device in ("m1", "e1", "a1")
            for s in store.query_range("tenant-a", device, BASE, BASE + 10)
        ]
        assert got == [written[0], written[3], written[1], written[2]]

    def test_unknown_sensor_type_or_measure_is_rejected_and_nothing_is_stored(
        self, store: TelemetryStore
    ) -> None:
        with pytest.raises(ValueError, match="sensor type"):
            store.write([machine("m1", BASE), sample("x1", BASE, sensor_type="toaster", heat=1.0)])
        with pytest.raises(ValueError, match="bogus"):
            store.write([machine("m1", BASE), sample("m1", BASE + 1, bogus=1.0)])
        for bad_time in (-1.0, float("nan"), float("inf")):
            with pytest.raises(ValueError, match="timestamp"):
                store.write([machine("m1", BASE), sample("m1", bad_time, power_watts=1.0)])
        assert store.query_range("tenant-a", "m1", 0, 2e9) == []
        assert store.latest("tenant-a", "m1") == []

    def test_writing_the_same_batch_three_times_changes_nothing(
        self, store: TelemetryStore
    ) -> None:
        batch = [machine(f"m{d}", BASE + i, power=float(i * d)) for i in range(300) for d in (1, 2)]

        def snapshot() -> list[tuple[list[DeviceSample], list[MeasurePoint], list[Bucket]]]:
            return [
                (
                    store.query_range("tenant-a", device, BASE, BASE + HOUR, limit=10_000),
                    store.latest("tenant-a", device),
                    store.aggregate("tenant-a", device, "power_watts", BASE, BASE + HOUR, 60),
                )
                for device in ("m1", "m2")
            ]

        store.write(batch)
        first = snapshot()
        store.write(batch)
        store.write(list(reversed(batch)))
        assert snapshot() == first
        assert len(first[0][0]) == 300
        assert sum(b.count for b in first[0][2]) == 300

    def test_rewrite_replaces_only_the_measures_it_carries(self, store: TelemetryStore) -> None:
        store.write([sample("m1", BASE, power_watts=1.0, state="idle")])
        store.write([sample("m1", BASE, temperature_c=30.0)])
        store.write([sample("m1", BASE, power_watts=2.0)])
        (got,) = store.query_range("tenant-a", "m1", BASE, BASE + 1)
        assert got.values == {"power_watts": 2.0, "state": "idle", "temperature_c": 30.0}
        latest = {p.measure: p.value for p in store.latest("tenant-a", "m1")}
        assert latest == {"power_watts": 2.0, "state": "idle", "temperature_c": 30.0}

    def test_device_whose_sensor_type_changed_keeps_both_series(
        self, store: TelemetryStore
    ) -> None:
        store.write([sample("d1", BASE, power_watts=1.0, state="idle")])
        store.write([sample("d1", BASE + 1, sensor_type="energy", power_watts=2.0, voltage=230.0)])
        got = store.query_range("tenant-a", "d1", BASE, BASE + 10)
        assert [(s.sensor_type, s.timestamp) for s in got] == [
            ("machine", BASE),
            ("energy", BASE + 1),
        ]
        latest = {p.measure: p for p in store.latest("tenant-a", "d1")}
        assert latest["power_watts"] == MeasurePoint("power_watts", BASE + 1, 2.0)
        assert latest["state"].value == "idle"
        (bucket,) = store.aggregate("tenant-a", "d1", "power_watts", BASE, BASE + 10, 60)
        assert (bucket.count, bucket.first, bucket.last, bucket.total) == (2, 1.0, 2.0, 3.0)

    def test_tenants_are_isolated_both_ways(self, store: TelemetryStore) -> None:
        store.write([machine("shared", BASE + i, "tenant-a", power=1.0) for i in range(5)])
        store.write([machine("shared", BASE + i, "tenant-b", power=2.0) for i in range(3)])
        store.write([machine("only-b", BASE, "tenant-b", power=3.0)])
        for tenant, power, count in (("tenant-a", 1.0, 5), ("tenant-b", 2.0, 3)):
            got = store.query_range(tenant, "shared", BASE, BASE + 10)
            assert len(got) == count
            assert {(s.tenant_id, s.values["power_watts"]) for s in got} == {(tenant, power)}
            latest = {p.measure: p.value for p in store.latest(tenant, "shared")}
            assert latest["power_watts"] == power
            (bucket,) = store.aggregate(tenant, "shared", "power_watts", BASE, BASE + 10, 60)
            assert (bucket.count, bucket.total) == (count, power * count)
        assert store.query_range("tenant-a", "only-b", BASE, BASE + 10) == []
        assert store.latest("tenant-a", "only-b") == []
        assert store.aggregate("tenant-a", "only-b", "power_watts", BASE, BASE + 10, 60) == []
        assert store.query_range("tenant-c", "shared", BASE, BASE + 10) == []


class TelemetryStoreReadContract(_StoreUnderTest):
    """How queries select and shape what is stored: ranges, limits, filters, buckets."""

    def test_latest_keeps_each_measure_own_newest_timestamp(self, store: TelemetryStore) -> None:
        store.write(
            [
                sample("m1", BASE, power_watts=1.0, error_code="E42"),
                sample("m1", BASE + 5, power_watts=2.0),
            ]
        )
        latest = {p.measure: p for p in store.latest("tenant-a", "m1")}
        assert latest["error_code"] == MeasurePoint("error_code", BASE, "E42")
        assert latest["power_watts"] == MeasurePoint("power_watts", BASE + 5, 2.0)

    def test_site_of_the_last_write_is_reported(self, store: TelemetryStore) -> None:
        store.write([sample("m1", BASE, site="site-1", power_watts=1.0)])
        store.write([sample("m1", BASE + 1, site="site-2", power_watts=2.0)])
        got = store.query_range("tenant-a", "m1", BASE, BASE + 10)
        assert [s.site_id for s in got] == ["site-2", "site-2"]

    def test_range_is_start_inclusive_end_exclusive_oldest_first(
        self, store: TelemetryStore
    ) -> None:
        store.write([machine("m1", BASE + i) for i in (9, 3, 0, 7, 2, 5, 4, 1, 8, 6)])
        got = store.query_range("tenant-a", "m1", BASE + 2, BASE + 5)
        assert [s.timestamp for s in got] == [BASE + 2, BASE + 3, BASE + 4]
        assert all(s.tenant_id == "tenant-a" and s.device_id == "m1" for s in got)
        assert store.query_range("tenant-a", "m1", BASE + 5, BASE + 5) == []
        assert store.query_range("tenant-a", "m1", BASE + 6, BASE + 2) == []

    def test_range_limit_keeps_the_oldest(self, store: TelemetryStore) -> None:
        store.write([machine("m1", BASE + i) for i in range(10)])
        got = store.query_range("tenant-a", "m1", BASE, BASE + 100, limit=3)
        assert [s.timestamp for s in got] == [BASE, BASE + 1, BASE + 2]
        for bad in (0, -1):
            with pytest.raises(ValueError, match="limit"):
                store.query_range("tenant-a", "m1", BASE, BASE + 100, limit=bad)

    def test_nan_bounds_are_rejected(self, store: TelemetryStore) -> None:
        store.write([machine("m1", BASE)])
        nan = float("nan")
        with pytest.raises(ValueError, match="start and end"):
            store.query_range("tenant-a", "m1", nan, BASE + 10)
        with pytest.raises(ValueError, match="start and end"):
            store.aggregate("tenant-a", "m1", "power_watts", BASE, nan, 60)
        assert len(store.query_range("tenant-a", "m1", -math.inf, math.inf)) == 1

    def test_range_measure_filter(self, store: TelemetryStore) -> None:
        store.write(
            [
                sample("m1", BASE, power_watts=1.0, state="idle"),
                sample("m1", BASE + 1, temperature_c=20.0),
                sample("m1", BASE + 2, power_watts=3.0, temperature_c=21.0),
            ]
        )
        got = store.query_range("tenant-a", "m1", BASE, BASE + 10, measures=["power_watts"])
        assert [(s.timestamp, dict(s.values)) for s in got] == [
            (BASE, {"power_watts": 1.0}),
            (BASE + 2, {"power_watts": 3.0}),
        ]
        got = store.query_range(
            "tenant-a", "m1", BASE, BASE + 10, measures=["state", "temperature_c"], limit=2
        )
        assert [dict(s.values) for s in got] == [{"state": "idle"}, {"temperature_c": 20.0}]
        assert store.query_range("tenant-a", "m1", BASE, BASE + 10, measures=[]) == []
        with pytest.raises(ValueError, match="no_such_measure"):
            store.query_range("tenant-a", "m1", BASE, BASE + 10, measures=["no_such_measure"])

    def _series(self, store: TelemetryStore) -> None:
        points = {0: 1.0, 10: 5.0, 59: 3.0, 60: 2.0, 150: 7.0, 250: -4.5}
        store.write([sample("m1", BASE + t, power_watts=v) for t, v in points.items()])
        store.write([sample("m1", BASE + 30, state="idle")])  # no power: not counted
        store.write([sample("m2", BASE + 1, power_watts=1000.0)])  # another device

    def test_aggregate_buckets_are_exact(self, store: TelemetryStore) -> None:
        self._series(store)
        got = store.aggregate("tenant-a", "m1", "power_watts", BASE, BASE + 300, 60)
        assert got == [
            Bucket(BASE, 3, 1.0, 5.0, 9.0, 1.0, 3.0),
            Bucket(BASE + 60, 1, 2.0, 2.0, 2.0, 2.0, 2.0),
            Bucket(BASE + 120, 1, 7.0, 7.0, 7.0, 7.0, 7.0),  # 180-239 is empty: left out
            Bucket(BASE + 240, 1, -4.5, -4.5, -4.5, -4.5, -4.5),
        ]
        assert got[0].average == 3.0

    def test_aggregate_buckets_align_to_the_epoch_not_to_start(self, store: TelemetryStore) -> None:
        self._series(store)
        got = store.aggregate("tenant-a", "m1", "power_watts", BASE + 10, BASE + 150, 60)
        assert got == [
            Bucket(BASE, 2, 3.0, 5.0, 8.0, 5.0, 3.0),
            Bucket(BASE + 60, 1, 2.0, 2.0, 2.0, 2.0, 2.0),
        ]
        hourly = store.aggregate("tenant-a", "m1", "power_watts", BASE, BASE + 300, HOUR)
        assert [b.start % HOUR for b in hourly] == [0.0]
        assert BASE - HOUR < hourly[0].start <= BASE
        assert hourly[0].count == 6

    def test_aggregate_of_an_int_measure_gives_floats(self, store: TelemetryStore) -> None:
        store.write([sample("m1", BASE + i, cycle_count=i * 10) for i in range(3)])
        (bucket,) = store.aggregate("tenant-a", "m1", "cycle_count", BASE, BASE + 60, 60)
        assert bucket == Bucket(BASE, 3, 0.0, 20.0, 30.0, 0.0, 20.0)
        assert all(type(x) is float for x in (bucket.minimum, bucket.total, bucket.last))

    def test_aggregate_rejects_what_cannot_be_aggregated(self, store: TelemetryStore) -> None:
        self._series(store)
        with pytest.raises(ValueError, match="not numeric"):
            store.aggregate("tenant-a", "m1", "state", BASE, BASE + 300, 60)
        with pytest.raises(ValueError, match="unknown measure"):
            store.aggregate("tenant-a", "m1", "no_such_measure", BASE, BASE + 300, 60)
        for width in (0, -60):
            with pytest.raises(ValueError, match="bucket_seconds"):
                store.aggregate("tenant-a", "m1", "power_watts", BASE, BASE + 300, width)

    def test_unknown_device_gives_empty_results(self, store: TelemetryStore) -> None:
        store.write([machine("m1", BASE)])
        assert store.latest("tenant-a", "nope") == []
        assert store.query_range("tenant-a", "nope", 0, 2e9) == []
        assert store.aggregate("tenant-a", "nope", "power_watts", 0, 2e9, 60) == []
        assert store.latest("tenant-zzz", "m1") == []


class TelemetryStoreContract(TelemetryStoreWriteContract, TelemetryStoreReadContract):
    """The whole contract: every complete ``TelemetryStore`` passes both halves."""
