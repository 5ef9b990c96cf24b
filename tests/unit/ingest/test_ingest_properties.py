"""Property tests of the ingest pipeline: whatever a device sends, ``process`` answers.

* Arbitrary JSON (and arbitrary bytes) sent by a device of every sensor type never raises
  out of ``IngestPipeline.process``; every sample is accepted or rejected with a non-empty
  code and reason, and every rejection is a dead letter.
* Junk mixed with known-good records in one micro-batch costs the good ones nothing.

One memory world per module (tenant quota far above anything generated, so the fixed
clock's never-refilling bucket does not interfere); examples are bounded.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from smdh.adapters.memory.clock import FixedClock
from smdh.application import commands as c
from smdh.application.ingest import BatchResult, IngestPipeline, RawRecord
from smdh.application.principals import Principal
from smdh.domain.sensors.registry import default_registry
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId
from smdh.entrypoints.container import Container, build_container

OPERATOR = Principal.operator("ingest-properties")
TENANT = "acme"
SITE = "plant-1"
SENSOR_TYPES = default_registry().names()
PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@attrs.define
class World:
    container: Container
    pipeline: IngestPipeline
    now: float
    kinds: dict[str, str]  # sensor type -> topic kind
    sequence: itertools.count[int] = attrs.field(factory=itertools.count)

    def record(self, device_id: str, sensor_type: str, payload: bytes | str) -> RawRecord:
        kind = self.kinds[sensor_type]
        assert kind in ("telemetry", "scan")
        return RawRecord("test", TENANT, device_id, kind, payload, self.now)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    container = build_container("memory", Path(tmp_path_factory.mktemp("ingest-properties")))
    application = container.application()
    application.execute(
        c.RegisterTenant(
            principal=OPERATOR,
            tenant_id=TenantId(TENANT),
            name="Acme",
            max_readings_per_second=10**12,
        )
    )
    application.execute(
        c.RegisterSite(
            principal=OPERATOR,
            tenant_id=TenantId(TENANT),
            site_id=SiteId(SITE),
            name="Plant",
            timezone="Europe/Berlin",
        )
    )
    for sensor_type in SENSOR_TYPES:
        for role in ("junk", "good"):
            application.execute(
                c.RegisterDevice(
                    principal=OPERATOR,
                    tenant_id=TenantId(TENANT),
                    device_id=DeviceId(f"{role}-{sensor_type.replace('_', '-')}"),
                    site_id=SiteId(SITE),
                    sensor_type=sensor_type,
                    name=f"{role} {sensor_type}",
                )
            )
    kinds = {t.name: t.topic_kind for t in container.sensors()}
    assert container.clock().now().timestamp() == NOW
    return World(container, container.ingest_pipeline(), container.clock().now().timestamp(), kinds)


def device(role: str, sensor_type: str) -> str:
    return f"{role}-{sensor_type.replace('_', '-')}"


# --- strategies --------------------------------------------------------------------------

NOW = FixedClock().now().timestamp()  # the memory profile's clock
MEASURE_NAMES = sorted({m for t in default_registry() for m in t.measure_names()})
KEYS = st.one_of(
    st.sampled_from([*MEASURE_NAMES, "timestamp", "samples", "tenant_id", "device_id", "seq"]),
    st.text(max_size=12),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=NOW - 30 * 86400, max_value=NOW + 3600),  # plausible timestamps
    st.floats(min_value=(NOW - 86400) * 1000, max_value=(NOW + 3600) * 1000),  # epoch ms
    st.text(max_size=40),
    st.sampled_from(["running", "idle", "rfid", "barcode", "2026-01-05T07:59:00Z", "job-1"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(KEYS, children, max_size=6),
    ),
    max_leaves=40,
)
# Sample-shaped objects reach deeper into the parser than uniformly random JSON does.
SAMPLE_LIKE = st.dictionaries(KEYS, JSON_VALUES, max_size=8)
PAYLOAD_OBJECTS = st.one_of(
    JSON_VALUES,
    SAMPLE_LIKE,
    st.lists(SAMPLE_LIKE, max_size=5),
    st.builds(lambda samples: {"samples": samples}, st.lists(SAMPLE_LIKE, max_size=5)),
)


def encoded(value: object, as_bytes: bool) -> bytes | str:
    text = json.dumps(value)  # NaN and Infinity as Python's json writes (and reads) them
    return text.encode() if as_bytes else text


PAYLOADS = st.one_of(
    st.builds(encoded, PAYLOAD_OBJECTS, st.booleans()),
    st.binary(max_size=300),
    st.text(max_size=300),
)


def check_accounting(result: BatchResult, records: int) -> None:
    """Every rejection has a code and a reason and is a dead letter; nothing vanishes."""
    assert len(result.outcomes) == records
    rejections = [r for outcome in result.outcomes for r in outcome.rejected]
    for rejection in rejections:
        assert isinstance(rejection.code, str) and rejection.code.strip(), rejection
        assert isinstance(rejection.reason, str) and rejection.reason.strip(), rejection
    assert result.dead_letters == len(rejections)
    assert sum(result.rejected_by_code.values()) == len(rejections)
    assert sum(o.accepted for o in result.outcomes) == len(result.stored)


# --- never raises ------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(sensor_type=st.sampled_from(SENSOR_TYPES), payload=PAYLOADS)
def test_any_payload_of_any_sensor_type_gets_an_answer(
    world: World, sensor_type: str, payload: bytes | str
) -> None:
    record = world.record(device("junk", sensor_type), sensor_type, payload)
    result = world.pipeline.process([record])  # must not raise
    check_accounting(result, 1)
    outcome = result.outcomes[0]
    assert outcome.accepted > 0 or outcome.rejected, "a record neither stored nor refused"


@PROPERTY_SETTINGS
@given(
    records=st.lists(
        st.tuples(st.sampled_from(SENSOR_TYPES), PAYLOADS, st.sampled_from(["junk", "ghost"])),
        min_size=1,
        max_size=6,
    )
)
def test_batches_of_junk_from_known_and_unknown_devices_get_answers(
    world: World, records: list[tuple[str, bytes | str, str]]
) -> None:
    batch = [
        world.record(device(role, sensor_type), sensor_type, payload)
        for sensor_type, payload, role in records
    ]
    result = world.pipeline.process(batch)
    check_accounting(result, len(batch))
    for (_, _, role), outcome in zip(records, result.outcomes, strict=True):
        if role == "ghost":
            assert outcome.accepted == 0
            assert [r.code for r in outcome.rejected] == ["unknown-device"]


# --- junk never costs the good ones ------------------------------------------------------

_OFFSETS = st.integers(min_value=-6 * 86400, max_value=600)  # within the late window


def _good_machine(offset: int, draw: st.DrawFn) -> dict[str, Any]:
    return {
        "timestamp": NOW + offset,
        "power_watts": draw(st.floats(min_value=0, max_value=5_000_000)),
        "state": draw(st.sampled_from(["running", "idle", "offline"])),
        "cycle_count": draw(st.integers(min_value=0, max_value=2**40)),
    }


def _good_energy(offset: int, draw: st.DrawFn) -> dict[str, Any]:
    return {
        "timestamp": NOW + offset,
        "voltage": draw(st.floats(min_value=0, max_value=1000)),
        "current": draw(st.floats(min_value=0, max_value=10_000)),
        "power_factor": draw(st.floats(min_value=-1, max_value=1)),
        "phases": draw(st.sampled_from([1, 3])),
    }


def _good_air(offset: int, draw: st.DrawFn) -> dict[str, Any]:
    return {
        "timestamp": NOW + offset,
        "co2_ppm": draw(st.floats(min_value=0, max_value=40_000)),
        "pm25_ugm3": draw(st.floats(min_value=0, max_value=1000)),
        "humidity_pct": draw(st.floats(min_value=0, max_value=100)),
    }


def _good_scan(offset: int, draw: st.DrawFn) -> dict[str, Any]:
    return {
        "timestamp": NOW + offset,
        "job_id": f"job-{draw(st.integers(min_value=1, max_value=10**6))}",
        "location_id": draw(st.sampled_from(["station-1", "dock-2", "oven-3"])),
        "scan_type": draw(st.sampled_from(["rfid", "barcode"])),
    }


GOOD_SAMPLE = {
    "machine": _good_machine,
    "energy": _good_energy,
    "air_quality": _good_air,
    "job_scan": _good_scan,
}


@st.composite
def good_records(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    sensor_type = draw(st.sampled_from(sorted(GOOD_SAMPLE)))
    offsets = draw(st.lists(_OFFSETS, min_size=1, max_size=4, unique=True))
    return sensor_type, [GOOD_SAMPLE[sensor_type](offset, draw) for offset in offsets]


def test_every_sensor_type_has_a_good_sample_builder() -> None:
    assert sorted(GOOD_SAMPLE) == sorted(SENSOR_TYPES)


@PROPERTY_SETTINGS
@given(
    good=st.lists(good_records(), min_size=1, max_size=5),
    junk=st.lists(st.tuples(st.sampled_from(SENSOR_TYPES), PAYLOADS), min_size=1, max_size=5),
    order=st.randoms(use_true_random=False),
)
def test_junk_mixed_into_a_batch_never_costs_a_good_record(
    world: World,
    good: list[tuple[str, list[dict[str, Any]]]],
    junk: list[tuple[str, bytes | str]],
    order: Any,
) -> None:
    # one good sample per (device, timestamp) in the batch, so "stored" is unambiguous
    seen: set[tuple[str, float]] = set()
    for sensor_type, samples in good:
        for sample in samples:
            key = (sensor_type, sample["timestamp"])
            assume(key not in seen)
            seen.add(key)
    tagged: list[tuple[str, RawRecord]] = [
        ("good", world.record(device("good", t), t, json.dumps(samples))) for t, samples in good
    ]
    tagged += [("junk", world.record(device("junk", t), t, p)) for t, p in junk]
    order.shuffle(tagged)
    result = world.pipeline.process([record for _, record in tagged])
    check_accounting(result, len(tagged))
    by_record = dict(zip((id(r) for _, r in tagged), result.outcomes, strict=True))
    store = world.container.telemetry_store()
    for sensor_type, samples in good:
        outcomes = [
            by_record[id(r)]
            for tag, r in tagged
            if tag == "good" and r.device_id == device("good", sensor_type)
        ]
        assert all(not o.rejected for o in outcomes), outcomes
        stored = {
            s.timestamp: s.values
            for s in store.query_range(
                TENANT, device("good", sensor_type), NOW - 7 * 86400, NOW + 3600, limit=10_000
            )
        }
        for sample in samples:
            values = stored.get(float(sample["timestamp"]))
            assert values is not None, f"good sample lost: {sample}"
            for name, sent in sample.items():
                if name == "timestamp":
                    continue
                kept = values[name]
                if isinstance(sent, float):
                    assert isinstance(kept, float) and math.isclose(kept, sent), (name, kept)
                else:
                    assert kept == sent, (name, kept, sent)
