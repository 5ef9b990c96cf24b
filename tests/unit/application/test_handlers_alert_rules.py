"""Alert rule use cases through the bus: definition checks against the registry, lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from returns.result import Success

from smdh.application import commands as c
from smdh.application.principals import Principal
from smdh.application.system import Application
from smdh.domain.alerts.rules import RuleScope
from smdh.domain.shared.errors import (
    AlreadyExists,
    DomainError,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    TenantIsSuspended,
    UnknownSensorType,
    ValidationError,
)
from smdh.domain.shared.ids import DeviceId, RuleId, SiteId, TenantId

ACME = TenantId("acme")
HOT = RuleId("hot")
Fail = Callable[..., DomainError]


def define(
    principal: Principal, cls: type[c.DefineAlertRule] = c.DefineAlertRule, **kw: Any
) -> Any:
    fields: dict[str, Any] = {
        "tenant_id": ACME,
        "rule_id": HOT,
        "name": "Too hot",
        "scope": RuleScope(sensor_type="machine"),
        "measure": "temperature_c",
        "comparison": "gt",
        "threshold": 80,
    }
    fields.update(kw)
    return cls(principal=principal, **fields)


def rule_version(app: Application, rule: str = "hot") -> int:
    return app.events.current_version(f"rule:acme:{rule}")


def test_editor_defines_a_rule(app: Application, editor: Principal) -> None:
    assert app.handle(define(editor, severity="critical", channels=("email",))) == Success(1)
    entry = app.directory.rule("acme", "hot")
    assert entry is not None
    assert entry.enabled
    assert entry.definition.measure == "temperature_c"
    assert entry.definition.threshold == 80.0
    assert entry.definition.severity == "critical"


def test_measure_must_belong_to_the_sensor_type(
    app: Application, editor: Principal, failure: Fail
) -> None:
    result = app.handle(define(editor, scope=RuleScope(sensor_type="energy"), measure="co2_ppm"))
    error = failure(result, ValidationError, "'co2_ppm' is not a measure of energy")
    assert "power_watts" in error.message  # names the energy measures it does have
    assert rule_version(app) == 0


def test_without_a_sensor_type_any_registered_measure_is_accepted(
    app: Application, editor: Principal, failure: Fail
) -> None:
    assert isinstance(app.handle(define(editor, scope=RuleScope(), measure="co2_ppm")), Success)
    result = app.handle(define(editor, rule_id=RuleId("x"), scope=RuleScope(), measure="nope"))
    failure(result, ValidationError, "any sensor type")


def test_unknown_sensor_type_in_scope(app: Application, editor: Principal, failure: Fail) -> None:
    result = app.handle(define(editor, scope=RuleScope(sensor_type="lidar")))
    failure(result, UnknownSensorType, "'lidar'")


@pytest.mark.usefixtures("with_device")
def test_device_scope(
    app: Application, editor: Principal, other_admin: Principal, failure: Fail
) -> None:
    m1 = DeviceId("m-1")
    # the device's type decides which measures are valid
    result = app.handle(define(editor, scope=RuleScope(device_id=m1), measure="co2_ppm"))
    failure(result, ValidationError, "not a measure of machine")
    result = app.handle(define(editor, scope=RuleScope(device_id=m1, sensor_type="energy")))
    failure(result, ValidationError, "device m-1 is a machine sensor")
    result = app.handle(define(editor, scope=RuleScope(device_id=DeviceId("m-9"))))
    failure(result, NotFound, "device m-9 not found")
    # globex cannot point a rule at acme's device from its own tenant
    result = app.handle(
        define(other_admin, tenant_id=TenantId("globex"), scope=RuleScope(device_id=m1))
    )
    failure(result, NotFound, "device m-1 not found")
    assert isinstance(app.handle(define(editor, scope=RuleScope(device_id=m1))), Success)


def test_site_scope(app: Application, editor: Principal, failure: Fail) -> None:
    result = app.handle(define(editor, scope=RuleScope(site_id=SiteId("g-plant"))))
    failure(result, NotFound, "site g-plant not found")
    assert isinstance(
        app.handle(define(editor, scope=RuleScope(site_id=SiteId("plant-1")))), Success
    )


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"comparison": "outside"}, "'outside' needs"),
        ({"comparison": "above"}, "comparisons: gt, ge"),
        ({"severity": "urgent"}, "severities: info, warning, critical"),
        ({"channels": ("pager",)}, "channels: email, sms"),
        ({"duration_s": -5}, "duration_s"),
        ({"threshold": "hot"}, "text threshold"),
    ],
)
def test_invalid_definitions_are_validation_failures(
    app: Application, editor: Principal, overrides: dict[str, Any], match: str, failure: Fail
) -> None:
    failure(app.handle(define(editor, **overrides)), ValidationError, match)
    assert rule_version(app) == 0


def test_a_rule_id_cannot_contain_the_alert_id_separator(
    app: Application, editor: Principal, failure: Fail
) -> None:
    # rule "hot:press" on device "1" and rule "hot" on device "press:1" would share the
    # alert id "hot:press:1:<episode>"
    failure(app.handle(define(editor, rule_id=RuleId("hot:press"))), ValidationError, "':'")
    assert rule_version(app, "hot:press") == 0


def test_duplicate_rule_id(app: Application, editor: Principal, failure: Fail) -> None:
    app.execute(define(editor))
    failure(app.handle(define(editor, threshold=1)), AlreadyExists, "alert rule hot already exists")


@pytest.mark.parametrize(
    ("who", "error"),
    [
        ("viewer", PermissionDenied),
        ("device_principal", PermissionDenied),
        ("other_admin", NotFound),
    ],
)
def test_who_may_define_rules(
    app: Application,
    request: pytest.FixtureRequest,
    who: str,
    error: type[DomainError],
    failure: Fail,
) -> None:
    failure(app.handle(define(request.getfixturevalue(who))), error)
    assert rule_version(app) == 0


def test_suspended_tenant_cannot_define_rules(
    app: Application, operator: Principal, editor: Principal, failure: Fail
) -> None:
    app.execute(c.SuspendTenant(principal=operator, tenant_id=ACME, reason="unpaid"))
    failure(app.handle(define(editor)), TenantIsSuspended)


def test_lifecycle(app: Application, editor: Principal, failure: Fail) -> None:
    app.execute(define(editor))
    assert app.handle(define(editor, c.UpdateAlertRule, threshold=95)) == Success(2)
    assert app.handle(c.DisableAlertRule(principal=editor, tenant_id=ACME, rule_id=HOT)) == Success(
        3
    )
    entry = app.directory.rule("acme", "hot")
    assert entry is not None
    assert (entry.enabled, entry.definition.threshold, entry.version) == (False, 95.0, 3)
    assert app.handle(c.EnableAlertRule(principal=editor, tenant_id=ACME, rule_id=HOT)) == Success(
        4
    )
    assert app.handle(c.DeleteAlertRule(principal=editor, tenant_id=ACME, rule_id=HOT)) == Success(
        5
    )
    assert app.directory.rule("acme", "hot") is None

    # a deleted rule is gone for every command, and its id stays taken
    for command in (
        define(editor, c.UpdateAlertRule),
        c.EnableAlertRule(principal=editor, tenant_id=ACME, rule_id=HOT),
        c.DisableAlertRule(principal=editor, tenant_id=ACME, rule_id=HOT),
        c.DeleteAlertRule(principal=editor, tenant_id=ACME, rule_id=HOT),
    ):
        failure(app.handle(command), NotFound, "alert rule hot not found")
    failure(app.handle(define(editor)), AlreadyExists)
    assert rule_version(app) == 5


def test_update_is_checked_like_define(app: Application, editor: Principal, failure: Fail) -> None:
    app.execute(define(editor))
    result = app.handle(define(editor, c.UpdateAlertRule, measure="co2_ppm"))
    failure(result, ValidationError, "not a measure of machine")
    result = app.handle(define(editor, c.UpdateAlertRule, rule_id=RuleId("ghost")))
    failure(result, NotFound, "alert rule ghost not found")
    assert rule_version(app) == 1


def test_if_match_on_a_rule(app: Application, editor: Principal, failure: Fail) -> None:
    app.execute(define(editor))
    stale = define(editor, c.UpdateAlertRule, threshold=99, expected_version=2)
    failure(app.handle(stale), PreconditionFailed, "alert rule hot is at version 1, not 2")
    entry = app.directory.rule("acme", "hot")
    assert entry is not None
    assert entry.definition.threshold == 80.0
    fresh = define(editor, c.UpdateAlertRule, threshold=99, expected_version=1)
    assert app.handle(fresh) == Success(2)


def test_another_tenant_cannot_touch_a_rule(
    app: Application, editor: Principal, other_admin: Principal, failure: Fail
) -> None:
    app.execute(define(editor))
    for command in (
        define(other_admin, c.UpdateAlertRule, threshold=1),
        c.DisableAlertRule(principal=other_admin, tenant_id=ACME, rule_id=HOT),
        c.DeleteAlertRule(principal=other_admin, tenant_id=ACME, rule_id=HOT),
        c.DeleteAlertRule(principal=other_admin, tenant_id=TenantId("globex"), rule_id=HOT),
    ):
        failure(app.handle(command), NotFound, "not found")
    assert rule_version(app) == 1
