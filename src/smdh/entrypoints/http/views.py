"""Response views built from the read models (no credential hashes, ever)."""

from __future__ import annotations

from smdh.application.projections import DeviceEntry, SiteEntry, TenantEntry, UserEntry
from smdh.entrypoints.http.models import (
    Branding,
    ConfigurationView,
    DeviceView,
    Quotas,
    Retention,
    Shift,
    SiteView,
    TenantView,
    UserView,
)


def tenant_view(entry: TenantEntry) -> TenantView:
    brand = entry.branding
    return TenantView(
        tenant_id=entry.tenant_id,
        name=entry.name,
        status=entry.status.value,
        branding=None
        if brand is None
        else Branding(
            display_name=brand.display_name,
            logo_url=brand.logo_url,
            primary_colour=brand.primary_colour,
            secondary_colour=brand.secondary_colour,
        ),
        retention=Retention(
            raw_days=entry.retention.raw_days, rollup_days=entry.retention.rollup_days
        ),
        quotas=Quotas(
            max_devices=entry.quotas.max_devices,
            max_readings_per_second=entry.quotas.max_readings_per_second,
        ),
        version=entry.version,
        registered_at=entry.registered_at,
    )


def site_view(entry: SiteEntry) -> SiteView:
    d = entry.details
    return SiteView(
        site_id=entry.site_id,
        name=d.name,
        timezone=d.timezone,
        address=d.address,
        tariff_ref=d.tariff_ref,
        shifts=tuple(
            Shift(name=s.name, weekdays=s.weekdays, start=s.start, end=s.end) for s in d.shifts
        ),
        version=entry.version,
    )


def user_view(entry: UserEntry) -> UserView:
    return UserView(user_id=entry.user_id, email=entry.email, role=entry.role)


def device_view(entry: DeviceEntry) -> DeviceView:
    return DeviceView(
        device_id=entry.device_id,
        site_id=entry.site_id,
        sensor_type=entry.sensor_type,
        name=entry.name,
        status=entry.status.value,
        metadata=dict(entry.metadata),
        ideal_cycle_time_s=entry.ideal_cycle_time_s,
        version=entry.version,
        registered_at=entry.registered_at,
    )


def configuration_view(entry: DeviceEntry) -> ConfigurationView:
    pending = {k: v for k, v in entry.desired.items() if entry.reported.get(k) != v}
    return ConfigurationView(
        device_id=entry.device_id,
        desired=dict(entry.desired),
        reported=dict(entry.reported),
        pending=pending,
        version=entry.version,
    )
