"""Property tests: no payload makes a sensor type raise, and valid samples always parse."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from smdh.domain.sensors.base import MeasureSpec, SensorType
from smdh.domain.sensors.registry import default_registry

NOW = 1_717_000_000.0
REGISTRY = default_registry()
TYPES = list(REGISTRY)
FIELD_NAMES = sorted(
    {name for t in TYPES for name in t.measure_names()}
    | {"timestamp", "samples", "device_id", "seq", "metadata"}
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats()  # NaN and infinities included
    | st.floats(min_value=0, max_value=2e12)
    | st.text(max_size=30)
    | st.sampled_from(["running", "rfid", "2024-05-29T16:00:00Z", "2024-05-29T16:00:00"])
)
keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=6),
    max_leaves=15,
)
# samples that look like samples, to get past the shape checks more often
sample_like = st.dictionaries(keys, json_values, max_size=8).map(
    lambda d: d | {"timestamp": d.get("timestamp", NOW)}
)
payloads = (
    json_values
    | sample_like
    | st.lists(sample_like, max_size=5)
    | st.builds(lambda s: {"samples": s}, st.lists(sample_like | json_values, max_size=5))
)


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(type_name=st.sampled_from(REGISTRY.names()), payload=payloads)
def test_no_payload_makes_parsing_raise(type_name: str, payload: object) -> None:
    sensor_type = REGISTRY.get(type_name)
    results = sensor_type.parse_samples(payload, now=NOW)
    assert results
    for result in results:
        if isinstance(result, Failure):
            error = result.failure()
            assert error.message.strip()
            assert error.field is None or isinstance(error.field, str)
        else:
            reading = result.unwrap()
            assert reading.values
            assert math.isfinite(reading.timestamp)
    whole = sensor_type.parse(payload, now=NOW)
    failures = [r.failure() for r in results if isinstance(r, Failure)]
    if failures:
        first = whole.failure()
        assert (first.message, first.field, first.index) == (
            failures[0].message,
            failures[0].field,
            failures[0].index,
        )
    else:
        assert isinstance(whole, Success)
        assert whole.unwrap() == [r.unwrap() for r in results]


def valid_value(spec: MeasureSpec) -> st.SearchStrategy[object]:
    if spec.example is not None:
        return st.just(spec.example)
    if spec.choices:
        return st.sampled_from(spec.choices)
    low = spec.minimum if spec.minimum is not None else 0.0
    high = spec.maximum if spec.maximum is not None else 1e9
    if spec.kind == "float":
        return st.floats(min_value=low, max_value=high) | st.integers(
            min_value=math.ceil(low), max_value=math.floor(high)
        )
    if spec.kind == "int":
        return st.integers(min_value=math.ceil(low), max_value=math.floor(high))
    return st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}", fullmatch=True)


@st.composite
def valid_samples(draw: st.DrawFn, sensor_type: SensorType) -> dict[str, object]:
    accepted = [s for s in sensor_type.measures if not s.derived]
    chosen = [s for s in accepted if s.required or draw(st.booleans())]
    if not chosen:
        chosen = [draw(st.sampled_from(accepted))]
    sample: dict[str, object] = {
        "timestamp": draw(st.floats(min_value=946_684_800, max_value=NOW + 900))
    }
    for spec in chosen:
        sample[spec.name] = draw(valid_value(spec))
    return sample


@settings(max_examples=300)
@given(data=st.data(), type_name=st.sampled_from(REGISTRY.names()))
def test_valid_samples_always_parse(data: st.DataObject, type_name: str) -> None:
    sensor_type = REGISTRY.get(type_name)
    batch = data.draw(st.lists(valid_samples(sensor_type), min_size=1, max_size=5))
    result = sensor_type.parse({"samples": batch}, now=NOW)
    assert isinstance(result, Success), result.failure().message
    for sample, reading in zip(batch, result.unwrap(), strict=True):
        assert set(sample) - {"timestamp"} <= set(reading.values)
