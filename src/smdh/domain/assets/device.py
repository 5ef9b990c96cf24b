"""The Device aggregate: a sensor or machine gateway registered to a tenant's site."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import attrs

from smdh.domain.shared.aggregate import Aggregate
from smdh.domain.shared.errors import DeviceIsDecommissioned, ValidationError
from smdh.domain.shared.events import DomainEvent, EventContext
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId
from smdh.domain.shared.values import Scalar, bounded_text, scalar_map


class DeviceStatus(StrEnum):
    ACTIVE = "active"
    DECOMMISSIONED = "decommissioned"


@attrs.frozen
class DeviceProfile:
    """What a device is: its name, where it stands and its free-form metadata."""

    name: str
    site_id: SiteId
    metadata: Mapping[str, Scalar] = attrs.field(factory=dict)
    # Machines only: the ideal time per produced part, the basis of OEE performance.
    ideal_cycle_time_s: float | None = None

    @classmethod
    def create(
        cls,
        name: str,
        site_id: SiteId,
        metadata: Mapping[str, object] | None = None,
        ideal_cycle_time_s: float | None = None,
    ) -> DeviceProfile:
        if ideal_cycle_time_s is not None and (
            isinstance(ideal_cycle_time_s, bool)
            or not isinstance(ideal_cycle_time_s, int | float)
            or not 0 < ideal_cycle_time_s <= 86_400
        ):
            raise ValidationError("ideal_cycle_time_s must be a number of seconds in (0, 86400]")
        return cls(
            name=bounded_text(name, "name"),
            site_id=SiteId(site_id),
            metadata=scalar_map(metadata or {}, "metadata"),
            ideal_cycle_time_s=float(ideal_cycle_time_s) if ideal_cycle_time_s else None,
        )


def configuration(values: Mapping[str, object]) -> dict[str, Scalar]:
    """Desired or reported configuration (e.g. sampling_interval_s, local thresholds)."""
    config = scalar_map(values, "configuration")
    interval = config.get("sampling_interval_s")
    if interval is not None and (
        isinstance(interval, bool | str) or not 0.1 <= float(interval) <= 86_400
    ):
        raise ValidationError("sampling_interval_s must be between 0.1 and 86400 seconds")
    return config


# --- events --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class DeviceRegistered(DomainEvent):
    device_id: DeviceId
    sensor_type: str
    profile: DeviceProfile
    credential_hash: str


@attrs.frozen(kw_only=True)
class DeviceProfileChanged(DomainEvent):
    profile: DeviceProfile


@attrs.frozen(kw_only=True)
class DesiredConfigurationSet(DomainEvent):
    configuration: Mapping[str, Scalar]


@attrs.frozen(kw_only=True)
class ReportedConfigurationRecorded(DomainEvent):
    configuration: Mapping[str, Scalar]


@attrs.frozen(kw_only=True)
class DeviceCredentialsRotated(DomainEvent):
    credential_hash: str


@attrs.frozen(kw_only=True)
class DeviceDecommissioned(DomainEvent):
    reason: str


# --- aggregate -----------------------------------------------------------------------------


def device_aggregate_id(tenant_id: TenantId, device_id: DeviceId) -> str:
    return f"device:{tenant_id}:{device_id}"


class Device(Aggregate):
    prefix = "device"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.device_id = DeviceId("unset")
        self.sensor_type = ""
        self.profile = DeviceProfile(name="", site_id=SiteId("unset"))
        self.status = DeviceStatus.ACTIVE
        self.credential_hash = ""
        self.desired: Mapping[str, Scalar] = {}
        self.reported: Mapping[str, Scalar] = {}

    @classmethod
    def register(
        cls,
        tenant_id: TenantId,
        device_id: DeviceId,
        sensor_type: str,
        profile: DeviceProfile,
        credential_hash: str,
        ctx: EventContext,
    ) -> Device:
        device = cls(device_aggregate_id(tenant_id, device_id))
        device._record(
            DeviceRegistered,
            ctx,
            tenant_id=tenant_id,
            device_id=device_id,
            sensor_type=sensor_type,
            profile=profile,
            credential_hash=credential_hash,
        )
        return device

    @property
    def accepts_readings(self) -> bool:
        return self.status is DeviceStatus.ACTIVE

    def ensure_active(self) -> None:
        if self.status is DeviceStatus.DECOMMISSIONED:
            raise DeviceIsDecommissioned(f"device {self.device_id} is decommissioned")

    def change_profile(self, profile: DeviceProfile, ctx: EventContext) -> None:
        self.ensure_active()
        if profile != self.profile:
            self._record(DeviceProfileChanged, ctx, profile=profile)

    def set_desired_configuration(self, values: Mapping[str, object], ctx: EventContext) -> None:
        self.ensure_active()
        self._record(DesiredConfigurationSet, ctx, configuration=configuration(values))

    def record_reported_configuration(
        self, values: Mapping[str, object], ctx: EventContext
    ) -> None:
        self.ensure_active()
        config = configuration(values)
        if config != self.reported:
            self._record(ReportedConfigurationRecorded, ctx, configuration=config)

    def configuration_delta(self) -> dict[str, Scalar]:
        """Desired settings the device has not (yet) reported back as applied."""
        return {k: v for k, v in self.desired.items() if self.reported.get(k) != v}

    def rotate_credentials(self, credential_hash: str, ctx: EventContext) -> None:
        self.ensure_active()
        self._record(DeviceCredentialsRotated, ctx, credential_hash=credential_hash)

    def decommission(self, reason: str, ctx: EventContext) -> None:
        self.ensure_active()
        self._record(
            DeviceDecommissioned,
            ctx,
            reason=bounded_text(reason, "reason", max_length=500, allow_empty=True),
        )

    def apply(self, event: DomainEvent) -> None:
        match event:
            case DeviceRegistered():
                self.device_id = event.device_id
                self.sensor_type = event.sensor_type
                self.profile = event.profile
                self.credential_hash = event.credential_hash
            case DeviceProfileChanged():
                self.profile = event.profile
            case DesiredConfigurationSet():
                self.desired = event.configuration
            case ReportedConfigurationRecorded():
                self.reported = event.configuration
            case DeviceCredentialsRotated():
                self.credential_hash = event.credential_hash
            case DeviceDecommissioned():
                self.status = DeviceStatus.DECOMMISSIONED
