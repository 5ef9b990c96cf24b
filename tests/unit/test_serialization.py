"""EventSerializer: round trips of rich events, upcasting, registry errors."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, ClassVar

import attrs
import cattrs
import pytest

from smdh.adapters.serialization import (
    ENVELOPE_FIELDS,
    EventSerializer,
    SerializedEvent,
    UnknownEventType,
)
from smdh.domain.shared.events import DomainEvent
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId

# Event classes here are prefixed "Serial" so their type names never clash with domain events
# in the process-wide DomainEvent subclass registry that EventSerializer() discovers.


class SerialSeverity(StrEnum):
    INFO = "info"
    CRITICAL = "critical"


@attrs.frozen
class SerialThreshold:
    measure: str
    limit: float
    severity: SerialSeverity


@attrs.frozen
class SerialWindow:
    minutes: int
    thresholds: tuple[SerialThreshold, ...]


@attrs.frozen(kw_only=True)
class SerialRuleDefined(DomainEvent):
    tenant: TenantId
    site: SiteId
    device: DeviceId | None
    severity: SerialSeverity
    window: SerialWindow
    labels: dict[str, str]
    by_measure: dict[str, SerialThreshold]
    recipients: tuple[str, ...]
    note: str | None = None
    escalate_after_s: int | None = None


@attrs.frozen(kw_only=True)
class SerialSiteRenamed(DomainEvent):
    """Schema 2: ``title`` was renamed ``name``."""

    schema_version: ClassVar[int] = 2
    name: str


@attrs.frozen(kw_only=True)
class SerialReadingTaken(DomainEvent):
    """Schema 3. v1 had ``reading``; v2 renamed it ``value``; v3 added ``unit``."""

    schema_version: ClassVar[int] = 3
    value: float
    unit: str


def reading_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {"value": data["reading"]}


def reading_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "unit": "celsius"}


T0 = datetime(2025, 3, 1, 9, 30, 15, 250000, tzinfo=timezone(timedelta(hours=1)))
ENVELOPE: dict[str, Any] = {
    "aggregate_id": "agg-1",
    "version": 4,
    "occurred_at": T0,
    "tenant_id": "acme",
    "actor": "user:ada@example.com",
}


def rule_event(**overrides: Any) -> SerialRuleDefined:
    hot = SerialThreshold("temperature", 85.5, SerialSeverity.CRITICAL)
    loud = SerialThreshold("noise", 90.0, SerialSeverity.INFO)
    fields: dict[str, Any] = {
        **ENVELOPE,
        "tenant": TenantId("acme"),
        "site": SiteId("plant-1"),
        "device": DeviceId("press-7"),
        "severity": SerialSeverity.CRITICAL,
        "window": SerialWindow(5, (hot, loud)),
        "labels": {"line": "A", "shift": "night"},
        "by_measure": {"temperature": hot},
        "recipients": ("ops@example.com", "+15550100"),
        "note": "too hot",
        "escalate_after_s": 300,
    }
    fields.update(overrides)
    return SerialRuleDefined(**fields)


def record(event_type: str, schema_version: int, data: dict[str, Any]) -> SerializedEvent:
    return SerializedEvent(
        aggregate_id="agg-1",
        version=1,
        tenant_id="acme",
        event_type=event_type,
        schema_version=schema_version,
        occurred_at="2025-03-01T08:00:00+00:00",
        actor="device:t1",
        data=json.dumps(data),
    )


def readings_serializer() -> EventSerializer:
    return EventSerializer(
        event_types=[SerialReadingTaken, SerialSiteRenamed, SerialRuleDefined],
        upcasters={
            ("SerialReadingTaken", 1): reading_v1_to_v2,
            ("SerialReadingTaken", 2): reading_v2_to_v3,
        },
    )


class TestRoundTrip:
    def test_a_rich_event_round_trips(self) -> None:
        serializer = EventSerializer(event_types=[SerialRuleDefined])
        event = rule_event()
        stored = serializer.serialize(event)
        assert stored.event_type == "SerialRuleDefined"
        assert stored.schema_version == 1
        assert (stored.aggregate_id, stored.version, stored.tenant_id) == ("agg-1", 4, "acme")
        assert stored.actor == "user:ada@example.com"
        payload = json.loads(stored.data)
        assert not ENVELOPE_FIELDS & payload.keys()
        assert payload["window"]["thresholds"][0] == {
            "measure": "temperature",
            "limit": 85.5,
            "severity": "critical",
        }
        loaded = serializer.deserialize(stored)
        assert loaded == event
        assert isinstance(loaded, SerialRuleDefined)
        assert type(loaded.tenant) is TenantId
        assert type(loaded.site) is SiteId
        assert type(loaded.device) is DeviceId
        assert loaded.severity is SerialSeverity.CRITICAL
        assert isinstance(loaded.window.thresholds, tuple)
        assert loaded.window.thresholds[1].severity is SerialSeverity.INFO
        assert loaded.by_measure["temperature"] == SerialThreshold(
            "temperature", 85.5, SerialSeverity.CRITICAL
        )

    def test_datetimes_stay_timezone_aware_and_come_back_in_utc(self) -> None:
        serializer = EventSerializer(event_types=[SerialRuleDefined])
        loaded = serializer.deserialize(serializer.serialize(rule_event()))
        assert loaded.occurred_at == T0
        assert loaded.occurred_at.utcoffset() == timedelta(0)
        assert loaded.occurred_at == datetime(2025, 3, 1, 8, 30, 15, 250000, tzinfo=UTC)

    def test_optional_fields_round_trip_when_empty(self) -> None:
        serializer = EventSerializer(event_types=[SerialRuleDefined])
        event = rule_event(device=None, note=None, escalate_after_s=None, labels={})
        assert serializer.deserialize(serializer.serialize(event)) == event

    def test_serialization_is_deterministic(self) -> None:
        serializer = EventSerializer(event_types=[SerialRuleDefined])
        shuffled = rule_event(labels={"shift": "night", "line": "A"})
        assert serializer.serialize(shuffled) == serializer.serialize(rule_event())

    def test_a_naive_timestamp_is_refused_on_load(self) -> None:
        serializer = readings_serializer()
        naive = attrs.evolve(
            record("SerialReadingTaken", 3, {"value": 1.0, "unit": "bar"}),
            occurred_at="2025-03-01T08:00:00",
        )
        with pytest.raises((ValueError, cattrs.BaseValidationError)):
            serializer.deserialize(naive)


class TestUpcasting:
    def test_v1_is_upcast_to_v2(self) -> None:
        serializer = EventSerializer(event_types=[SerialSiteRenamed])
        serializer.register_upcaster("SerialSiteRenamed", 1, lambda d: {"name": d["title"]})
        loaded = serializer.deserialize(record("SerialSiteRenamed", 1, {"title": "Plant 1"}))
        assert isinstance(loaded, SerialSiteRenamed)
        assert loaded.name == "Plant 1"
        assert loaded.aggregate_id == "agg-1"

    def test_v1_is_upcast_to_v3_through_every_step(self) -> None:
        loaded = readings_serializer().deserialize(
            record("SerialReadingTaken", 1, {"reading": 21.5})
        )
        assert isinstance(loaded, SerialReadingTaken)
        assert (loaded.value, loaded.unit) == (21.5, "celsius")

    def test_v2_starts_from_its_own_step(self) -> None:
        loaded = readings_serializer().deserialize(record("SerialReadingTaken", 2, {"value": 3.0}))
        assert (loaded.value, loaded.unit) == (3.0, "celsius")  # type: ignore[attr-defined]

    def test_the_current_version_is_not_upcast(self) -> None:
        current = record("SerialReadingTaken", 3, {"value": 3.0, "unit": "kelvin"})
        loaded = readings_serializer().deserialize(current)
        assert (loaded.value, loaded.unit) == (3.0, "kelvin")  # type: ignore[attr-defined]

    def test_a_missing_upcaster_is_a_clear_error(self) -> None:
        serializer = EventSerializer(
            event_types=[SerialReadingTaken],
            upcasters={("SerialReadingTaken", 2): reading_v2_to_v3},
        )
        with pytest.raises(UnknownEventType, match=r"no upcaster for SerialReadingTaken.* 1"):
            serializer.deserialize(record("SerialReadingTaken", 1, {"reading": 21.5}))


class TestRegistry:
    def test_an_unknown_event_type_is_a_clear_error(self) -> None:
        with pytest.raises(UnknownEventType, match="'SerialNeverDefined'"):
            readings_serializer().deserialize(record("SerialNeverDefined", 1, {}))

    def test_registering_the_same_class_twice_is_harmless(self) -> None:
        serializer = EventSerializer(event_types=[SerialSiteRenamed, SerialSiteRenamed])
        event = SerialSiteRenamed(**ENVELOPE, name="x")
        assert serializer.deserialize(serializer.serialize(event)) == event

    def test_two_classes_with_the_same_name_are_rejected(self) -> None:
        _expect_duplicate_name_rejected()
        # The throwaway classes must not outlive the test: EventSerializer() discovers event
        # classes via DomainEvent.__subclasses__() and would trip over the duplicate name.
        gc.collect()
        assert "SerialDuplicate" not in {c.__name__ for c in DomainEvent.__subclasses__()}


def _expect_duplicate_name_rejected() -> None:
    def make() -> type[DomainEvent]:
        @attrs.frozen(kw_only=True)
        class SerialDuplicate(DomainEvent):
            value: int

        return SerialDuplicate

    first, second = make(), make()
    assert first is not second
    with pytest.raises(ValueError, match="two event classes are named SerialDuplicate"):
        EventSerializer(event_types=[first, second])
