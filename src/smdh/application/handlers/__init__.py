"""Command handlers, one module per use-case area, and the table that routes commands."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from smdh.application import alert_commands as ac
from smdh.application import channel_commands as cc
from smdh.application import commands as c
from smdh.application.handlers import alert_rules, alerts, channels, devices, tenancy
from smdh.application.messagebus import CommandHandler

COMMAND_HANDLERS: dict[type[c.Command], Callable[..., Any]] = {
    c.RegisterTenant: tenancy.register_tenant,
    c.RenameTenant: tenancy.rename_tenant,
    c.SetTenantBranding: tenancy.set_tenant_branding,
    c.SetTenantRetention: tenancy.set_tenant_retention,
    c.SetTenantQuotas: tenancy.set_tenant_quotas,
    c.SuspendTenant: tenancy.suspend_tenant,
    c.ReactivateTenant: tenancy.reactivate_tenant,
    c.RequestTenantErasure: tenancy.request_tenant_erasure,
    c.InviteUser: tenancy.invite_user,
    c.ChangeUserRole: tenancy.change_user_role,
    c.RemoveUser: tenancy.remove_user,
    c.RegisterSite: tenancy.register_site,
    c.ChangeSiteDetails: tenancy.change_site_details,
    c.RegisterDevice: devices.register_device,
    c.ChangeDeviceProfile: devices.change_device_profile,
    c.SetDesiredConfiguration: devices.set_desired_configuration,
    c.RecordReportedConfiguration: devices.record_reported_configuration,
    c.RotateDeviceCredentials: devices.rotate_device_credentials,
    c.DecommissionDevice: devices.decommission_device,
    c.DefineAlertRule: alert_rules.define_alert_rule,
    c.UpdateAlertRule: alert_rules.update_alert_rule,
    c.EnableAlertRule: alert_rules.enable_alert_rule,
    c.DisableAlertRule: alert_rules.disable_alert_rule,
    c.DeleteAlertRule: alert_rules.delete_alert_rule,
    ac.AcknowledgeAlert: alerts.acknowledge_alert,
    ac.SnoozeAlert: alerts.snooze_alert,
    ac.EnableDefaultRules: alerts.enable_default_rules,
    ac.DefineAlertRuleOfKind: alerts.define_alert_rule_of_kind,
    cc.ConfigureNotificationChannels: channels.configure_notification_channels,
    cc.SetNotificationPreferences: channels.set_notification_preferences,
    cc.ClearNotificationPreferences: channels.clear_notification_preferences,
}


def inject(handler: Callable[..., Any], dependencies: Mapping[str, object]) -> CommandHandler:
    """Bind the dependencies a handler names after ``(command, uow)``, cosmicpython style."""
    wanted = list(inspect.signature(handler).parameters)[2:]
    missing = [name for name in wanted if name not in dependencies]
    if missing:
        raise LookupError(f"{handler.__qualname__} needs {', '.join(missing)}")
    bound = {name: dependencies[name] for name in wanted}

    def run(command: Any, uow: Any) -> Any:
        return handler(command, uow, **bound)

    run.__qualname__ = handler.__qualname__
    return run


def bind_handlers(dependencies: Mapping[str, object]) -> dict[type[c.Command], CommandHandler]:
    return {command: inject(h, dependencies) for command, h in COMMAND_HANDLERS.items()}
