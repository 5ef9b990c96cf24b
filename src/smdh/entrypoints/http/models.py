"""Request and response bodies of the v1 API, as attrs classes.

The OpenAPI component schemas are generated from these classes (``schema.py``) and request
bodies are validated against that generated schema, so the constraints written here in
``spec(...)`` are the contract. The domain validates again (and is the final word).
"""

from __future__ import annotations

from typing import Any

import attrs

from smdh.domain.shared.ids import DeviceId, SiteId, TenantId, UserId
from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.http.schema import spec

Scalar = str | int | float | bool
_NAME = spec(minLength=1, maxLength=200)
_KEY = "^[A-Za-z][A-Za-z0-9_]{0,63}$"
_SCALAR_MAP = spec(
    maxProperties=50,
    propertyNames={"pattern": _KEY},
    additionalProperties={"type": ["string", "number", "boolean"], "maxLength": 256},
)
_PASSWORD = spec("at least 10 characters", nullable=False, minLength=10, maxLength=1024)
_COLOUR = spec("a colour like #1A2B3C", pattern="^#[0-9A-Fa-f]{6}$")
_HHMM = spec("HH:MM, site-local", pattern="^([01][0-9]|2[0-3]):[0-5][0-9]$")
_SENSOR_TYPE = spec("a registered sensor type", pattern="^[a-z][a-z0-9_]{0,63}$")
_TIMEZONE = spec("an IANA zone such as Europe/Berlin", minLength=1, maxLength=64)
_KEEP = "leave out to keep the current value"

# --- shared shapes -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Branding:
    """White-label branding shown in the portal and dashboards."""

    display_name: str = attrs.field(metadata=spec(minLength=1, maxLength=100))
    logo_url: str | None = attrs.field(
        default=None, metadata=spec(pattern="^https?://[^\\s\"'<>]{1,2040}$")
    )
    primary_colour: str | None = attrs.field(default=None, metadata=_COLOUR)
    secondary_colour: str | None = attrs.field(default=None, metadata=_COLOUR)


@attrs.frozen(kw_only=True)
class Retention:
    """How many days raw data and rollups are kept."""

    raw_days: int = attrs.field(metadata=spec(minimum=1, maximum=3650))
    rollup_days: int = attrs.field(metadata=spec(minimum=1, maximum=10950))


@attrs.frozen(kw_only=True)
class Quotas:
    """Limits the operator set for a tenant."""

    max_devices: int
    max_readings_per_second: int


@attrs.frozen(kw_only=True)
class Shift:
    """A recurring working period; end before start runs past midnight."""

    name: str = attrs.field(metadata=spec(minLength=1, maxLength=64))
    weekdays: tuple[int, ...] = attrs.field(
        metadata=spec(
            "0 = Monday ... 6 = Sunday",
            items={"type": "integer", "minimum": 0, "maximum": 6},
            minItems=1,
            maxItems=7,
        )
    )
    start: str = attrs.field(metadata=_HHMM)
    end: str = attrs.field(metadata=_HHMM)


# --- requests ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TokenRequest:
    """Sign in: omit tenant (or send null) for a platform operator."""

    tenant: TenantId | None = None
    username: str = attrs.field(metadata=spec(minLength=1, maxLength=128))
    password: str = attrs.field(metadata=spec(minLength=1, maxLength=1024))


@attrs.frozen(kw_only=True)
class FirstAdmin:
    """The tenant's first admin, invited with the tenant."""

    user_id: UserId
    email: str = attrs.field(metadata=spec(minLength=3, maxLength=254))
    password: str | None = attrs.field(default=None, metadata=_PASSWORD)


@attrs.frozen(kw_only=True)
class CreateTenant:
    """Register a tenant (operator)."""

    tenant_id: TenantId
    name: str = attrs.field(metadata=_NAME)
    max_devices: int | None = attrs.field(
        default=None, metadata=spec(nullable=False, minimum=1, maximum=1_000_000)
    )
    max_readings_per_second: int | None = attrs.field(
        default=None, metadata=spec(nullable=False, minimum=1, maximum=10_000_000)
    )
    admin: FirstAdmin | None = attrs.field(default=None, metadata=spec(nullable=False))


@attrs.frozen(kw_only=True)
class SuspendTenant:
    """Why the tenant is suspended."""

    reason: str = attrs.field(metadata=spec(minLength=1, maxLength=500))


@attrs.frozen(kw_only=True)
class UpdateTenant:
    """Change the caller's own tenant profile; absent fields keep their value."""

    name: str | None = attrs.field(
        default=None, metadata=spec(_KEEP, nullable=False, **_NAME["schema"])
    )
    branding: Branding | None = attrs.field(default=None, metadata=spec(nullable=False))
    retention: Retention | None = attrs.field(default=None, metadata=spec(nullable=False))


@attrs.frozen(kw_only=True)
class CreateSite:
    """Register a site of the caller's tenant."""

    site_id: SiteId
    name: str = attrs.field(metadata=_NAME)
    timezone: str = attrs.field(metadata=_TIMEZONE)
    address: str = attrs.field(default="", metadata=spec(maxLength=500))
    tariff_ref: str | None = attrs.field(default=None, metadata=spec(maxLength=128))
    shifts: tuple[Shift, ...] = attrs.field(default=(), metadata=spec(maxItems=20))


@attrs.frozen(kw_only=True)
class UpdateSite:
    """Change a site; absent fields keep their value, tariff_ref null clears it."""

    name: str | None = attrs.field(
        default=None, metadata=spec(_KEEP, nullable=False, **_NAME["schema"])
    )
    timezone: str | None = attrs.field(
        default=None, metadata=spec(_KEEP, nullable=False, minLength=1, maxLength=64)
    )
    address: str | None = attrs.field(default=None, metadata=spec(nullable=False, maxLength=500))
    tariff_ref: str | None = attrs.field(default=None, metadata=spec(maxLength=128))
    shifts: tuple[Shift, ...] | None = attrs.field(
        default=None, metadata=spec(nullable=False, maxItems=20)
    )


@attrs.frozen(kw_only=True)
class InviteUser:
    """Invite a user with a role; an optional initial password lets them sign in locally."""

    user_id: UserId
    email: str = attrs.field(metadata=spec(minLength=3, maxLength=254))
    role: Role
    password: str | None = attrs.field(default=None, metadata=_PASSWORD)


@attrs.frozen(kw_only=True)
class ChangeRole:
    """The user's new role."""

    role: Role


@attrs.frozen(kw_only=True)
class RegisterDevice:
    """Register a device at a site of the caller's tenant."""

    device_id: DeviceId
    site_id: SiteId
    sensor_type: str = attrs.field(metadata=_SENSOR_TYPE)
    name: str = attrs.field(metadata=_NAME)
    metadata: dict[str, Scalar] = attrs.field(factory=dict, metadata=_SCALAR_MAP)
    ideal_cycle_time_s: float | None = attrs.field(
        default=None, metadata=spec(exclusiveMinimum=0, maximum=86400)
    )


@attrs.frozen(kw_only=True)
class UpdateDevice:
    """Change a device's profile; absent fields keep their value."""

    site_id: SiteId | None = attrs.field(default=None, metadata=spec(nullable=False))
    name: str | None = attrs.field(default=None, metadata=spec(nullable=False, **_NAME["schema"]))
    metadata: dict[str, Scalar] | None = attrs.field(
        default=None, metadata=spec(nullable=False, **_SCALAR_MAP["schema"])
    )
    ideal_cycle_time_s: float | None = attrs.field(
        default=None, metadata=spec(exclusiveMinimum=0, maximum=86400)
    )


@attrs.frozen(kw_only=True)
class DesiredConfiguration:
    """The configuration the device should apply (e.g. sampling_interval_s)."""

    configuration: dict[str, Scalar] = attrs.field(metadata=_SCALAR_MAP)


@attrs.frozen(kw_only=True)
class Decommission:
    """Why the device is taken out of service."""

    reason: str = attrs.field(default="", metadata=spec(maxLength=500))


@attrs.frozen(kw_only=True)
class ConfirmErasure:
    """Erasure cannot be undone: ``confirm`` repeats the id of the tenant or device."""

    confirm: str = attrs.field(metadata=spec("the id being erased", minLength=1, maxLength=128))


# --- responses -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Health:
    """Liveness or readiness."""

    status: str
    version: str | None = None


@attrs.frozen(kw_only=True)
class Token:
    """An access token (RFC 6749 section 5.1)."""

    access_token: str
    token_type: str
    expires_in: int


@attrs.frozen(kw_only=True)
class Me:
    """The caller, as the verified token describes them."""

    kind: str
    subject: str
    tenant_id: str | None
    role: str | None


@attrs.frozen(kw_only=True)
class TenantView:
    """A tenant's profile."""

    tenant_id: str
    name: str
    status: str
    branding: Branding | None
    retention: Retention
    quotas: Quotas
    version: int
    registered_at: str


@attrs.frozen(kw_only=True)
class SiteView:
    """A site (plant) of a tenant."""

    site_id: str
    name: str
    timezone: str
    address: str
    tariff_ref: str | None
    shifts: tuple[Shift, ...]
    version: int


@attrs.frozen(kw_only=True)
class UserView:
    """A member of the caller's tenant."""

    user_id: str
    email: str
    role: Role


@attrs.frozen(kw_only=True)
class DeviceView:
    """A registered device; credential hashes are never shown."""

    device_id: str
    site_id: str
    sensor_type: str
    name: str
    status: str
    metadata: dict[str, Scalar]
    ideal_cycle_time_s: float | None
    version: int
    registered_at: str


@attrs.frozen(kw_only=True)
class ConfigurationView:
    """Desired and reported configuration, and what the device has not applied yet."""

    device_id: str
    desired: dict[str, Scalar]
    reported: dict[str, Scalar]
    pending: dict[str, Scalar]
    version: int


@attrs.frozen(kw_only=True)
class DeviceCredentials:
    """Device credentials: the secret is shown once and only its hash is kept."""

    device_id: str
    username: str
    secret: str
    version: int


@attrs.frozen(kw_only=True)
class DeviceRegistration:
    """A newly registered device and its one-time credentials."""

    device: DeviceView
    credentials: DeviceCredentials


@attrs.frozen(kw_only=True)
class AuditEntry:
    """One change: who (actor) did what (event_type, data) to which aggregate, and when."""

    position: int
    occurred_at: str
    actor: str
    tenant_id: str
    event_type: str
    aggregate_id: str
    version: int
    data: dict[str, Any]


@attrs.frozen(kw_only=True)
class ErasureReport:
    """What a GDPR erasure removed: telemetry rows (samples and rollups), archive files
    (deleted, or rewritten without the device's rows) and rows of the other stores (events,
    dead letters, credentials)."""

    tenant_id: str
    device_id: str | None
    telemetry_rows: int
    archives: int
    purged_rows: int
