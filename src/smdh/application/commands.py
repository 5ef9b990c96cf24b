"""Commands: what a caller asks the system to do, in the imperative.

Every command carries the authenticated ``principal`` (who asks; the audit log's actor) and,
when it touches a tenant's data, the ``tenant_id`` it acts in. The HTTP layer takes that
tenant from the verified token, never from the request body; handlers check it again.
``expected_version`` carries HTTP If-Match: when set and stale, the command fails with
``PreconditionFailed``.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from smdh.application.principals import Principal
from smdh.domain.alerts.rules import RuleScope
from smdh.domain.shared.ids import DeviceId, RuleId, SiteId, TenantId, UserId
from smdh.domain.tenancy.roles import Role
from smdh.domain.tenancy.site import Shift

# Id fields convert (and so validate) on construction: a malformed id is refused with
# InvalidIdentifier before any handler runs, and can never reach the event store.


@attrs.frozen(kw_only=True)
class Command:
    principal: Principal


@attrs.frozen(kw_only=True)
class TenantCommand(Command):
    tenant_id: TenantId = attrs.field(converter=TenantId)
    expected_version: int | None = None


# --- tenancy -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RegisterTenant(Command):
    tenant_id: TenantId = attrs.field(converter=TenantId)
    name: str
    max_devices: int | None = None
    max_readings_per_second: int | None = None


@attrs.frozen(kw_only=True)
class RenameTenant(TenantCommand):
    name: str


@attrs.frozen(kw_only=True)
class SetTenantBranding(TenantCommand):
    display_name: str
    logo_url: str | None = None
    primary_colour: str | None = None
    secondary_colour: str | None = None


@attrs.frozen(kw_only=True)
class SetTenantRetention(TenantCommand):
    raw_days: int
    rollup_days: int


@attrs.frozen(kw_only=True)
class SetTenantQuotas(TenantCommand):
    max_devices: int
    max_readings_per_second: int


@attrs.frozen(kw_only=True)
class SuspendTenant(TenantCommand):
    reason: str


@attrs.frozen(kw_only=True)
class ReactivateTenant(TenantCommand):
    pass


@attrs.frozen(kw_only=True)
class RequestTenantErasure(TenantCommand):
    """The first step of a GDPR erasure (``smdh.application.erasure`` does the rest)."""


@attrs.frozen(kw_only=True)
class InviteUser(TenantCommand):
    user_id: UserId = attrs.field(converter=UserId)
    email: str
    role: Role


@attrs.frozen(kw_only=True)
class ChangeUserRole(TenantCommand):
    user_id: UserId = attrs.field(converter=UserId)
    role: Role


@attrs.frozen(kw_only=True)
class RemoveUser(TenantCommand):
    user_id: UserId = attrs.field(converter=UserId)


# --- sites ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RegisterSite(TenantCommand):
    site_id: SiteId = attrs.field(converter=SiteId)
    name: str
    timezone: str
    address: str = ""
    tariff_ref: str | None = None
    shifts: tuple[Shift, ...] = ()


@attrs.frozen(kw_only=True)
class ChangeSiteDetails(TenantCommand):
    site_id: SiteId = attrs.field(converter=SiteId)
    name: str
    timezone: str
    address: str = ""
    tariff_ref: str | None = None
    shifts: tuple[Shift, ...] = ()


# --- devices -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RegisterDevice(TenantCommand):
    device_id: DeviceId = attrs.field(converter=DeviceId)
    site_id: SiteId = attrs.field(converter=SiteId)
    sensor_type: str
    name: str
    metadata: Mapping[str, object] = attrs.field(factory=dict)
    ideal_cycle_time_s: float | None = None


@attrs.frozen(kw_only=True)
class ChangeDeviceProfile(TenantCommand):
    device_id: DeviceId = attrs.field(converter=DeviceId)
    site_id: SiteId = attrs.field(converter=SiteId)
    name: str
    metadata: Mapping[str, object] = attrs.field(factory=dict)
    ideal_cycle_time_s: float | None = None


@attrs.frozen(kw_only=True)
class SetDesiredConfiguration(TenantCommand):
    device_id: DeviceId = attrs.field(converter=DeviceId)
    configuration: Mapping[str, object]


@attrs.frozen(kw_only=True)
class RecordReportedConfiguration(TenantCommand):
    device_id: DeviceId = attrs.field(converter=DeviceId)
    configuration: Mapping[str, object]


@attrs.frozen(kw_only=True)
class RotateDeviceCredentials(TenantCommand):
    device_id: DeviceId = attrs.field(converter=DeviceId)


@attrs.frozen(kw_only=True)
class DecommissionDevice(TenantCommand):
    device_id: DeviceId = attrs.field(converter=DeviceId)
    reason: str = ""


# --- alert rules ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class DefineAlertRule(TenantCommand):
    rule_id: RuleId = attrs.field(converter=RuleId)
    name: str
    scope: RuleScope
    measure: str
    comparison: str
    threshold: float | str
    threshold_high: float | None = None
    duration_s: int = 0
    severity: str = "warning"
    channels: tuple[str, ...] = ("in_app",)


@attrs.frozen(kw_only=True)
class UpdateAlertRule(DefineAlertRule):
    pass


@attrs.frozen(kw_only=True)
class EnableAlertRule(TenantCommand):
    rule_id: RuleId = attrs.field(converter=RuleId)


@attrs.frozen(kw_only=True)
class DisableAlertRule(TenantCommand):
    rule_id: RuleId = attrs.field(converter=RuleId)


@attrs.frozen(kw_only=True)
class DeleteAlertRule(TenantCommand):
    rule_id: RuleId = attrs.field(converter=RuleId)
