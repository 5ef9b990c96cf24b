"""Device use cases through the bus: registration, profile, configuration, credentials."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
from returns.result import Failure, Result, Success

from smdh.application import commands as c
from smdh.application.handlers.devices import DeviceCredentials
from smdh.application.principals import Principal
from smdh.application.system import Application
from smdh.domain.assets.device import DeviceStatus
from smdh.domain.shared.errors import (
    AlreadyExists,
    DeviceIsDecommissioned,
    DomainError,
    InvalidIdentifier,
    InvariantViolation,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    UnknownSensorType,
    ValidationError,
)
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId

ACME = TenantId("acme")
GLOBEX = TenantId("globex")
M1 = DeviceId("m-1")
Fail = Callable[..., DomainError]
Register = Callable[..., Result[Any, Any]]


def device_version(app: Application, tenant: str = "acme", device: str = "m-1") -> int:
    return app.events.current_version(f"device:{tenant}:{device}")


def test_register_returns_one_time_credentials(app: Application, register_device: Register) -> None:
    result = register_device("m-1")
    assert isinstance(result, Success)
    creds = result.unwrap()
    assert isinstance(creds, DeviceCredentials)
    assert (creds.device_id, creds.username, creds.version) == ("m-1", "acme:m-1", 1)
    entry = app.devices.lookup("acme", "m-1")
    assert entry is not None
    assert entry.credential_hash != creds.secret
    assert creds.secret not in entry.credential_hash
    assert app.device_secret_hasher.verify(creds.secret, entry.credential_hash)
    assert (entry.site_id, entry.sensor_type, entry.status) == ("plant-1", "machine", "active")


def test_duplicate_device_id_in_a_tenant_is_already_exists(
    app: Application, register_device: Register, failure: Fail
) -> None:
    register_device("m-1")
    failure(register_device("m-1", name="Clone"), AlreadyExists, "m-1 already exists")
    entry = app.devices.lookup("acme", "m-1")
    assert entry is not None
    assert entry.name == "Press m-1"


def test_the_same_device_id_in_another_tenant_is_fine(
    app: Application, register_device: Register, other_admin: Principal
) -> None:
    register_device("m-1")
    result = register_device(
        "m-1", principal=other_admin, tenant_id=GLOBEX, site_id=SiteId("g-plant")
    )
    assert isinstance(result, Success)
    assert result.unwrap().username == "globex:m-1"
    acme, globex = app.devices.lookup("acme", "m-1"), app.devices.lookup("globex", "m-1")
    assert acme is not None and globex is not None
    assert acme.credential_hash != globex.credential_hash


@pytest.mark.parametrize("bad", ["bad id", "' OR 1=1 --", "../etc", "\u0430cme", ""])
def test_bad_device_id_is_refused_when_the_id_is_built(bad: str) -> None:
    # The CLI and API build ids from raw text before they build a command; that is where a
    # bad one stops, with the rule in the message.
    with pytest.raises(InvalidIdentifier, match="device id"):
        DeviceId(bad)


def test_unknown_sensor_type(app: Application, register_device: Register, failure: Fail) -> None:
    error = failure(register_device("t-1", sensor_type="thermometer"), UnknownSensorType)
    assert "'thermometer'" in error.message
    assert "machine" in error.message  # lists the known types
    assert app.devices.lookup("acme", "t-1") is None


def test_unknown_site_and_another_tenants_site_are_not_found(
    register_device: Register, failure: Fail
) -> None:
    failure(register_device("m-2", site_id=SiteId("nowhere")), NotFound, "site nowhere")
    failure(register_device("m-3", site_id=SiteId("g-plant")), NotFound, "site g-plant")


def test_device_quota(
    app: Application,
    operator: Principal,
    register_device: Register,
    editor: Principal,
    failure: Fail,
) -> None:
    app.execute(
        c.SetTenantQuotas(
            principal=operator, tenant_id=ACME, max_devices=1, max_readings_per_second=1
        )
    )
    assert isinstance(register_device("m-1"), Success)
    failure(register_device("m-2"), InvariantViolation, "quota of 1 devices")
    assert app.devices.lookup("acme", "m-2") is None
    # a decommissioned device no longer counts against the quota
    app.execute(c.DecommissionDevice(principal=editor, tenant_id=ACME, device_id=M1))
    assert isinstance(register_device("m-2"), Success)


@pytest.mark.parametrize(
    ("who", "error"),
    [
        ("viewer", PermissionDenied),
        ("device_principal", PermissionDenied),
        ("other_admin", NotFound),
    ],
)
def test_who_may_register_devices(
    app: Application,
    request: pytest.FixtureRequest,
    register_device: Register,
    who: str,
    error: type[DomainError],
    failure: Fail,
) -> None:
    failure(register_device("m-7", principal=request.getfixturevalue(who)), error)
    assert app.devices.lookup("acme", "m-7") is None


def test_admin_and_operator_may_register_devices(
    register_device: Register, admin: Principal, operator: Principal
) -> None:
    assert isinstance(register_device("m-a", principal=admin), Success)
    assert isinstance(register_device("m-o", principal=operator), Success)


def profile_cmd(principal: Principal, **kw: Any) -> c.ChangeDeviceProfile:
    fields: dict[str, Any] = {
        "tenant_id": ACME,
        "device_id": M1,
        "site_id": SiteId("plant-1"),
        "name": "Press 1",
    }
    fields.update(kw)
    return c.ChangeDeviceProfile(principal=principal, **fields)


@pytest.mark.usefixtures("with_device")
def test_change_profile(app: Application, admin: Principal, editor: Principal) -> None:
    app.execute(
        c.RegisterSite(
            principal=admin, tenant_id=ACME, site_id=SiteId("plant-2"), name="P2", timezone="UTC"
        )
    )
    result = app.handle(
        profile_cmd(editor, site_id=SiteId("plant-2"), metadata={"line": "B"}, ideal_cycle_time_s=3)
    )
    assert result == Success(2)
    entry = app.devices.lookup("acme", "m-1")
    assert entry is not None
    assert (entry.site_id, entry.name, dict(entry.metadata)) == (
        "plant-2",
        "Press 1",
        {"line": "B"},
    )
    assert entry.ideal_cycle_time_s == 3.0


@pytest.mark.usefixtures("with_device")
def test_change_profile_errors(app: Application, editor: Principal, failure: Fail) -> None:
    failure(app.handle(profile_cmd(editor, site_id=SiteId("g-plant"))), NotFound, "site g-plant")
    failure(app.handle(profile_cmd(editor, metadata={"x": [1]})), ValidationError, "metadata.x")
    failure(app.handle(profile_cmd(editor, device_id=DeviceId("m-9"))), NotFound, "device m-9")
    assert device_version(app) == 1


@pytest.mark.usefixtures("with_device")
def test_if_match_on_a_device(app: Application, editor: Principal, failure: Fail) -> None:
    before = app.events.read_all(limit=10_000)
    stale = profile_cmd(editor, name="Renamed", expected_version=3)
    failure(app.handle(stale), PreconditionFailed, "device m-1 is at version 1, not 3")
    assert app.events.read_all(limit=10_000) == before
    assert app.handle(profile_cmd(editor, name="Renamed", expected_version=1)) == Success(2)


@pytest.mark.usefixtures("with_device")
def test_desired_and_reported_configuration(
    app: Application, editor: Principal, device_principal: Principal
) -> None:
    app.execute(
        c.SetDesiredConfiguration(
            principal=editor, tenant_id=ACME, device_id=M1, configuration={"sampling_interval_s": 5}
        )
    )
    app.execute(
        c.RecordReportedConfiguration(
            principal=device_principal,
            tenant_id=ACME,
            device_id=M1,
            configuration={"sampling_interval_s": 1},
        )
    )
    entry = app.devices.lookup("acme", "m-1")
    assert entry is not None
    assert (dict(entry.desired), dict(entry.reported)) == (
        {"sampling_interval_s": 5},
        {"sampling_interval_s": 1},
    )


@pytest.mark.usefixtures("with_device")
def test_a_device_reports_only_for_itself(
    app: Application, register_device: Register, failure: Fail
) -> None:
    register_device("m-2")
    report = {"sampling_interval_s": 1}
    for principal in (Principal.device(ACME, "m-2"), Principal.device(GLOBEX, "m-1")):
        result = app.handle(
            c.RecordReportedConfiguration(
                principal=principal, tenant_id=ACME, device_id=M1, configuration=report
            )
        )
        failure(result, NotFound, "device m-1 not found")
    assert device_version(app) == 1


@pytest.mark.usefixtures("with_device")
def test_devices_cannot_run_user_commands(
    app: Application, device_principal: Principal, failure: Fail
) -> None:
    for command in (
        c.SetDesiredConfiguration(
            principal=device_principal, tenant_id=ACME, device_id=M1, configuration={"a": 1}
        ),
        c.RotateDeviceCredentials(principal=device_principal, tenant_id=ACME, device_id=M1),
        c.DecommissionDevice(principal=device_principal, tenant_id=ACME, device_id=M1),
        profile_cmd(device_principal),
    ):
        failure(app.handle(command), PermissionDenied, "has no tenant role")
    assert device_version(app) == 1


@pytest.mark.usefixtures("with_device")
def test_invalid_configuration_is_a_validation_failure(
    app: Application, editor: Principal, failure: Fail
) -> None:
    result = app.handle(
        c.SetDesiredConfiguration(
            principal=editor, tenant_id=ACME, device_id=M1, configuration={"sampling_interval_s": 0}
        )
    )
    failure(result, ValidationError, "sampling_interval_s")


def test_rotate_credentials(
    app: Application, editor: Principal, with_device: DeviceCredentials
) -> None:
    old_hash = app.devices.lookup("acme", "m-1").credential_hash  # type: ignore[union-attr]
    rotated = app.execute(c.RotateDeviceCredentials(principal=editor, tenant_id=ACME, device_id=M1))
    assert isinstance(rotated, DeviceCredentials)
    assert rotated.version == 2
    assert rotated.secret != with_device.secret
    entry = app.devices.lookup("acme", "m-1")
    assert entry is not None
    assert entry.credential_hash != old_hash
    assert app.device_secret_hasher.verify(rotated.secret, entry.credential_hash)
    assert not app.device_secret_hasher.verify(with_device.secret, entry.credential_hash)


@pytest.mark.usefixtures("with_device")
def test_decommissioned_device_refuses_changes(
    app: Application, editor: Principal, failure: Fail
) -> None:
    assert app.handle(
        c.DecommissionDevice(principal=editor, tenant_id=ACME, device_id=M1, reason="scrapped")
    ) == Success(2)
    for command in (
        c.DecommissionDevice(principal=editor, tenant_id=ACME, device_id=M1),
        c.RotateDeviceCredentials(principal=editor, tenant_id=ACME, device_id=M1),
        c.SetDesiredConfiguration(
            principal=editor, tenant_id=ACME, device_id=M1, configuration={"a": 1}
        ),
        profile_cmd(editor, name="Revived"),
    ):
        failure(app.handle(command), DeviceIsDecommissioned, "m-1 is decommissioned")
    entry = app.devices.lookup("acme", "m-1")
    assert entry is not None
    assert entry.status is DeviceStatus.DECOMMISSIONED
    assert device_version(app) == 2


@pytest.mark.usefixtures("with_device")
def test_another_tenant_cannot_touch_the_device(
    app: Application, other_admin: Principal, failure: Fail
) -> None:
    for command in (
        c.DecommissionDevice(principal=other_admin, tenant_id=ACME, device_id=M1),
        c.RotateDeviceCredentials(principal=other_admin, tenant_id=ACME, device_id=M1),
        profile_cmd(other_admin),
        # its own tenant id does not reach acme's device either
        c.DecommissionDevice(principal=other_admin, tenant_id=GLOBEX, device_id=M1),
    ):
        result = app.handle(command)
        assert isinstance(result, Failure)
        failure(result, NotFound, "not found")
    assert device_version(app) == 1


def test_unknown_tenant_is_not_found(
    register_device: Register, operator: Principal, failure: Fail
) -> None:
    result = register_device("m-1", principal=operator, tenant_id=TenantId("ghost"))
    failure(result, NotFound, "tenant ghost not found")


def test_a_raw_invalid_device_id_never_reaches_the_store(
    app: Application, editor: Principal, failure: Fail
) -> None:
    # Python callers can hand a plain str where a DeviceId is expected. It must be refused
    # (when the command is built, or by the handler) and never stored: a stored 'bad id'
    # cannot be deserialized again, so every later read_all / catch_up would fail.
    before = app.events.read_all(limit=10_000)
    try:
        command = c.RegisterDevice(
            principal=editor,
            tenant_id=ACME,
            device_id="bad id",  # type: ignore[arg-type]
            site_id=SiteId("plant-1"),
            sensor_type="machine",
            name="Press",
        )
    except InvalidIdentifier:
        command = None
    if command is not None:
        failure(app.handle(command), InvalidIdentifier)
    assert app.events.current_version("device:acme:bad id") == 0
    assert app.events.read_all(limit=10_000) == before


def test_device_quota_holds_when_another_process_registered_first(
    app: Application, operator: Principal, editor: Principal, failure: Fail
) -> None:
    # The hub and the CLI are two processes on one event store. The quota check reads the
    # device registry projection, so it must not act on a registry that is behind the store.
    app.execute(
        c.SetTenantQuotas(
            principal=operator, tenant_id=ACME, max_devices=1, max_readings_per_second=1
        )
    )
    hub = Application(
        events=app.events,
        clock=app.clock,
        ids=app.ids,
        device_secret_hasher=app.device_secret_hasher,
        sensors=app.sensors,
    )
    hub.refresh()
    register = c.RegisterDevice(
        principal=editor,
        tenant_id=ACME,
        device_id=M1,
        site_id=SiteId("plant-1"),
        sensor_type="machine",
        name="Press",
    )
    app.execute(register)  # the "CLI" registers m-1
    second = attrs.evolve(register, device_id=DeviceId("m-2"))
    failure(hub.handle(second), InvariantViolation, "quota of 1 devices")
    assert app.events.current_version("device:acme:m-2") == 0
