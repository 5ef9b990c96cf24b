"""The TelemetryStore write contract on Timestream, with the service's write rules emulated.

The store is the real ``TimestreamTelemetryWriter`` (boto3 over HTTP to moto) and the real
``TimestreamTelemetryStore`` query code; moto's tables apply Timestream's documented upsert
rules (``timestream_emulator``) and ``timestream_sql`` answers the adapter's three query
shapes from them. The first tests pin the emulated rules themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from smdh.adapters.aws.timestream_query import TimestreamTelemetryStore
from smdh.adapters.aws.timestream_writer import TimestreamTelemetryWriter
from smdh.adapters.memory.dead_letters import InMemoryDeadLetterStore
from smdh.domain.sensors import SensorRegistry, default_registry
from smdh.domain.telemetry import DeviceSample
from tests.contract.telemetry_store_contract import BASE, HOUR, TelemetryStoreWriteContract
from tests.integration.aws.conftest import REGION
from tests.integration.aws.timestream_emulator import TableRows
from tests.integration.aws.timestream_sql import QueryAnswers
from tests.integration.aws.timestream_support import (
    DATABASE,
    TABLES,
    FixedNow,
    Recorder,
    create_timestream,
)

pytestmark = pytest.mark.integration
MEMORY_HOURS = 720


def record(version: int | None, **values: float) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "Dimensions": [{"Name": "device_id", "Value": "m1"}],
        "MeasureName": "machine",
        "MeasureValueType": "MULTI",
        "MeasureValues": [
            {"Name": name, "Type": "DOUBLE", "Value": repr(value)} for name, value in values.items()
        ],
        "Time": "1000",
        "TimeUnit": "MILLISECONDS",
    }
    if version is not None:
        shaped["Version"] = version
    return shaped


def stored(rows: TableRows) -> list[tuple[int, dict[str, str]]]:
    return [(r.version, {name: text for name, _, text in r.values}) for r in rows]


# --- the emulated rules ---------------------------------------------------------------------


def test_a_higher_version_replaces_the_whole_multi_measure_record() -> None:
    rows = TableRows()
    assert rows.write([record(1, power_watts=1.0, temperature_c=20.0)]) == []
    assert rows.write([record(2, power_watts=2.0)]) == []
    assert stored(rows) == [(2, {"power_watts": "2.0"})]  # temperature_c is gone
    assert rows.columns == {"power_watts": "DOUBLE", "temperature_c": "DOUBLE"}  # schema stays


def test_other_values_without_a_higher_version_are_rejected_with_the_existing_version() -> None:
    rows = TableRows()
    rows.write([record(None, power_watts=1.0)])  # no Version: 1
    for version in (None, 1):
        (rejected,) = rows.write([record(2, power_watts=9.0), record(version, power_watts=2.0)])
        assert (rejected["RecordIndex"], rejected["ExistingVersion"]) == (1, 2)
        rows.rows.clear()
        rows.write([record(None, power_watts=1.0)])
    (rejected,) = rows.write([record(1, power_watts=2.0)])
    assert (rejected["RecordIndex"], rejected["ExistingVersion"]) == (0, 1)
    assert stored(rows) == [(1, {"power_watts": "1.0"})]


def test_the_same_values_are_accepted_and_change_nothing_below_a_higher_version() -> None:
    rows = TableRows()
    rows.write([record(5, power_watts=1.0)])
    assert rows.write([record(1, power_watts=1.0), record(None, power_watts=1.0)]) == []
    assert stored(rows) == [(5, {"power_watts": "1.0"})]
    assert rows.write([record(6, power_watts=1.0)]) == []
    assert stored(rows) == [(6, {"power_watts": "1.0"})]  # only the version moves


# --- the contract ---------------------------------------------------------------------------


def emulated_store(
    make_client: Callable[[str], Any], registry: SensorRegistry, letters: InMemoryDeadLetterStore
) -> TimestreamTelemetryStore:
    """A writer and query side over the emulated tables (which must exist)."""
    writer = TimestreamTelemetryWriter(
        make_client("timestream-write"),
        DATABASE,
        TABLES,
        letters,
        FixedNow(datetime.fromtimestamp(BASE + HOUR, UTC)),
        MEMORY_HOURS,
        registry=registry,
        sleep=lambda _s: None,
    )
    query = make_client("timestream-query")
    QueryAnswers(query, REGION)
    return TimestreamTelemetryStore(writer, query, registry=registry)


class TestTimestreamWriteContract(TelemetryStoreWriteContract):
    @pytest.fixture(autouse=True)
    def _moto(self, aws_clients: Callable[[str], Any], emulate_timestream_writes: None) -> None:
        self.make_client = aws_clients
        self.letters = InMemoryDeadLetterStore()
        create_timestream(aws_clients("timestream-write"), MEMORY_HOURS)

    def make_store(self, registry: SensorRegistry) -> TimestreamTelemetryStore:
        return emulated_store(self.make_client, registry, self.letters)

    @pytest.fixture(autouse=True)
    def _nothing_dead_lettered(self) -> Any:
        yield
        assert self.letters.count() == 0


# --- what only a second process sees ----------------------------------------------------------


@pytest.fixture
def two_processes(
    aws_clients: Callable[[str], Any], emulate_timestream_writes: None
) -> tuple[TimestreamTelemetryStore, TimestreamTelemetryStore, InMemoryDeadLetterStore]:
    create_timestream(aws_clients("timestream-write"), MEMORY_HOURS)
    letters = InMemoryDeadLetterStore()
    registry = default_registry()
    return (
        emulated_store(aws_clients, registry, letters),
        emulated_store(aws_clients, registry, letters),
        letters,
    )


def machine(ts: float, **values: Any) -> DeviceSample:
    return DeviceSample("tenant-a", "site-1", "m1", "machine", ts, values)


FULL = {"state": "running", "temperature_c": 40.0, "cycle_count": 3, "scrap_count": 0}


def test_a_partial_rewrite_the_writer_has_not_seen_is_dead_lettered_not_clobbering(
    two_processes: Any,
) -> None:
    first, second, letters = two_processes
    first.write([machine(BASE, power_watts=1.0, state="idle")])
    second.write([machine(BASE, temperature_c=30.0)])
    ((_, letter),) = letters.list("tenant-a")
    assert letter.reason_code == "timestream-conflict"
    assert "erase the measures it does not carry" in letter.reason
    (kept,) = first.query_range("tenant-a", "m1", BASE, BASE + 1)
    assert kept.values == {"power_watts": 1.0, "state": "idle"}


def test_a_complete_sample_the_writer_has_not_seen_wins_as_the_last_write(
    two_processes: Any,
) -> None:
    first, second, letters = two_processes
    first.write([machine(BASE, power_watts=1.0, state="idle")])
    recorder = Recorder(second.writer.client)
    complete = {**FULL, "power_watts": 2.0, "error_code": "E1"}
    second.write([machine(BASE, **complete)])
    assert [r["Version"] for r in recorder.records] == [1, 2]  # rejected, resent above it
    (got,) = first.query_range("tenant-a", "m1", BASE, BASE + 1)
    assert got.values == complete and letters.count() == 0


def test_a_redelivery_sends_the_same_records_from_a_warm_or_a_cold_process(
    two_processes: Any,
) -> None:
    first, second, letters = two_processes
    batch = [machine(BASE + i, power_watts=float(i), **FULL) for i in range(5)]
    warm = Recorder(first.writer.client)
    cold = Recorder(second.writer.client)
    first.write(batch)
    first.write(batch)
    second.write(batch)
    assert warm.calls[0] == warm.calls[1] == cold.calls[0]
    assert {r["Version"] for r in warm.records} == {1} and letters.count() == 0
    first.write([machine(BASE, power_watts=7.0)])  # a correction of one measure
    (corrected,) = warm.calls[-1]["Records"]
    assert corrected["Version"] == 2 and len(corrected["MeasureValues"]) == 5
