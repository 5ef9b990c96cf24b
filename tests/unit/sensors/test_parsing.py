"""The shared payload parser, through the four sensor types: shapes, timestamps, values."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from returns.result import Failure, Success

from smdh.domain.sensors.base import MAX_SAMPLES_PER_PAYLOAD, Reading, SensorType
from smdh.domain.sensors.parsing import REASON_CODES
from smdh.domain.sensors.registry import default_registry
from smdh.domain.shared.errors import InvalidPayload

NOW = 1_717_000_000.0  # 2024-05-29T16:26:40Z


def sensor(name: str) -> SensorType:
    return default_registry().get(name)


MACHINE = sensor("machine")
ENERGY = sensor("energy")
AIR = sensor("air_quality")
SCAN = sensor("job_scan")


def reading(sensor_type: SensorType, payload: object) -> Reading:
    result = sensor_type.parse(payload, now=NOW)
    assert isinstance(result, Success), result
    (only,) = result.unwrap()
    assert isinstance(only, Reading)
    return only


def failure(sensor_type: SensorType, payload: object) -> InvalidPayload:
    result = sensor_type.parse(payload, now=NOW)
    assert isinstance(result, Failure), result
    error = result.failure()
    assert isinstance(error, InvalidPayload)
    return error


# --- payload shapes ----------------------------------------------------------------------


def test_single_sample_object() -> None:
    got = reading(MACHINE, {"timestamp": NOW, "power_watts": 1200, "state": "running"})
    assert got == Reading(NOW, {"power_watts": 1200.0, "state": "running"})
    assert type(got.values["power_watts"]) is float


def test_batch_object_and_array_give_the_same_readings() -> None:
    samples = [{"timestamp": NOW - i, "co2_ppm": 400 + i} for i in range(3)]
    from_batch = AIR.parse({"samples": samples}, now=NOW).unwrap()
    from_array = AIR.parse(samples, now=NOW).unwrap()
    assert from_batch == from_array
    assert [r.values["co2_ppm"] for r in from_batch] == [400.0, 401.0, 402.0]
    assert [r.timestamp for r in from_batch] == [NOW, NOW - 1, NOW - 2]


def test_batch_may_carry_envelope_fields() -> None:
    payload = {"device_id": "m-1", "seq": 7, "samples": [{"timestamp": NOW, "state": "idle"}]}
    assert MACHINE.parse(payload, now=NOW).unwrap()[0].values == {"state": "idle"}


def test_envelope_keys_in_a_sample_are_ignored_not_stored() -> None:
    payload = {
        "timestamp": NOW,
        "state": "idle",
        "type": "machine",
        "device_id": "other-device",
        "tenant_id": "someone-else",
        "site_id": "s-9",
        "seq": 12,
        "message_id": "abc",
    }
    assert reading(MACHINE, payload).values == {"state": "idle"}


def test_batch_with_one_bad_sample_keeps_the_good_ones() -> None:
    samples = [
        {"timestamp": NOW, "co2_ppm": 600},
        {"timestamp": NOW, "co2_ppm": -5},
        {"timestamp": NOW, "co2_ppm": 700},
        "not an object",
    ]
    results = AIR.parse_samples({"samples": samples}, now=NOW)
    assert len(results) == 4
    assert [type(r) for r in results] == [Success, Failure, Success, Failure]
    assert results[0].unwrap().values["co2_ppm"] == 600.0
    assert results[2].unwrap().values["co2_ppm"] == 700.0
    bad = results[1].failure()
    assert (bad.index, bad.field) == (1, "co2_ppm")
    not_object = results[3].failure()
    assert not_object.index == 3
    assert "sample 3 must be a JSON object" in not_object.message
    # parse() reports the first failure; partition() splits without Result objects
    assert AIR.parse(samples, now=NOW).failure().index == 1
    good, rejected = AIR.partition(samples, now=NOW)
    assert len(good) == 2
    assert [e.index for e in rejected] == [1, 3]


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ("text", "payload must be a JSON object"),
        (None, "got null"),
        (42, "got number"),
        ([], "no samples"),
        ({"samples": []}, "no samples"),
        ({"samples": {"timestamp": NOW}}, "samples must be a JSON array, got object"),
        ({"samples": [], "extra": 1}, "unknown field 'extra' in a batch"),
    ],
)
def test_bad_payload_shapes_fail_as_a_whole(payload: object, needle: str) -> None:
    results = MACHINE.parse_samples(payload, now=NOW)
    assert len(results) == 1
    error = results[0].failure()
    assert needle in error.message
    assert error.index is None


def test_batch_size_cap() -> None:
    sample = {"timestamp": NOW, "state": "idle"}
    assert len(MACHINE.parse([sample] * MAX_SAMPLES_PER_PAYLOAD, now=NOW).unwrap()) == 1000
    results = MACHINE.parse_samples([sample] * (MAX_SAMPLES_PER_PAYLOAD + 1), now=NOW)
    assert len(results) == 1
    assert results[0].failure().message == (
        "payload has 1001 samples; the limit is 1000 per payload, split it"
    )


# --- timestamps ----------------------------------------------------------------------------


def test_timestamp_is_required() -> None:
    error = failure(MACHINE, {"state": "idle"})
    assert (error.field, error.message, error.index) == ("timestamp", "timestamp is required", 0)


def test_epoch_milliseconds_are_recognised() -> None:
    assert reading(MACHINE, {"timestamp": 1_716_999_999_500, "state": "idle"}).timestamp == (
        1_716_999_999.5
    )
    assert reading(MACHINE, {"timestamp": 1_716_999_999.25, "state": "idle"}).timestamp == (
        1_716_999_999.25
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-29T16:00:00Z", datetime(2024, 5, 29, 16, tzinfo=UTC).timestamp()),
        ("2024-05-29T18:00:00+02:00", datetime(2024, 5, 29, 16, tzinfo=UTC).timestamp()),
        ("2024-05-29T16:00:00.250+00:00", datetime(2024, 5, 29, 16, tzinfo=UTC).timestamp() + 0.25),
    ],
)
def test_iso_timestamps_with_an_offset(text: str, expected: float) -> None:
    assert reading(MACHINE, {"timestamp": text, "state": "idle"}).timestamp == expected


def test_naive_iso_timestamp_is_rejected() -> None:
    error = failure(MACHINE, {"timestamp": "2024-05-29T16:00:00", "state": "idle"})
    assert error.field == "timestamp"
    assert "has no UTC offset" in error.message


def test_timestamp_twenty_minutes_in_the_future_is_rejected() -> None:
    error = failure(MACHINE, {"timestamp": NOW + 1200, "state": "idle"})
    assert error.field == "timestamp"
    assert error.message == "timestamp 1717001200.0 is more than 15 minutes in the future"
    # fourteen minutes ahead is clock skew, not an error
    assert reading(MACHINE, {"timestamp": NOW + 840, "state": "idle"}).timestamp == NOW + 840


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (946_684_799, "before 2000-01-01"),
        ("1999-12-31T23:59:59Z", "before 2000-01-01"),
        (-1, "before 2000-01-01"),
        ("yesterday", "is not an ISO 8601 date-time"),
        ("2024-05-29T16:00:00Z" + " " * 100, "is not an ISO 8601 date-time"),
        (math.nan, "timestamp NaN is not a finite number"),
        (math.inf, "timestamp Infinity is not a finite number"),
        (10**400, "is not a finite number"),
        (True, "got boolean"),
        ([NOW], "got array"),
        (10**30, "more than 15 minutes in the future"),
    ],
)
def test_bad_timestamps(value: object, needle: str) -> None:
    error = failure(MACHINE, {"timestamp": value, "state": "idle"})
    assert error.field == "timestamp"
    assert needle in error.message


# --- fields --------------------------------------------------------------------------------


def test_unknown_field_is_named_not_dropped() -> None:
    error = failure(MACHINE, {"timestamp": NOW, "temprature_c": 40})
    assert error.field == "temprature_c"
    assert error.message.startswith("unknown field 'temprature_c'; machine accepts timestamp,")
    assert "temperature_c" in error.message


def test_derived_measure_cannot_be_sent() -> None:
    error = failure(ENERGY, {"timestamp": NOW, "voltage": 230, "power_watts": 100})
    assert error.field == "power_watts"
    assert error.message == "power_watts is computed by SMDH and cannot be sent"
    assert failure(AIR, {"timestamp": NOW, "aqi_instant": 3}).field == "aqi_instant"


def test_machine_power_watts_is_measured_not_derived() -> None:
    assert reading(MACHINE, {"timestamp": NOW, "power_watts": 5}).values["power_watts"] == 5.0


def test_sample_needs_a_measure() -> None:
    error = failure(AIR, {"timestamp": NOW, "device_id": "a-1"})
    assert error.message.startswith("sample has no measures; send at least one of: co2_ppm,")


def test_null_means_not_measured() -> None:
    got = reading(AIR, {"timestamp": NOW, "co2_ppm": 500, "pm25_ugm3": None})
    assert got.values == {"co2_ppm": 500.0}
    assert failure(AIR, {"timestamp": NOW, "co2_ppm": None}).message.startswith(
        "sample has no measures"
    )


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sensor_type", "field", "value", "message"),
    [
        (AIR, "co2_ppm", -5, "co2_ppm -5 is outside the plausible range 0..40000 ppm"),
        (AIR, "humidity_pct", 140, "humidity_pct 140 is outside the plausible range 0..100 %"),
        (ENERGY, "power_factor", 1.7, "power_factor 1.7 is outside the plausible range -1..1"),
        (
            ENERGY,
            "kwh_cumulative",
            2e12,
            "kwh_cumulative 2000000000000.0 is outside the plausible range 0..1000000000000 kWh",
        ),
        (
            MACHINE,
            "temperature_c",
            500.5,
            "temperature_c 500.5 is outside the plausible range -50..500 °C",
        ),
        (MACHINE, "cycle_count", -1, "cycle_count -1 is below the minimum 0"),
        (
            MACHINE,
            "power_watts",
            True,
            "power_watts must be a number, got boolean (true/false is not a number)",
        ),
        (
            MACHINE,
            "cycle_count",
            False,
            "cycle_count must be a number, got boolean (true/false is not a number)",
        ),
        (MACHINE, "temperature_c", math.nan, "temperature_c NaN is not a finite number"),
        (MACHINE, "temperature_c", -math.inf, "temperature_c -Infinity is not a finite number"),
        (MACHINE, "temperature_c", "20", "temperature_c must be a number, got string"),
        (MACHINE, "cycle_count", 3.5, "cycle_count 3.5 is not a whole number"),
        (ENERGY, "phases", 2, "phases 2 is not one of: 1, 3"),
        (ENERGY, "phases", 3.5, "phases 3.5 is not a whole number"),
    ],
)
def test_number_rules(sensor_type: SensorType, field: str, value: object, message: str) -> None:
    error = failure(sensor_type, {"timestamp": NOW, field: value})
    assert error.field == field
    assert error.index == 0
    assert error.message.startswith(message)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cycle_count", 2**63, "cycle_count 9223372036854775808 is too large to store"),
        pytest.param(
            "cycle_count",
            10**5000,
            "cycle_count a number with thousands of digits is too large",
            id="cycle_count-5000-digits",
        ),
        ("power_watts", 10**400, "power_watts 10000000000000000000... (401 digits) is outside"),
    ],
)
def test_numbers_beyond_storage(field: str, value: int, message: str) -> None:
    error = failure(MACHINE, {"timestamp": NOW, field: value})
    assert error.field == field
    assert error.message.startswith(message)


def test_range_bounds_are_inclusive() -> None:
    got = reading(AIR, {"timestamp": NOW, "co2_ppm": 0, "humidity_pct": 100, "pressure_hpa": 300})
    assert got.values == {"co2_ppm": 0.0, "humidity_pct": 100.0, "pressure_hpa": 300.0}
    assert reading(ENERGY, {"timestamp": NOW, "power_factor": -1}).values["power_factor"] == -1.0


def test_int_measures_accept_integral_floats() -> None:
    got = reading(MACHINE, {"timestamp": NOW, "cycle_count": 3.0, "scrap_count": 0})
    assert got.values == {"cycle_count": 3, "scrap_count": 0}
    assert type(got.values["cycle_count"]) is int
    assert reading(ENERGY, {"timestamp": NOW, "phases": 3.0}).values == {"phases": 3}


# --- strings and enums ---------------------------------------------------------------------


def test_enum_is_case_sensitive_and_lists_its_choices() -> None:
    error = failure(MACHINE, {"timestamp": NOW, "state": "Running"})
    assert (error.field, error.message) == (
        "state",
        "state 'Running' is not one of: running, idle, offline",
    )
    assert failure(MACHINE, {"timestamp": NOW, "state": 1}).message == (
        "state (a JSON number) is not one of: running, idle, offline"
    )


def test_error_code_accepts_text_and_integers() -> None:
    assert reading(MACHINE, {"timestamp": NOW, "error_code": "E-42"}).values["error_code"] == "E-42"
    assert reading(MACHINE, {"timestamp": NOW, "error_code": 42}).values["error_code"] == "42"
    too_long = failure(MACHINE, {"timestamp": NOW, "error_code": "x" * 65})
    assert (too_long.field, too_long.message) == (
        "error_code",
        "error_code is 65 characters long; the limit is 64",
    )
    assert "got boolean" in failure(MACHINE, {"timestamp": NOW, "error_code": True}).message
    assert failure(MACHINE, {"timestamp": NOW, "error_code": 10**70}).field == "error_code"


# --- derived measures ----------------------------------------------------------------------


def test_energy_power_single_phase() -> None:
    got = reading(ENERGY, {"timestamp": NOW, "voltage": 230, "current": 10, "power_factor": 0.9})
    assert got.values["power_watts"] == pytest.approx(2070.0)


def test_energy_power_three_phase_uses_line_to_line_voltage() -> None:
    payload = {"timestamp": NOW, "voltage": 400, "current": 10, "power_factor": 1, "phases": 3}
    assert reading(ENERGY, payload).values["power_watts"] == pytest.approx(math.sqrt(3) * 4000)


def test_energy_power_needs_all_three_inputs() -> None:
    got = reading(ENERGY, {"timestamp": NOW, "voltage": 230, "current": 10})
    assert "power_watts" not in got.values


def test_air_quality_aqi_is_the_worse_of_pm25_and_pm10() -> None:
    assert reading(AIR, {"timestamp": NOW, "pm25_ugm3": 35.9}).values["aqi_instant"] == 102
    both = reading(AIR, {"timestamp": NOW, "pm25_ugm3": 5.0, "pm10_ugm3": 100})
    assert both.values["aqi_instant"] == 73  # PM10 100 -> 73 beats PM2.5 5.0 -> 28
    assert "aqi_instant" not in reading(AIR, {"timestamp": NOW, "co2_ppm": 450}).values


# --- job scans -----------------------------------------------------------------------------


def test_job_scan_parses_and_stores_metadata_as_sorted_compact_json() -> None:
    payload = {
        "timestamp": "2024-05-29T16:00:00Z",
        "job_id": "JOB-1042",
        "location_id": "cell-3",
        "scan_type": "rfid",
        "scanner_id": "gate 3 reader",
        "metadata": {"qty": 12, "operator": "Zoë", "ok": True, "note": None},
    }
    got = reading(SCAN, payload)
    assert got.values == {
        "job_id": "JOB-1042",
        "location_id": "cell-3",
        "scan_type": "rfid",
        "scanner_id": "gate 3 reader",
        "metadata": '{"note":null,"ok":true,"operator":"Zoë","qty":12}',
    }


@pytest.mark.parametrize(
    ("changes", "field", "needle"),
    [
        ({"job_id": None}, "job_id", "job_id is required"),
        ({"location_id": None}, "location_id", "location_id is required"),
        ({"job_id": "JOB 1"}, "job_id", "job_id 'JOB 1' is not a valid job id"),
        ({"job_id": 17}, "job_id", "job_id must be a string, got number"),
        ({"location_id": "../etc"}, "location_id", "is not a valid location id"),
        ({"scan_type": "qr"}, "scan_type", "scan_type 'qr' is not one of: rfid, barcode"),
        ({"scanner_id": "s" * 129}, "scanner_id", "the limit is 128"),
        ({"metadata": "{}"}, "metadata", "metadata must be a JSON object, got string"),
        ({"metadata": {"a": [1]}}, "metadata", "metadata key 'a': the value must be"),
        ({"metadata": {"a": math.nan}}, "metadata", "got NaN"),
        ({"metadata": {f"k{i}": i for i in range(21)}}, "metadata", "the limit is 20"),
        ({"metadata": {"note": "x" * 1100}}, "metadata", "the limit is 1024"),
    ],
)
def test_job_scan_rules(changes: dict[str, object], field: str, needle: str) -> None:
    payload: dict[str, object] = {"timestamp": NOW, "job_id": "J-1", "location_id": "L-1"}
    payload.update(changes)
    error = failure(SCAN, payload)
    assert error.field == field
    assert needle in error.message


# --- reason codes --------------------------------------------------------------------------

BASE: dict[str, object] = {"timestamp": NOW}
SCAN_BASE: dict[str, object] = {"timestamp": NOW, "job_id": "J-1", "location_id": "L-1"}

REASON_CASES: list[tuple[str, SensorType, object]] = [
    # the payload as a whole
    ("bad-shape", MACHINE, "text"),
    ("bad-shape", MACHINE, None),
    ("bad-shape", MACHINE, 42),
    ("bad-shape", MACHINE, {"samples": {"timestamp": NOW}}),
    ("no-samples", MACHINE, []),
    ("no-samples", MACHINE, {"samples": []}),
    ("too-many-samples", MACHINE, [{"timestamp": NOW, "state": "idle"}] * 1001),
    ("unknown-field", MACHINE, {"samples": [], "extra": 1}),
    # one sample
    ("not-a-sample", MACHINE, ["not an object"]),
    ("not-a-sample", MACHINE, [[NOW, 1]]),
    ("unknown-field", MACHINE, {**BASE, "temprature_c": 40}),
    ("derived-field", ENERGY, {**BASE, "voltage": 230, "power_watts": 100}),
    ("derived-field", AIR, {**BASE, "aqi_instant": 3}),
    ("no-measures", AIR, {**BASE, "device_id": "a-1"}),
    ("no-measures", AIR, {**BASE, "co2_ppm": None}),
    ("missing-measure", SCAN, {**BASE, "job_id": "J-1"}),
    ("timestamp-missing", MACHINE, {"state": "idle"}),
    ("timestamp-missing", MACHINE, {"timestamp": None, "state": "idle"}),
    ("timestamp-invalid", MACHINE, {"timestamp": "yesterday", "state": "idle"}),
    ("timestamp-invalid", MACHINE, {"timestamp": "2024-05-29T16:00:00", "state": "idle"}),
    ("timestamp-invalid", MACHINE, {"timestamp": "2024-05-29T16:00:00Z" + " " * 100}),
    ("timestamp-invalid", MACHINE, {"timestamp": math.nan, "state": "idle"}),
    ("timestamp-invalid", MACHINE, {"timestamp": 10**400, "state": "idle"}),
    ("timestamp-invalid", MACHINE, {"timestamp": True, "state": "idle"}),
    ("timestamp-invalid", MACHINE, {"timestamp": [NOW], "state": "idle"}),
    ("timestamp-too-old", MACHINE, {"timestamp": 946_684_799, "state": "idle"}),
    ("timestamp-too-old", MACHINE, {"timestamp": "1999-12-31T23:59:59Z", "state": "idle"}),
    ("timestamp-in-future", MACHINE, {"timestamp": NOW + 1200, "state": "idle"}),
    ("timestamp-in-future", MACHINE, {"timestamp": 10**30, "state": "idle"}),
    # one value
    ("out-of-range", AIR, {**BASE, "co2_ppm": -5}),
    ("out-of-range", MACHINE, {**BASE, "cycle_count": -1}),
    ("out-of-range", MACHINE, {**BASE, "cycle_count": 2**63}),
    ("out-of-range", MACHINE, {**BASE, "power_watts": 10**400}),
    ("wrong-type", MACHINE, {**BASE, "power_watts": True}),
    ("wrong-type", MACHINE, {**BASE, "temperature_c": "20"}),
    ("wrong-type", MACHINE, {**BASE, "cycle_count": 3.5}),
    ("wrong-type", MACHINE, {**BASE, "state": 1}),
    ("wrong-type", SCAN, {**SCAN_BASE, "scanner_id": 7}),
    ("not-finite", MACHINE, {**BASE, "temperature_c": math.nan}),
    ("not-finite", MACHINE, {**BASE, "temperature_c": -math.inf}),
    ("not-allowed-value", MACHINE, {**BASE, "state": "Running"}),
    ("not-allowed-value", ENERGY, {**BASE, "phases": 2}),
    ("too-long", MACHINE, {**BASE, "error_code": "x" * 65}),
    ("too-long", SCAN, {**SCAN_BASE, "metadata": {"note": "x" * 1100}}),
    ("invalid-value", SCAN, {**SCAN_BASE, "job_id": "JOB 1"}),
    ("invalid-value", SCAN, {**SCAN_BASE, "metadata": "{}"}),
    ("invalid-value", MACHINE, {**BASE, "error_code": True}),
]


@pytest.mark.parametrize(
    ("reason_code", "sensor_type", "payload"),
    REASON_CASES,
    ids=[f"{code}-{i}" for i, (code, _, _) in enumerate(REASON_CASES)],
)
def test_reason_codes(reason_code: str, sensor_type: SensorType, payload: object) -> None:
    good, rejected = sensor_type.partition(payload, now=NOW)
    assert good == []
    assert [error.reason_code for error in rejected] == [reason_code]
    assert rejected[0].code == "invalid-payload"  # the HTTP problem type does not change


def test_every_reason_code_is_tested_and_listed() -> None:
    assert {code for code, _, _ in REASON_CASES} == REASON_CODES


def test_reason_codes_follow_the_failing_sample_in_a_batch() -> None:
    samples = [
        {"timestamp": NOW, "co2_ppm": 600},
        {"timestamp": NOW, "co2_ppm": -5},
        {"timestamp": NOW + 3600, "co2_ppm": 700},
        "not an object",
    ]
    _, rejected = AIR.partition(samples, now=NOW)
    assert [(e.index, e.reason_code) for e in rejected] == [
        (1, "out-of-range"),
        (2, "timestamp-in-future"),
        (3, "not-a-sample"),
    ]


def test_invalid_payload_reason_code_defaults_to_its_code() -> None:
    error = InvalidPayload("bad")
    assert (error.code, error.reason_code) == ("invalid-payload", "invalid-payload")
    assert InvalidPayload("bad", reason_code="too-long").reason_code == "too-long"
