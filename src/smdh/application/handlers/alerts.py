"""Use cases for alerts: acknowledge, snooze, switch on default rules, define rules of any kind.

Acknowledging and snoozing need the ``editor`` role (a viewer only looks). An alert id names
its tenant; an id of another tenant is answered like a missing one.
"""

from __future__ import annotations

from smdh.application import alert_commands as ac
from smdh.application.authorization import authorize_tenant
from smdh.application.handlers.alert_rules import _definition
from smdh.application.handlers.tenancy import context, load_tenant
from smdh.application.ports import Clock
from smdh.application.projections import DeviceRegistry
from smdh.application.unit_of_work import UnitOfWork
from smdh.domain.alerts.alert import Alert, parse_alert_id
from smdh.domain.alerts.defaults import default_rule_id, default_rules_for
from smdh.domain.alerts.rules import (
    ANY_MEASURE,
    AlertRule,
    RuleDefinition,
    RuleKind,
    rule_aggregate_id,
)
from smdh.domain.sensors.registry import SensorRegistry
from smdh.domain.shared.errors import AlreadyExists, NotFound, ValidationError
from smdh.domain.shared.ids import RuleId
from smdh.domain.tenancy.roles import Role
from smdh.domain.tenancy.site import site_aggregate_id


def _load_alert(uow: UnitOfWork, command: ac.AcknowledgeAlert | ac.SnoozeAlert) -> Alert:
    try:
        tenant, *_ = parse_alert_id(command.alert_id)
    except ValidationError:
        raise NotFound(f"alert {command.alert_id[:80]} not found") from None
    if tenant != command.tenant_id:
        raise NotFound(f"alert {command.alert_id} not found")
    return uow.get(
        Alert,
        command.alert_id,
        what=f"alert {command.alert_id}",
        expected_version=command.expected_version,
    )


def acknowledge_alert(command: ac.AcknowledgeAlert, uow: UnitOfWork, clock: Clock) -> int:
    authorize_tenant(command.principal, command.tenant_id, Role.EDITOR)
    alert = _load_alert(uow, command)
    alert.acknowledge(command.principal.actor, command.note, context(command, clock))
    uow.commit()
    return alert.version


def snooze_alert(command: ac.SnoozeAlert, uow: UnitOfWork, clock: Clock) -> int:
    authorize_tenant(command.principal, command.tenant_id, Role.EDITOR)
    alert = _load_alert(uow, command)
    alert.snooze(command.until, context(command, clock))
    uow.commit()
    return alert.version


def enable_default_rules(
    command: ac.EnableDefaultRules, uow: UnitOfWork, clock: Clock, sensors: SensorRegistry
) -> list[str]:
    """Defines the missing default rules and re-enables disabled ones; returns their ids.

    Idempotent: rules already defined and enabled are left as they are (a tenant's edits to
    a default rule are kept).
    """
    authorize_tenant(command.principal, command.tenant_id, Role.EDITOR)
    load_tenant(uow, command).ensure_active()
    types = [sensors.get(command.sensor_type)] if command.sensor_type else list(sensors)
    ctx = context(command, clock)
    ids: list[str] = []
    for sensor_type in types:
        for definition in default_rules_for(sensor_type):
            rule_id = RuleId(default_rule_id(sensor_type.name, definition))
            rule = uow.find(AlertRule, rule_aggregate_id(command.tenant_id, rule_id))
            if rule is None or rule.deleted:
                if rule is not None:
                    continue  # deleted on purpose: a deleted rule id is not reused
                uow.add(AlertRule.define(command.tenant_id, rule_id, definition, ctx))
            else:
                rule.enable(ctx)
            ids.append(rule_id)
    uow.commit()
    return ids


def _check_scope(
    command: ac.DefineAlertRuleOfKind, uow: UnitOfWork, devices: DeviceRegistry
) -> None:
    scope = command.scope
    if scope.device_id is not None and devices.lookup(command.tenant_id, scope.device_id) is None:
        raise NotFound(f"device {scope.device_id} not found")
    if scope.site_id is not None and not uow.exists(
        site_aggregate_id(command.tenant_id, scope.site_id)
    ):
        raise NotFound(f"site {scope.site_id} not found")


def _definition_of_kind(
    command: ac.DefineAlertRuleOfKind,
    uow: UnitOfWork,
    sensors: SensorRegistry,
    devices: DeviceRegistry,
) -> RuleDefinition:
    if command.kind == RuleKind.ABSENCE and command.measure == ANY_MEASURE:
        _check_scope(command, uow, devices)
    else:
        _definition(command, uow, sensors, devices)  # scope and measure checks
    return RuleDefinition.create(
        command.name,
        command.scope,
        command.measure,
        command.comparison,
        command.threshold,
        command.threshold_high,
        command.duration_s,
        command.severity,
        command.channels,
        kind=command.kind,
        clear_threshold=command.clear_threshold,
        latched=command.latched,
        escalate_after_s=command.escalate_after_s,
        remind_every_s=command.remind_every_s,
        window_s=command.window_s,
        window=command.window,
        warmup=command.warmup,
        z_threshold=command.z_threshold,
    )


def define_alert_rule_of_kind(
    command: ac.DefineAlertRuleOfKind,
    uow: UnitOfWork,
    clock: Clock,
    sensors: SensorRegistry,
    devices: DeviceRegistry,
) -> int:
    authorize_tenant(command.principal, command.tenant_id, Role.EDITOR)
    load_tenant(uow, command).ensure_active()
    if uow.exists(rule_aggregate_id(command.tenant_id, command.rule_id)):
        raise AlreadyExists(f"alert rule {command.rule_id} already exists")
    definition = _definition_of_kind(command, uow, sensors, devices)
    rule = AlertRule.define(command.tenant_id, command.rule_id, definition, context(command, clock))
    uow.add(rule)
    uow.commit()
    return rule.version


__all__ = [
    "acknowledge_alert",
    "define_alert_rule_of_kind",
    "enable_default_rules",
    "snooze_alert",
]
