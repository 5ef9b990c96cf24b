"""The Timestream writer against moto: chunking, record shapes, versions, limits, rejections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from smdh.domain.telemetry import DeviceSample
from tests.integration.aws.timestream_support import (
    NOW,
    failing,
    make_store,
    rejected,
)

pytestmark = pytest.mark.integration
T0 = NOW.timestamp() - 600


def machine(device: str, ts: float, power: float = 100.0, **extra: Any) -> DeviceSample:
    values = {"power_watts": power, "state": "running", "cycle_count": 7, **extra}
    return DeviceSample("tenant-a", "site-1", device, "machine", ts, values)


@pytest.fixture
def setup(aws_clients: Callable[[str], Any]) -> Any:
    return make_store(aws_clients)


def test_one_multi_measure_record_per_sample_in_chunks_of_100(setup: Any) -> None:
    store, recorder, letters, _ = setup
    samples = [machine(f"m{i % 7}", T0 + i) for i in range(250)]
    store.write(samples)
    assert [len(call["Records"]) for call in recorder.calls] == [100, 100, 50]
    assert {call["TableName"] for call in recorder.calls} == {"machine_telemetry"}
    first = recorder.calls[0]["Records"][0]
    assert first["MeasureName"] == "machine" and first["MeasureValueType"] == "MULTI"
    assert first["Time"] == str(round(T0 * 1000)) and first["TimeUnit"] == "MILLISECONDS"
    assert [d["Name"] for d in first["Dimensions"]] == [
        "tenant_id",
        "site_id",
        "device_id",
        "sensor_type",
    ]
    assert first["MeasureValues"] == [
        {"Name": "cycle_count", "Type": "BIGINT", "Value": "7"},
        {"Name": "power_watts", "Type": "DOUBLE", "Value": "100.0"},
        {"Name": "state", "Type": "VARCHAR", "Value": "running"},
    ]
    assert letters.count() == 0


def test_types_go_to_their_own_tables(setup: Any) -> None:
    store, recorder, _, _ = setup
    store.write(
        [
            machine("m1", T0),
            DeviceSample("tenant-a", "site-1", "a1", "air_quality", T0, {"co2_ppm": 600.0}),
        ]
    )
    assert sorted(c["TableName"] for c in recorder.calls) == ["air_quality", "machine_telemetry"]


def test_new_points_go_out_at_version_1_and_a_redelivery_sends_the_same_records(
    setup: Any,
) -> None:
    store, recorder, _, _ = setup
    batch = [machine("m1", T0 + i, power=float(i)) for i in range(5)]
    for _ in range(3):
        store.write(batch)
    first, second, third = (call["Records"] for call in recorder.calls)
    assert first == second == third
    assert [r["Version"] for r in first] == [1] * 5  # never above a record we have not seen
    store.write([machine("m1", T0, power=99.0)])
    (corrected,) = recorder.calls[-1]["Records"]
    assert corrected["Version"] == 2
    store.write([DeviceSample("tenant-a", "site-1", "m1", "machine", T0, {"scrap_count": 2})])
    (merged,) = recorder.calls[-1]["Records"]
    assert merged["Version"] == 3  # a partial rewrite goes out merged with what we wrote
    assert {m["Name"]: m["Value"] for m in merged["MeasureValues"]} == {
        "cycle_count": "7",
        "power_watts": "99.0",
        "scrap_count": "2",
        "state": "running",
    }


def test_samples_of_one_point_in_one_batch_are_merged(setup: Any) -> None:
    store, recorder, _, _ = setup
    store.write(
        [
            DeviceSample("tenant-a", "s", "m1", "machine", T0, {"power_watts": 1.0}),
            DeviceSample("tenant-a", "s", "m1", "machine", T0, {"temperature_c": 30.0}),
        ]
    )
    (record,) = recorder.records
    assert [v["Name"] for v in record["MeasureValues"]] == ["power_watts", "temperature_c"]


def test_contract_errors_raise_before_anything_is_sent(setup: Any) -> None:
    store, recorder, _, _ = setup
    bad = [
        DeviceSample("tenant-a", "s", "x", "toaster", T0, {"heat": 1.0}),
        DeviceSample("tenant-a", "s", "m1", "machine", T0, {"bogus": 1.0}),
        DeviceSample("tenant-a", "s", "m1", "machine", float("nan"), {"power_watts": 1.0}),
        DeviceSample("tenant-a", "s", "m1", "machine", -1.0, {"power_watts": 1.0}),
    ]
    for sample in bad:
        with pytest.raises(ValueError):
            store.write([machine("m1", T0), sample])
    store.write([])
    store.write([DeviceSample("tenant-a", "s", "m1", "machine", T0, {})])
    assert recorder.calls == []


@pytest.mark.parametrize(
    ("sample", "code"),
    [
        (machine("m1", NOW.timestamp() + 16 * 60), "timestream-future"),
        (machine("m1", NOW.timestamp() - 31 * 86400), "timestream-retention"),
        (machine("m1", T0, power=float("inf")), "timestream-invalid-value"),
        (machine("m1", T0, error_code="E" * 2100), "timestream-value-too-large"),
        (machine("m1", T0, error_code="E" * 2000), "timestream-record-too-large"),
        (
            DeviceSample("tenant-a", "", "m1", "machine", T0, {"power_watts": 1.0}),
            "timestream-dimension",
        ),
    ],
)
def test_timestream_limits_are_checked_here_and_dead_lettered(
    setup: Any, sample: DeviceSample, code: str
) -> None:
    store, recorder, letters, _ = setup
    store.write([machine("ok", T0), sample])
    assert [r["Dimensions"][2]["Value"] for r in recorder.records] == ["ok"]
    ((_, letter),) = letters.list("tenant-a")
    assert letter.reason_code == code and letter.source == "timestream"


def test_nearly_15_minutes_ahead_is_still_accepted(setup: Any) -> None:
    store, recorder, letters, _ = setup
    store.write([machine("m1", NOW.timestamp() + 14 * 60)])
    assert len(recorder.records) == 1 and letters.count() == 0


def test_rejected_records_are_dead_lettered_with_timestreams_reason(setup: Any) -> None:
    store, recorder, letters, _ = setup
    recorder.answers.append(
        rejected(
            {"RecordIndex": 3, "Reason": "Measure value exceeds the limit"},
            {"RecordIndex": 101, "Reason": "out of range: ignored"},
        )
    )
    store.write([machine(f"m{i}", T0 + i) for i in range(150)])
    assert [len(c["Records"]) for c in recorder.calls] == [100, 50]
    ((_, letter),) = letters.list("tenant-a")
    assert letter.device_id == "m3"
    assert (letter.reason_code, letter.reason) == (
        "timestream-rejected",
        "Measure value exceeds the limit",
    )


COMPLETE = {"temperature_c": 40.0, "scrap_count": 0, "error_code": "none"}


def test_version_conflict_of_a_complete_sample_is_resent_above_the_existing_version(
    setup: Any,
) -> None:
    store, recorder, letters, _ = setup
    complete = machine("m1", T0, power=5.0, **COMPLETE)
    partial = machine("m2", T0, power=5.0)
    answer = {"Reason": "version", "ExistingVersion": 11}
    recorder.answers.append(rejected({"RecordIndex": 1, **answer}, {"RecordIndex": 2, **answer}))
    store.write([machine("m0", T0), complete, partial])
    resent = recorder.calls[-1]["Records"]
    assert len(resent) == 1 and resent[0]["Version"] == 12
    assert resent[0]["Dimensions"][2]["Value"] == "m1"
    ((_, letter),) = letters.list("tenant-a")
    assert (letter.device_id, letter.reason_code) == ("m2", "timestream-conflict")


def test_a_record_that_keeps_losing_is_dead_lettered(setup: Any) -> None:
    store, recorder, letters, _ = setup

    def conflict(call: dict[str, Any]) -> dict[str, Any]:
        version = call["Records"][0]["Version"]
        return rejected({"RecordIndex": 0, "Reason": "v", "ExistingVersion": version})(call)

    recorder.answers += [conflict] * 3
    store.write([machine("m1", T0, **COMPLETE)])
    assert [c["Records"][0]["Version"] for c in recorder.calls] == [1, 2, 3]
    ((_, letter),) = letters.list("tenant-a")
    assert letter.reason_code == "timestream-version-conflict"


def test_throttling_is_retried_then_raised(setup: Any) -> None:
    store, recorder, _, _ = setup
    recorder.answers += [failing("ThrottlingException"), failing("InternalServerException")]
    store.write([machine("m1", T0)])
    assert len(recorder.calls) == 3
    recorder.answers += [failing("ThrottlingException")] * 6
    with pytest.raises(Exception, match="ThrottlingException"):
        store.write([machine("m1", T0)])
    recorder.answers.clear()


def test_validation_errors_from_timestream_are_not_retried(setup: Any) -> None:
    store, recorder, _, _ = setup
    recorder.answers.append(failing("ValidationException"))
    with pytest.raises(Exception, match="ValidationException"):
        store.write([machine("m1", T0)])
    assert len(recorder.calls) == 1
