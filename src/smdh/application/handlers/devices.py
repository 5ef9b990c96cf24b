"""Use cases for devices: registration, profile, configuration, credentials, decommissioning."""

from __future__ import annotations

import attrs

from smdh.application import commands as c
from smdh.application.authorization import authorize_tenant
from smdh.application.handlers.tenancy import context, load_tenant
from smdh.application.ports import Clock, IdGenerator, SecretHasher
from smdh.application.projections import DeviceRegistry
from smdh.application.unit_of_work import UnitOfWork
from smdh.domain.assets.device import Device, DeviceProfile, device_aggregate_id
from smdh.domain.sensors.registry import SensorRegistry
from smdh.domain.shared.errors import AlreadyExists, InvariantViolation, NotFound
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId
from smdh.domain.tenancy.roles import Role
from smdh.domain.tenancy.site import site_aggregate_id


@attrs.frozen
class DeviceCredentials:
    """Returned once at registration or rotation; only a hash of the secret is kept."""

    device_id: DeviceId
    username: str
    secret: str
    version: int


def device_username(tenant_id: TenantId, device_id: DeviceId) -> str:
    # Tenant slugs never contain ':', so the first ':' splits the two unambiguously.
    return f"{tenant_id}:{device_id}"


def load_device(uow: UnitOfWork, command: c.TenantCommand, device_id: DeviceId) -> Device:
    return uow.get(
        Device,
        device_aggregate_id(command.tenant_id, device_id),
        what=f"device {device_id}",
        expected_version=command.expected_version,
    )


def _ensure_site(uow: UnitOfWork, command: c.TenantCommand, site_id: SiteId) -> None:
    if not uow.exists(site_aggregate_id(command.tenant_id, site_id)):
        raise NotFound(f"site {site_id} not found")


def register_device(
    command: c.RegisterDevice,
    uow: UnitOfWork,
    clock: Clock,
    ids: IdGenerator,
    device_secret_hasher: SecretHasher,
    sensors: SensorRegistry,
    devices: DeviceRegistry,
) -> DeviceCredentials:
    authorize_tenant(command.principal, command.tenant_id, Role.EDITOR)
    tenant = load_tenant(uow, command)
    tenant.ensure_active()
    sensor_type = sensors.get(command.sensor_type)
    aggregate_id = device_aggregate_id(command.tenant_id, command.device_id)
    if uow.exists(aggregate_id):
        raise AlreadyExists(f"device {command.device_id} already exists in this tenant")
    _ensure_site(uow, command, command.site_id)
    if devices.count(command.tenant_id) >= tenant.quotas.max_devices:
        raise InvariantViolation(
            f"tenant {command.tenant_id} has reached its quota of "
            f"{tenant.quotas.max_devices} devices"
        )
    profile = DeviceProfile.create(
        command.name, command.site_id, command.metadata, command.ideal_cycle_time_s
    )
    secret = ids.new_secret()
    device = Device.register(
        command.tenant_id,
        command.device_id,
        sensor_type.name,
        profile,
        device_secret_hasher.hash(secret),
        context(command, clock),
    )
    uow.add(device)
    uow.commit()
    return DeviceCredentials(
        command.device_id, device_username(command.tenant_id, command.device_id), secret, 1
    )


def change_device_profile(command: c.ChangeDeviceProfile, uow: UnitOfWork, clock: Clock) -> int:
    authorize_tenant(command.principal, command.tenant_id, Role.EDITOR)
    device = load_device(uow, command, command.device_id)
    if command.site_id != device.profile.site_id:
        _ensure_site(uow, command, command.site_id)
    profile = DeviceProfile.create(
        command.name, command.site_id, command.metadata, command.ideal_cycle_time_s
    )
    device.change_profile(profile, context(command, clock))
    uow.commit()
    return device.version


def set_desired_configuration(
    command: c.SetDesiredConfiguration, uow: UnitOfWork, clock: Clock
) -> int:
    authorize_tenant(command.principal, command.tenant_id, Role.EDITOR)
    device = load_device(uow, command, command.device_id)
    device.set_desired_configuration(command.configuration, context(command, clock))
    uow.commit()
    return device.version


def record_reported_configuration(
    command: c.RecordReportedConfiguration, uow: UnitOfWork, clock: Clock
) -> int:
    # Reported by the device itself (or an admin tool acting for it).
    principal = command.principal
    if principal.kind.value == "device":
        if principal.tenant_id != command.tenant_id or principal.subject != command.device_id:
            raise NotFound(f"device {command.device_id} not found")
    else:
        authorize_tenant(principal, command.tenant_id, Role.EDITOR)
    device = load_device(uow, command, command.device_id)
    device.record_reported_configuration(command.configuration, context(command, clock))
    uow.commit()
    return device.version


def rotate_device_credentials(
    command: c.RotateDeviceCredentials,
    uow: UnitOfWork,
    clock: Clock,
    ids: IdGenerator,
    device_secret_hasher: SecretHasher,
) -> DeviceCredentials:
    authorize_tenant(command.principal, command.tenant_id, Role.EDITOR)
    device = load_device(uow, command, command.device_id)
    secret = ids.new_secret()
    device.rotate_credentials(device_secret_hasher.hash(secret), context(command, clock))
    uow.commit()
    return DeviceCredentials(
        command.device_id,
        device_username(command.tenant_id, command.device_id),
        secret,
        device.version,
    )


def decommission_device(command: c.DecommissionDevice, uow: UnitOfWork, clock: Clock) -> int:
    authorize_tenant(command.principal, command.tenant_id, Role.EDITOR)
    device = load_device(uow, command, command.device_id)
    device.decommission(command.reason, context(command, clock))
    uow.commit()
    return device.version
