"""The ingest pipeline on memory adapters: what is stored, what is refused and why.

The world is registered through ``application.execute`` commands, as the demo does:
tenant ``acme`` (a generous readings quota) with a machine, an energy meter, an air-quality
sensor, a scanner and a decommissioned machine; tenant ``tiny`` whose quota is 10 readings a
second. The memory profile's clock is fixed, so the quota bucket never refills by itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from smdh.application import commands as c
from smdh.application.ingest import (
    DEFAULT_LATE_WINDOW_S,
    MAX_PAYLOAD_BYTES,
    BatchResult,
    IngestPipeline,
    RawRecord,
    RecordKind,
)
from smdh.application.principals import Principal
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId
from smdh.domain.telemetry import DeadLetter, DeviceSample
from smdh.entrypoints.container import Container, build_container

OPERATOR = Principal.operator("ingest-tests")
ACME = "acme"
TINY = "tiny"
SITE = "plant-1"
DEVICES = {
    "m-1": "machine",
    "e-1": "energy",
    "a-1": "air_quality",
    "s-1": "job_scan",
    "gone-1": "machine",
}
# Wide enough for every stored sample of these tests (the clock is 2026-01-05T08:00Z).
EVERYTHING = (0.0, 4e9)


@attrs.define
class World:
    container: Container
    pipeline: IngestPipeline
    now: float

    def record(
        self,
        device_id: str,
        payload: object,
        *,
        tenant_id: str = ACME,
        kind: RecordKind = "telemetry",
        raw: bool = False,
    ) -> RawRecord:
        body = payload if raw else json.dumps(payload)
        assert isinstance(body, str | bytes)
        return RawRecord("test", tenant_id, device_id, kind, body, self.now)

    def stored(self, device_id: str, tenant_id: str = ACME) -> list[DeviceSample]:
        store = self.container.telemetry_store()
        found: list[DeviceSample] = store.query_range(
            tenant_id, device_id, *EVERYTHING, limit=10_000
        )
        return found

    def letters(self, tenant_id: str = ACME) -> list[DeadLetter]:
        return [letter for _, letter in self.container.dead_letters().list(tenant_id, limit=10_000)]


def register_world(container: Container, *, acme_rate: int = 1_000_000) -> None:
    application = container.application()
    for tenant, rate in ((ACME, acme_rate), (TINY, 10)):
        application.execute(
            c.RegisterTenant(
                principal=OPERATOR,
                tenant_id=TenantId(tenant),
                name=f"{tenant} Corp",
                max_readings_per_second=rate,
            )
        )
        application.execute(
            c.RegisterSite(
                principal=OPERATOR,
                tenant_id=TenantId(tenant),
                site_id=SiteId(SITE),
                name="Plant 1",
                timezone="Europe/Berlin",
            )
        )
    for device_id, sensor_type in DEVICES.items():
        application.execute(
            c.RegisterDevice(
                principal=OPERATOR,
                tenant_id=TenantId(ACME),
                device_id=DeviceId(device_id),
                site_id=SiteId(SITE),
                sensor_type=sensor_type,
                name=device_id,
            )
        )
    application.execute(
        c.RegisterDevice(
            principal=OPERATOR,
            tenant_id=TenantId(TINY),
            device_id=DeviceId("m-9"),
            site_id=SiteId(SITE),
            sensor_type="machine",
            name="m-9",
        )
    )
    application.execute(
        c.DecommissionDevice(
            principal=OPERATOR,
            tenant_id=TenantId(ACME),
            device_id=DeviceId("gone-1"),
            reason="scrapped",
        )
    )


@pytest.fixture
def world(tmp_path: Path) -> World:
    container = build_container("memory", tmp_path)
    register_world(container)
    pipeline: IngestPipeline = container.ingest_pipeline()
    return World(container, pipeline, container.clock().now().timestamp())


def machine_sample(ts: float, power: float = 1500.0) -> dict[str, Any]:
    return {"timestamp": ts, "power_watts": power, "state": "running", "cycle_count": 7}


def codes(result: BatchResult, record: int = 0) -> list[str]:
    return [r.code for r in result.outcomes[record].rejected]


# --- one reason each ---------------------------------------------------------------------


def test_a_valid_sample_is_stored_under_the_registry_identity(world: World) -> None:
    result = world.pipeline.process([world.record("m-1", machine_sample(world.now - 10))])
    assert result.outcomes[0].accepted == 1
    assert result.outcomes[0].rejected == ()
    assert result.dead_letters == 0
    [sample] = world.stored("m-1")
    assert (sample.tenant_id, sample.site_id, sample.device_id, sample.sensor_type) == (
        ACME,
        SITE,
        "m-1",
        "machine",
    )
    assert sample.timestamp == world.now - 10
    assert sample.values == {"power_watts": 1500.0, "state": "running", "cycle_count": 7}


@pytest.mark.parametrize(
    ("device_id", "tenant_id", "kind", "body", "code"),
    [
        ("nope-1", ACME, "telemetry", '{"timestamp": 1}', "unknown-device"),
        # a real device id, but claimed under another tenant: unknown there
        ("m-1", TINY, "telemetry", '{"timestamp": 1}', "unknown-device"),
        ("gone-1", ACME, "telemetry", "{}", "device-decommissioned"),
        ("m-1", ACME, "telemetry", "{not json", "malformed-json"),
        ("m-1", ACME, "telemetry", b"\xff\xfe\x00garbage", "malformed-json"),
        ("m-1", ACME, "telemetry", "", "malformed-json"),
        ("m-1", ACME, "scan", "{}", "wrong-topic"),  # a machine does not send scans
        ("s-1", ACME, "telemetry", "{}", "wrong-topic"),  # a scanner does not send telemetry
        ("m-1", ACME, "telemetry", "x" * (MAX_PAYLOAD_BYTES + 1), "payload-too-large"),
    ],
)
def test_a_refused_record_is_one_dead_letter_with_its_code(
    world: World, device_id: str, tenant_id: str, kind: RecordKind, body: str | bytes, code: str
) -> None:
    record = RawRecord("test", tenant_id, device_id, kind, body, world.now)
    result = world.pipeline.process([record])
    assert result.outcomes[0].accepted == 0
    [rejection] = result.outcomes[0].rejected
    assert (rejection.code, rejection.index) == (code, None)
    assert rejection.reason
    assert result.dead_letters == 1
    assert result.rejected_by_code == {code: 1}
    assert result.stored == []
    [letter] = world.letters(tenant_id)
    assert (letter.reason_code, letter.device_id, letter.source) == (code, device_id, "test")
    assert letter.reason == rejection.reason
    # the raw record is kept, capped, for inspection
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    assert letter.payload == text[:4096] + ("" if len(text) <= 4096 else letter.payload[4096:])
    assert len(letter.payload) < 4200
    assert world.stored(device_id, tenant_id) == []


def test_a_payload_of_exactly_the_limit_is_not_too_large(world: World) -> None:
    body = json.dumps(machine_sample(world.now))
    padded = body[:-1] + " " * (MAX_PAYLOAD_BYTES - len(body)) + "}"
    assert len(padded) == MAX_PAYLOAD_BYTES
    result = world.pipeline.process([world.record("m-1", padded, raw=True)])
    assert result.outcomes[0].accepted == 1


@pytest.mark.parametrize(
    ("device_id", "sample", "code"),
    [
        ("m-1", {"power_watts": -5.0}, "out-of-range"),
        ("a-1", {"co2_ppm": 40_001}, "out-of-range"),
        ("e-1", {"power_factor": 1.5}, "out-of-range"),
        ("m-1", {"state": "exploded"}, "not-allowed-value"),
        ("m-1", {"power_watts": "many"}, "wrong-type"),
        ("m-1", {"pwer_watts": 1.0}, "unknown-field"),
        ("e-1", {"power_watts": 1.0}, "derived-field"),
    ],
)
def test_an_invalid_value_is_a_dead_letter_with_the_parser_code(
    world: World, device_id: str, sample: dict[str, Any], code: str
) -> None:
    result = world.pipeline.process([world.record(device_id, {"timestamp": world.now, **sample})])
    [rejection] = result.outcomes[0].rejected
    assert (rejection.code, rejection.index) == (code, 0)
    [letter] = world.letters()
    assert (letter.reason_code, letter.index) == (code, 0)
    assert world.stored(device_id) == []


def test_a_timestamp_more_than_15_minutes_ahead_is_in_the_future(world: World) -> None:
    ahead = world.record("m-1", machine_sample(world.now + 901))
    fine = world.record("m-1", machine_sample(world.now + 899))
    result = world.pipeline.process([ahead, fine])
    assert codes(result, 0) == ["timestamp-in-future"]
    assert result.outcomes[1].accepted == 1
    assert [s.timestamp for s in world.stored("m-1")] == [world.now + 899]
    assert [letter.reason_code for letter in world.letters()] == ["timestamp-in-future"]


def test_a_sample_older_than_the_late_window_is_too_late(world: World) -> None:
    window = DEFAULT_LATE_WINDOW_S
    late = world.now - window - 60
    in_window = world.now - window + 60
    result = world.pipeline.process(
        [world.record("m-1", {"samples": [machine_sample(late), machine_sample(in_window)]})]
    )
    assert result.outcomes[0].accepted == 1
    assert codes(result) == ["too-late"]
    assert "late-data window" in result.outcomes[0].rejected[0].reason
    assert result.outcomes[0].rejected[0].index == 0
    assert [letter.index for letter in world.letters()] == [0]
    assert [s.timestamp for s in world.stored("m-1")] == [in_window]
    assert result.rejected_by_code == {"too-late": 1}


def test_a_custom_late_window_is_honoured(world: World) -> None:
    container = world.container
    strict = IngestPipeline(
        devices=container.application().devices,
        directory=container.application().directory,
        sensors=container.sensors(),
        store=container.telemetry_store(),
        dead_letters=container.dead_letters(),
        clock=container.clock(),
        late_window_s=3600,
    )
    result = strict.process([world.record("m-1", machine_sample(world.now - 3601))])
    assert codes(result) == ["too-late"]


def test_every_rejection_in_a_mixed_batch_is_counted_by_code(world: World) -> None:
    records = [
        world.record("nope", {}),
        world.record("m-1", "{", raw=True),
        world.record("m-1", {"samples": [{"timestamp": world.now, "power_watts": -1}]}),
        world.record("m-1", machine_sample(world.now)),
    ]
    result = world.pipeline.process(records)
    assert result.rejected_by_code == {"unknown-device": 1, "malformed-json": 1, "out-of-range": 1}
    assert result.dead_letters == 3
    assert [o.accepted for o in result.outcomes] == [0, 0, 0, 1]
    assert len(world.letters()) == 3


# --- good samples survive bad neighbours -------------------------------------------------


def test_a_batch_with_one_bad_sample_stores_the_good_ones(world: World) -> None:
    samples = [machine_sample(world.now - 100 + i, power=100.0 * i) for i in range(10)]
    samples[4] = {"timestamp": world.now - 96, "power_watts": 1e12}  # out of range
    result = world.pipeline.process([world.record("m-1", {"samples": samples})])
    outcome = result.outcomes[0]
    assert outcome.accepted == 9
    [rejection] = outcome.rejected
    assert (rejection.index, rejection.code) == (4, "out-of-range")
    stored = world.stored("m-1")
    assert [s.timestamp for s in stored] == [world.now - 100 + i for i in range(10) if i != 4]
    [letter] = world.letters()
    assert (letter.index, letter.reason_code) == (4, "out-of-range")


def test_a_bad_record_does_not_cost_other_records_of_the_micro_batch(world: World) -> None:
    records = [
        world.record("m-1", machine_sample(world.now - 3)),
        world.record("ghost", machine_sample(world.now - 2)),
        world.record("m-1", b"\x00\x01", raw=True),
        world.record("a-1", {"timestamp": world.now - 1, "co2_ppm": 600}),
    ]
    result = world.pipeline.process(records)
    assert [o.accepted for o in result.outcomes] == [1, 0, 0, 1]
    assert len(result.stored) == 2
    assert len(world.stored("m-1")) == 1
    assert len(world.stored("a-1")) == 1


# --- tenancy -----------------------------------------------------------------------------


def test_the_tenant_comes_from_the_registry_never_from_the_payload(world: World) -> None:
    payload = {**machine_sample(world.now), "tenant_id": "other", "site_id": "elsewhere"}
    payload["device_id"] = "m-9"
    result = world.pipeline.process([world.record("m-1", payload)])
    assert result.outcomes[0].accepted == 1
    [sample] = result.stored
    assert (sample.tenant_id, sample.site_id, sample.device_id) == (ACME, SITE, "m-1")
    assert len(world.stored("m-1")) == 1
    assert world.stored("m-1", tenant_id="other") == []
    assert world.stored("m-9", tenant_id=TINY) == []


# --- idempotence and derived measures ----------------------------------------------------


def test_replaying_the_same_records_three_times_stores_the_same_data(world: World) -> None:
    records = [
        world.record("m-1", {"samples": [machine_sample(world.now - i) for i in range(20)]}),
        world.record(
            "e-1",
            {"timestamp": world.now, "voltage": 400, "current": 10, "power_factor": 0.9},
        ),
        world.record("a-1", {"timestamp": world.now, "co2_ppm": 800, "pm25_ugm3": 35.9}),
        world.record(
            "s-1",
            {"timestamp": world.now, "job_id": "job-1", "location_id": "station-1"},
            kind="scan",
        ),
    ]
    snapshots = []
    for _ in range(3):
        result = world.pipeline.process(records)
        assert [o.accepted for o in result.outcomes] == [20, 1, 1, 1]
        snapshots.append({d: world.stored(d) for d in ("m-1", "e-1", "a-1", "s-1")})
    assert snapshots[0] == snapshots[1] == snapshots[2]
    assert len(snapshots[0]["m-1"]) == 20
    latest = world.container.telemetry_store().latest(ACME, "m-1")
    assert {p.measure for p in latest} == {"power_watts", "state", "cycle_count"}


def test_air_quality_gets_aqi_instant(world: World) -> None:
    sample = {"timestamp": world.now, "co2_ppm": 800, "pm25_ugm3": 35.9, "pm10_ugm3": 40}
    world.pipeline.process([world.record("a-1", sample)])
    [stored] = world.stored("a-1")
    assert stored.values["aqi_instant"] == 102
    assert stored.values["co2_ppm"] == 800.0


def test_energy_gets_power_watts_single_and_three_phase(world: World) -> None:
    single = {"timestamp": world.now - 1, "voltage": 230, "current": 10, "power_factor": 0.5}
    three = {**single, "timestamp": world.now, "voltage": 400, "phases": 3}
    world.pipeline.process([world.record("e-1", {"samples": [single, three]})])
    first, second = world.stored("e-1")
    assert first.values["power_watts"] == pytest.approx(1150.0)
    assert second.values["power_watts"] == pytest.approx(math.sqrt(3) * 400 * 10 * 0.5)


def test_no_derived_measure_without_its_inputs(world: World) -> None:
    world.pipeline.process(
        [
            world.record("e-1", {"timestamp": world.now, "voltage": 230}),
            world.record("a-1", {"timestamp": world.now, "co2_ppm": 500}),
        ]
    )
    assert "power_watts" not in world.stored("e-1")[0].values
    assert "aqi_instant" not in world.stored("a-1")[0].values


# --- quotas ------------------------------------------------------------------------------


def test_a_tenant_over_its_readings_quota_gets_quota_exceeded(world: World) -> None:
    samples = [machine_sample(world.now - 100 + i) for i in range(25)]
    result = world.pipeline.process([world.record("m-9", {"samples": samples}, tenant_id=TINY)])
    outcome = result.outcomes[0]
    assert outcome.accepted == 10
    assert [r.code for r in outcome.rejected] == ["quota-exceeded"] * 15
    assert [r.index for r in outcome.rejected] == list(range(10, 25))
    assert result.rejected_by_code == {"quota-exceeded": 15}
    assert result.dead_letters == 15
    # the first ten samples are the ones kept
    assert [s.timestamp for s in world.stored("m-9", TINY)] == [
        world.now - 100 + i for i in range(10)
    ]
    letters = world.letters(TINY)
    assert [letter.reason_code for letter in letters] == ["quota-exceeded"] * 15
    # acme is not affected by tiny's quota
    assert world.pipeline.process([world.record("m-1", machine_sample(world.now))]).stored


def test_the_quota_is_per_second_and_refills(world: World) -> None:
    clock = world.container.clock()
    first = [machine_sample(world.now - 50 + i) for i in range(10)]
    assert (
        world.pipeline.process([world.record("m-9", first, tenant_id=TINY)]).outcomes[0].accepted
        == 10
    )
    more = world.record("m-9", [machine_sample(world.now - 30)], tenant_id=TINY)
    assert codes(world.pipeline.process([more])) == ["quota-exceeded"]
    clock.advance(1.0)
    later = world.record(
        "m-9", [machine_sample(world.now - 20 + i) for i in range(12)], tenant_id=TINY
    )
    result = world.pipeline.process([later])
    assert result.outcomes[0].accepted == 10
    assert codes(result) == ["quota-exceeded"] * 2


def test_every_per_sample_rejection_names_its_sample(world: World) -> None:
    # Regression: too-late and quota-exceeded rejections had index None, so an HTTP client
    # could not tell which samples of a partly accepted message to send again.
    late = world.now - DEFAULT_LATE_WINDOW_S - 10
    samples = [
        machine_sample(world.now - 9),  # 0: stored
        {"timestamp": world.now, "power_watts": -1},  # 1: out-of-range
        machine_sample(late),  # 2: too-late
        machine_sample(world.now - 8),  # 3: stored
        "not a sample",  # 4: not-a-sample
        machine_sample(world.now - 7),  # 5: quota-exceeded (tiny has 2 tokens left)
        machine_sample(late - 1),  # 6: too-late
        machine_sample(world.now - 6),  # 7: quota-exceeded
    ]
    spent = world.pipeline.process(
        [
            world.record(
                "m-9", [machine_sample(world.now - 50 + i) for i in range(8)], tenant_id=TINY
            )
        ]
    )
    assert spent.outcomes[0].accepted == 8
    result = world.pipeline.process([world.record("m-9", samples, tenant_id=TINY)])
    outcome = result.outcomes[0]
    assert outcome.accepted == 2
    assert sorted((r.index, r.code) for r in outcome.rejected) == [
        (1, "out-of-range"),
        (2, "too-late"),
        (4, "not-a-sample"),
        (5, "quota-exceeded"),
        (6, "too-late"),
        (7, "quota-exceeded"),
    ]
    stored = {s.timestamp for s in world.stored("m-9", TINY)}
    assert {world.now - 9, world.now - 8} <= stored
    assert world.now - 7 not in stored


def test_quota_is_spent_across_the_records_of_a_batch(world: World) -> None:
    records = [
        world.record("m-9", [machine_sample(world.now - 60 + i)], tenant_id=TINY) for i in range(14)
    ]
    result = world.pipeline.process(records)
    assert [o.accepted for o in result.outcomes] == [1] * 10 + [0] * 4
    assert result.rejected_by_code == {"quota-exceeded": 4}
    assert len(world.stored("m-9", TINY)) == 10


# --- after-store hooks -------------------------------------------------------------------


def test_after_store_hooks_get_exactly_the_stored_samples(world: World) -> None:
    seen: list[list[DeviceSample]] = []
    world.pipeline.add_after_store_hook(lambda samples: seen.append(list(samples)))
    result = world.pipeline.process(
        [
            world.record("m-1", [machine_sample(world.now - 1), {"timestamp": world.now}]),
            world.record("ghost", machine_sample(world.now)),
            world.record("a-1", {"timestamp": world.now, "pm25_ugm3": 10.0}),
        ]
    )
    assert len(seen) == 1
    assert seen[0] == result.stored
    assert sorted((s.device_id, s.timestamp) for s in seen[0]) == [
        ("a-1", world.now),
        ("m-1", world.now - 1),
    ]
    stored = world.stored("m-1") + world.stored("a-1")
    assert sorted(s.timestamp for s in stored) == sorted(s.timestamp for s in seen[0])


def test_hooks_do_not_run_when_nothing_was_stored(world: World) -> None:
    seen: list[Sequence[DeviceSample]] = []
    world.pipeline.add_after_store_hook(seen.append)
    world.pipeline.process([world.record("ghost", machine_sample(world.now))])
    assert seen == []


def test_a_raising_hook_loses_no_data_and_later_hooks_still_run(world: World) -> None:
    def explode(samples: Sequence[DeviceSample]) -> None:
        raise RuntimeError("alert evaluation is broken")

    seen: list[int] = []
    world.pipeline.add_after_store_hook(explode)
    world.pipeline.add_after_store_hook(lambda samples: seen.append(len(samples)))
    result = world.pipeline.process([world.record("m-1", machine_sample(world.now))])
    assert result.outcomes[0].accepted == 1
    assert seen == [1]
    assert len(world.stored("m-1")) == 1
    assert result.dead_letters == 0


def test_hooks_run_after_the_write_is_durable(world: World) -> None:
    store = world.container.telemetry_store()
    visible: list[int] = []
    world.pipeline.add_after_store_hook(
        lambda samples: visible.append(len(store.query_range(ACME, "m-1", *EVERYTHING)))
    )
    world.pipeline.process([world.record("m-1", machine_sample(world.now))])
    assert visible == [1]


# --- hostile payloads --------------------------------------------------------------------


@pytest.mark.parametrize("body", ["[" * 100_000, '{"a":' * 50_000, "[" * 5000 + "]" * 5000])
def test_deeply_nested_json_is_malformed_and_costs_nobody_else(world: World, body: str) -> None:
    # Regression: json.loads raised RecursionError (not a ValueError) out of process(),
    # failing the whole micro-batch, so the neighbours' good samples were never stored.
    records = [
        world.record("m-1", machine_sample(world.now - 1)),
        world.record("m-1", body, raw=True),
        world.record("a-1", {"timestamp": world.now, "co2_ppm": 450}),
    ]
    result = world.pipeline.process(records)
    assert [o.accepted for o in result.outcomes] == [1, 0, 1]
    assert codes(result, 1) in (["malformed-json"], ["bad-shape"], ["not-a-sample"])
    assert len(world.stored("m-1")) == 1
    assert len(world.stored("a-1")) == 1
