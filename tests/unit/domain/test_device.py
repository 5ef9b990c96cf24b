"""The Device aggregate: profile, desired/reported configuration, credentials, retirement."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from smdh.domain.assets import device as d
from smdh.domain.shared.errors import DeviceIsDecommissioned, InvariantViolation, ValidationError
from smdh.domain.shared.events import DomainEvent, EventContext
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId

CTX = EventContext(datetime(2026, 1, 5, 8, 0, tzinfo=UTC), "user:acme/alice")
LATER = EventContext(datetime(2026, 1, 6, 9, 15, tzinfo=UTC), "device:acme/m-1")


def state(device: d.Device) -> dict[str, Any]:
    return {k: v for k, v in vars(device).items() if k != "_pending"}


def profile(name: str = "Press 1", site: str = "plant-1", **extra: Any) -> d.DeviceProfile:
    return d.DeviceProfile.create(name, SiteId(site), **extra)


def new_device() -> d.Device:
    return d.Device.register(
        TenantId("acme"), DeviceId("m-1"), "machine", profile(), "sha256$hash-1", CTX
    )


def test_register_records_device_registered() -> None:
    device = new_device()
    [event] = device.pending_events()
    assert isinstance(event, d.DeviceRegistered)
    assert event.aggregate_id == "device:acme:m-1" == device.id
    assert (event.version, event.tenant_id, event.actor) == (1, "acme", CTX.actor)
    assert event.occurred_at == CTX.occurred_at
    assert (event.device_id, event.sensor_type) == ("m-1", "machine")
    assert event.credential_hash == "sha256$hash-1"
    assert device.status is d.DeviceStatus.ACTIVE
    assert device.accepts_readings
    device.ensure_active()


COMMANDS: list[tuple[str, Callable[[d.Device], None], type[DomainEvent]]] = [
    (
        "profile",
        lambda x: x.change_profile(profile("Press 1b", "plant-2"), LATER),
        d.DeviceProfileChanged,
    ),
    (
        "desired",
        lambda x: x.set_desired_configuration({"sampling_interval_s": 5}, LATER),
        d.DesiredConfigurationSet,
    ),
    (
        "reported",
        lambda x: x.record_reported_configuration({"sampling_interval_s": 5}, LATER),
        d.ReportedConfigurationRecorded,
    ),
    ("rotate", lambda x: x.rotate_credentials("sha256$hash-2", LATER), d.DeviceCredentialsRotated),
    ("decommission", lambda x: x.decommission("scrapped", LATER), d.DeviceDecommissioned),
]


@pytest.mark.parametrize(
    ("command", "expected"), [(c[1], c[2]) for c in COMMANDS], ids=[c[0] for c in COMMANDS]
)
def test_each_command_records_one_past_tense_event(
    command: Callable[[d.Device], None], expected: type[DomainEvent]
) -> None:
    device = new_device()
    device.mark_committed()
    command(device)
    [event] = device.pending_events()
    assert type(event) is expected
    assert event.version == 2 == device.version
    assert (event.actor, event.occurred_at) == (LATER.actor, LATER.occurred_at)
    assert (event.tenant_id, event.aggregate_id) == ("acme", "device:acme:m-1")


@pytest.mark.parametrize(
    ("command", "_event"), [(c[1], c[2]) for c in COMMANDS], ids=[c[0] for c in COMMANDS]
)
def test_a_decommissioned_device_refuses_every_change(
    command: Callable[[d.Device], None], _event: type[DomainEvent]
) -> None:
    device = new_device()
    device.decommission("end of life", CTX)
    device.mark_committed()
    with pytest.raises(DeviceIsDecommissioned, match="m-1 is decommissioned"):
        command(device)
    assert device.pending_events() == []
    assert device.version == 2


def test_decommissioned_device_ensure_active_and_readings() -> None:
    device = new_device()
    device.decommission("", CTX)
    assert device.status is d.DeviceStatus.DECOMMISSIONED
    assert not device.accepts_readings
    with pytest.raises(DeviceIsDecommissioned):
        device.ensure_active()
    assert issubclass(DeviceIsDecommissioned, InvariantViolation)


def test_unchanged_profile_and_reported_configuration_record_nothing() -> None:
    device = new_device()
    device.record_reported_configuration({"sampling_interval_s": 1}, CTX)
    device.mark_committed()
    device.change_profile(profile(), LATER)
    device.record_reported_configuration({"sampling_interval_s": 1}, LATER)
    assert device.pending_events() == []


def test_configuration_delta_is_what_the_device_has_not_applied_yet() -> None:
    device = new_device()
    assert device.configuration_delta() == {}
    device.set_desired_configuration({"sampling_interval_s": 10, "mode": "eco"}, CTX)
    assert device.configuration_delta() == {"sampling_interval_s": 10, "mode": "eco"}
    device.record_reported_configuration({"sampling_interval_s": 10, "mode": "full"}, LATER)
    assert device.configuration_delta() == {"mode": "eco"}
    device.record_reported_configuration({"sampling_interval_s": 10, "mode": "eco"}, LATER)
    assert device.configuration_delta() == {}
    # settings reported but never desired are not part of the delta
    device.record_reported_configuration(
        {"sampling_interval_s": 10, "mode": "eco", "led": True}, LATER
    )
    assert device.configuration_delta() == {}


@pytest.mark.parametrize(
    "values",
    [
        {"sampling_interval_s": 0.05},
        {"sampling_interval_s": 86_401},
        {"sampling_interval_s": "5"},
        {"sampling_interval_s": True},
        {"bad key": 1},
        {"1st": 1},
        {"nested": {"a": 1}},
        {"ratio": float("nan")},
        {"ratio": float("inf")},
        {"label": "x" * 257},
        {f"k{i}": i for i in range(51)},
    ],
)
def test_invalid_configuration_is_rejected(values: dict[str, object]) -> None:
    device = new_device()
    with pytest.raises(ValidationError):
        device.set_desired_configuration(values, LATER)
    with pytest.raises(ValidationError):
        device.record_reported_configuration(values, LATER)
    assert len(device.pending_events()) == 1


def test_valid_configuration_bounds() -> None:
    assert d.configuration({"sampling_interval_s": 0.1}) == {"sampling_interval_s": 0.1}
    assert d.configuration({"sampling_interval_s": 86_400, "on": False}) == {
        "sampling_interval_s": 86_400,
        "on": False,
    }


@pytest.mark.parametrize("cycle", [0, -1.0, 86_401, True, float("nan"), "5"])
def test_ideal_cycle_time_must_be_a_positive_number_of_seconds(cycle: object) -> None:
    with pytest.raises(ValidationError, match="ideal_cycle_time_s"):
        profile(ideal_cycle_time_s=cycle)


def test_profile_normalises_and_validates() -> None:
    p = profile(" Press 1 ", metadata={"line": "A", "bay": 3}, ideal_cycle_time_s=12)
    assert p.name == "Press 1"
    assert p.ideal_cycle_time_s == 12.0
    assert isinstance(p.ideal_cycle_time_s, float)
    assert dict(p.metadata) == {"line": "A", "bay": 3}
    with pytest.raises(ValidationError):
        profile("")
    with pytest.raises(ValidationError):
        profile(metadata={"x": [1, 2]})
    with pytest.raises(ValidationError):
        d.DeviceProfile.create("Press", "../plant")  # type: ignore[arg-type]


def test_device_state_is_the_fold_of_its_events() -> None:
    device = new_device()
    device.change_profile(profile("Press 2", "plant-2", metadata={"line": "B"}), LATER)
    device.set_desired_configuration({"sampling_interval_s": 2}, LATER)
    device.record_reported_configuration({"sampling_interval_s": 1}, LATER)
    device.rotate_credentials("sha256$hash-2", LATER)
    device.decommission("moved", LATER)
    rebuilt = d.Device.rehydrate(device.pending_events())
    assert rebuilt is not None
    assert state(rebuilt) == state(device)
    assert rebuilt.version == 6
    assert rebuilt.credential_hash == "sha256$hash-2"
    assert rebuilt.configuration_delta() == {"sampling_interval_s": 2}
    assert rebuilt.status is d.DeviceStatus.DECOMMISSIONED
