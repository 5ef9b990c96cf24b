"""Use cases for alert rules: define, update, enable, disable, delete."""

from __future__ import annotations

from collections.abc import Callable

from smdh.application import commands as c
from smdh.application.authorization import authorize_tenant
from smdh.application.handlers.tenancy import context, load_tenant
from smdh.application.ports import Clock
from smdh.application.projections import DeviceRegistry
from smdh.application.unit_of_work import UnitOfWork
from smdh.domain.alerts.rules import AlertRule, RuleDefinition, rule_aggregate_id
from smdh.domain.sensors.registry import SensorRegistry
from smdh.domain.shared.errors import AlreadyExists, NotFound, ValidationError
from smdh.domain.shared.events import EventContext
from smdh.domain.shared.ids import RuleId
from smdh.domain.tenancy.roles import Role
from smdh.domain.tenancy.site import site_aggregate_id


def _definition(
    command: c.DefineAlertRule, uow: UnitOfWork, sensors: SensorRegistry, devices: DeviceRegistry
) -> RuleDefinition:
    scope = command.scope
    sensor_type = scope.sensor_type
    if scope.device_id is not None:
        device = devices.lookup(command.tenant_id, scope.device_id)
        if device is None:
            raise NotFound(f"device {scope.device_id} not found")
        if sensor_type is not None and sensor_type != device.sensor_type:
            raise ValidationError(f"device {scope.device_id} is a {device.sensor_type} sensor")
        sensor_type = device.sensor_type
    if scope.site_id is not None and not uow.exists(
        site_aggregate_id(command.tenant_id, scope.site_id)
    ):
        raise NotFound(f"site {scope.site_id} not found")
    candidates = [sensors.get(sensor_type)] if sensor_type else list(sensors)
    if not any(st.measure(command.measure) is not None for st in candidates):
        known = sorted({m for st in candidates for m in st.measure_names()})
        raise ValidationError(
            f"measure {command.measure!r} is not a measure of "
            f"{sensor_type or 'any sensor type'}; known: {', '.join(known)}"
        )
    return RuleDefinition.create(
        command.name,
        scope,
        command.measure,
        command.comparison,
        command.threshold,
        command.threshold_high,
        command.duration_s,
        command.severity,
        command.channels,
    )


def _load_rule(uow: UnitOfWork, command: c.TenantCommand, rule_id: RuleId) -> AlertRule:
    rule = uow.get(
        AlertRule,
        rule_aggregate_id(command.tenant_id, rule_id),
        what=f"alert rule {rule_id}",
        expected_version=command.expected_version,
    )
    if rule.deleted:
        raise NotFound(f"alert rule {rule_id} not found")
    return rule


def define_alert_rule(
    command: c.DefineAlertRule,
    uow: UnitOfWork,
    clock: Clock,
    sensors: SensorRegistry,
    devices: DeviceRegistry,
) -> int:
    authorize_tenant(command.principal, command.tenant_id, Role.EDITOR)
    if ":" in command.rule_id:
        # ':' separates the parts of an alert id (rule:device:episode); device ids may
        # contain it, so a rule id with one could name another rule's alerts
        raise ValidationError(f"rule id {command.rule_id!r} cannot contain ':'")
    load_tenant(uow, command).ensure_active()
    if uow.exists(rule_aggregate_id(command.tenant_id, command.rule_id)):
        raise AlreadyExists(f"alert rule {command.rule_id} already exists")
    definition = _definition(command, uow, sensors, devices)
    rule = AlertRule.define(command.tenant_id, command.rule_id, definition, context(command, clock))
    uow.add(rule)
    uow.commit()
    return rule.version


def update_alert_rule(
    command: c.UpdateAlertRule,
    uow: UnitOfWork,
    clock: Clock,
    sensors: SensorRegistry,
    devices: DeviceRegistry,
) -> int:
    authorize_tenant(command.principal, command.tenant_id, Role.EDITOR)
    rule = _load_rule(uow, command, command.rule_id)
    rule.update(_definition(command, uow, sensors, devices), context(command, clock))
    uow.commit()
    return rule.version


def _change_rule(
    command: c.EnableAlertRule | c.DisableAlertRule | c.DeleteAlertRule,
    uow: UnitOfWork,
    clock: Clock,
    change: Callable[[AlertRule, EventContext], None],
) -> int:
    authorize_tenant(command.principal, command.tenant_id, Role.EDITOR)
    rule = _load_rule(uow, command, command.rule_id)
    change(rule, context(command, clock))
    uow.commit()
    return rule.version


def enable_alert_rule(command: c.EnableAlertRule, uow: UnitOfWork, clock: Clock) -> int:
    return _change_rule(command, uow, clock, AlertRule.enable)


def disable_alert_rule(command: c.DisableAlertRule, uow: UnitOfWork, clock: Clock) -> int:
    return _change_rule(command, uow, clock, AlertRule.disable)


def delete_alert_rule(command: c.DeleteAlertRule, uow: UnitOfWork, clock: Clock) -> int:
    return _change_rule(command, uow, clock, AlertRule.delete)
