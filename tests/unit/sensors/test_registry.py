"""The registry, and every registered sensor type run through the same checks.

The ``every_type`` tests are parametrized over whatever the registry discovers, so a new
sensor type module is covered the day it is added.
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from smdh.domain.sensors.base import (
    DashboardPanel,
    DashboardSpec,
    DefaultRule,
    MeasureSpec,
    MeasureValue,
    Reading,
    SensorType,
)
from smdh.domain.sensors.registry import SensorRegistry, default_registry
from smdh.domain.shared.errors import UnknownSensorType

NOW = 1_717_000_000.0
REGISTRY = default_registry()
EVERY_TYPE = pytest.mark.parametrize("sensor_type", list(REGISTRY), ids=lambda t: t.name)


def test_discovery_finds_exactly_the_four_types() -> None:
    assert REGISTRY.names() == ("air_quality", "energy", "job_scan", "machine")
    assert [t.name for t in REGISTRY] == list(REGISTRY.names())
    assert len(REGISTRY) == 4


def test_default_registry_is_cached() -> None:
    assert default_registry() is REGISTRY


def test_lookup() -> None:
    assert REGISTRY.get("machine").name == "machine"
    assert REGISTRY.find("machine") is REGISTRY.get("machine")
    assert REGISTRY.find("toaster") is None
    assert "energy" in REGISTRY
    assert "toaster" not in REGISTRY


def test_unknown_type_error_lists_the_known_names() -> None:
    with pytest.raises(UnknownSensorType) as caught:
        REGISTRY.get("toaster")
    assert str(caught.value) == (
        "unknown sensor type 'toaster'; known types: air_quality, energy, job_scan, machine"
    )
    assert caught.value.code == "unknown-sensor-type"


def test_duplicate_names_are_refused() -> None:
    machine = REGISTRY.get("machine")
    with pytest.raises(ValueError, match="two sensor types are named 'machine'"):
        SensorRegistry([machine, machine])


def test_discovery_of_another_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "extra_sensor_types"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_helpers.py").write_text("SENSOR_TYPE = 'never imported as a type'\n")
    (package / "no_type.py").write_text("X = 1\n")
    (package / "thermo.py").write_text(
        textwrap.dedent(
            """
            from smdh.domain.sensors.base import DashboardPanel, DashboardSpec, MeasureSpec
            from smdh.domain.sensors.base import SensorType

            SENSOR_TYPE = SensorType(
                name="thermo",
                description="thermometer",
                topic_kind="telemetry",
                measures=(MeasureSpec("temperature_c", unit="°C", minimum=-40, maximum=125),),
                dashboard=DashboardSpec("Thermo", (DashboardPanel("T", ("temperature_c",)),)),
            )
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert SensorRegistry.discover("extra_sensor_types").names() == ("thermo",)
        (package / "broken.py").write_text("SENSOR_TYPE = 'not a sensor type'\n")
        with pytest.raises(TypeError, match=re.escape("broken.SENSOR_TYPE is a str")):
            SensorRegistry.discover("extra_sensor_types")
    finally:
        for name in [m for m in sys.modules if m.startswith("extra_sensor_types")]:
            del sys.modules[name]


def make_type(**changes: object) -> SensorType:
    fields: dict[str, object] = {
        "name": "thermo",
        "description": "thermometer",
        "topic_kind": "telemetry",
        "measures": (MeasureSpec("temperature_c", minimum=-40, maximum=125),),
        "dashboard": DashboardSpec("Thermo", (DashboardPanel("T", ("temperature_c",)),)),
    }
    fields.update(changes)
    return SensorType(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"measures": (MeasureSpec("a"), MeasureSpec("a"))}, "measure name a is taken"),
        ({"measures": (MeasureSpec("timestamp"),)}, "measure name timestamp is taken"),
        (
            {"measures": (MeasureSpec("temperature_c"), MeasureSpec("x", derived=True))},
            "derived measures but no derive",
        ),
        (
            {
                "default_rules": (
                    DefaultRule(name="r", measure="nope", comparison="gt", threshold=1.0),
                )
            },
            "rules or panels name ['nope']",
        ),
        (
            {"dashboard": DashboardSpec("T", (DashboardPanel("p", ("nope",)),))},
            "rules or panels name ['nope']",
        ),
    ],
)
def test_malformed_sensor_types_are_refused(changes: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        make_type(**changes)


@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (lambda: MeasureSpec("s", kind="enum"), "needs string choices"),
        (lambda: MeasureSpec("n", kind="int", choices=("a",)), "only have int choices"),
        (lambda: MeasureSpec("f", choices=(1,)), "cannot have choices"),
        (lambda: MeasureSpec("f", max_length=3), "only str measures"),
        (lambda: MeasureSpec("f", minimum=2, maximum=1), "minimum 2.0 is above maximum 1.0"),
        (
            lambda: DefaultRule(name="r", measure="m", comparison="outside", threshold=1.0),
            "threshold_high goes with 'outside' only",
        ),
        (
            lambda: DefaultRule(name="r", measure="m", comparison="gt", threshold=1, duration_s=-1),
            "duration_s cannot be negative",
        ),
    ],
)
def test_malformed_specs_are_refused(build: Callable[[], object], needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        build()


# --- every registered type -----------------------------------------------------------------


def example_value(spec: MeasureSpec) -> object:
    """A valid payload value built from the spec alone (or its declared example)."""
    if spec.example is not None:
        return spec.example
    if spec.choices:
        return spec.choices[0]
    if spec.kind in ("float", "int"):
        low = spec.minimum if spec.minimum is not None else 0.0
        high = spec.maximum if spec.maximum is not None else low + 100.0
        middle = (low + high) / 2
        return round(middle) if spec.kind == "int" else middle
    return "example-1"  # a valid identifier too, for id-like string measures


def example_sample(sensor_type: SensorType) -> dict[str, object]:
    sample: dict[str, object] = {"timestamp": NOW - 60}
    for spec in sensor_type.measures:
        if not spec.derived:
            sample[spec.name] = example_value(spec)
    return sample


@EVERY_TYPE
def test_every_type_is_well_formed(sensor_type: SensorType) -> None:
    assert sensor_type.name.isidentifier()
    assert sensor_type.description
    assert sensor_type.topic_kind in ("telemetry", "scan")
    names = sensor_type.measure_names()
    assert len(names) == len(set(names))
    assert "timestamp" not in names
    for spec in sensor_type.measures:
        assert spec.name.isidentifier() and spec.name.islower(), spec.name
        assert sensor_type.measure(spec.name) is spec
        if spec.kind == "enum":
            assert spec.choices, spec.name
        if spec.minimum is not None and spec.maximum is not None:
            assert spec.minimum <= spec.maximum
    accepted = [s for s in sensor_type.measures if not s.derived]
    assert accepted, "a sensor type must accept at least one measure"
    assert any(s.derived for s in sensor_type.measures) == (sensor_type.derive is not None)


@EVERY_TYPE
def test_every_type_parses_a_sample_built_from_its_specs(sensor_type: SensorType) -> None:
    sample = example_sample(sensor_type)
    result = sensor_type.parse(sample, now=NOW)
    readings = result.value_or(None)
    assert readings is not None, result.failure().message
    (reading,) = readings
    assert isinstance(reading, Reading)
    assert reading.timestamp == NOW - 60
    for spec in sensor_type.measures:
        if spec.derived:
            continue
        assert spec.name in reading.values
        assert_kind(spec, reading.values[spec.name])
    # the same sample as a batch and as an array
    assert sensor_type.parse({"samples": [sample, sample]}, now=NOW).unwrap() == [reading] * 2
    assert sensor_type.parse([sample], now=NOW).unwrap() == [reading]


@EVERY_TYPE
def test_every_type_derives_only_declared_derived_measures(sensor_type: SensorType) -> None:
    reading = sensor_type.parse(example_sample(sensor_type), now=NOW).unwrap()[0]
    derived = {s.name for s in sensor_type.measures if s.derived}
    assert set(reading.values) - set(example_sample(sensor_type)) <= derived
    for name in derived & set(reading.values):
        spec = sensor_type.measure(name)
        assert spec is not None
        assert_kind(spec, reading.values[name])


@EVERY_TYPE
def test_every_type_rejects_its_derived_measures_and_unknown_fields(
    sensor_type: SensorType,
) -> None:
    for spec in sensor_type.measures:
        if spec.derived:
            sample = example_sample(sensor_type) | {spec.name: 1}
            assert sensor_type.parse(sample, now=NOW).failure().field == spec.name
    sample = example_sample(sensor_type) | {"no_such_measure": 1}
    assert sensor_type.parse(sample, now=NOW).failure().field == "no_such_measure"


@EVERY_TYPE
def test_every_dashboard_panel_names_only_its_measures(sensor_type: SensorType) -> None:
    names = set(sensor_type.measure_names())
    assert sensor_type.dashboard.title
    assert sensor_type.dashboard.panels
    for panel in sensor_type.dashboard.panels:
        assert panel.title
        assert panel.measures
        assert set(panel.measures) <= names, panel.title


@EVERY_TYPE
def test_every_default_rule_names_only_its_measures(sensor_type: SensorType) -> None:
    names = set(sensor_type.measure_names())
    rule_names = [r.name for r in sensor_type.default_rules]
    assert len(rule_names) == len(set(rule_names))
    for rule in sensor_type.default_rules:
        assert rule.measure in names, rule.name
        assert rule.description
        spec = sensor_type.measure(rule.measure)
        assert spec is not None
        if spec.kind in ("float", "int"):
            assert isinstance(rule.threshold, float | int), rule.name
        else:
            assert rule.threshold in spec.choices or spec.kind == "str", rule.name


def assert_kind(spec: MeasureSpec, value: MeasureValue) -> None:
    expected = {"float": float, "int": int, "str": str, "enum": str}[spec.kind]
    assert type(value) is expected, f"{spec.name}: {value!r}"
    if isinstance(value, float | int):
        if spec.minimum is not None:
            assert value >= spec.minimum
        if spec.maximum is not None:
            assert value <= spec.maximum


def test_machine_and_energy_rules_from_the_brief() -> None:
    machine = {r.name: r for r in REGISTRY.get("machine").default_rules}
    offline = machine["machine-offline"]
    assert (offline.measure, offline.comparison, offline.threshold) == ("state", "eq", "offline")
    assert (offline.duration_s, offline.severity) == (900, "warning")
    hot = machine["machine-overheating"]
    assert (hot.measure, hot.comparison, hot.threshold, hot.severity) == (
        "temperature_c",
        "gt",
        90.0,
        "warning",
    )
    (low_pf,) = REGISTRY.get("energy").default_rules
    assert (low_pf.measure, low_pf.comparison, low_pf.threshold) == ("power_factor", "lt", 0.85)


def test_air_quality_rules_from_the_brief() -> None:
    rules = {
        (r.measure, r.comparison, r.threshold, r.severity)
        for r in REGISTRY.get("air_quality").default_rules
    }
    assert ("co2_ppm", "gt", 2000.0, "warning") in rules
    assert ("co2_ppm", "ge", 5000.0, "critical") in rules
    assert ("aqi_instant", "ge", 101.0, "warning") in rules
    assert ("humidity_pct", "outside", 20.0, "info") in rules
    assert REGISTRY.get("job_scan").default_rules == ()
    assert REGISTRY.get("job_scan").topic_kind == "scan"
