"""Request and response bodies of the alerting API: rules, alerts, notification channels
and deliveries (same conventions as ``models.py``: the ``spec`` metadata is the contract)."""

from __future__ import annotations

from typing import Any

import attrs

from smdh.domain.alerts.rules import Channel, Comparison, RuleKind, Severity
from smdh.domain.shared.ids import DeviceId, RuleId, SiteId
from smdh.entrypoints.http.schema import spec

_NAME = spec(minLength=1, maxLength=200)
_MEASURE = spec("a measure of the sensor type ('*' for absence rules)", minLength=1,
                maxLength=64, pattern="^([a-z][a-z0-9_]{0,63}|\\*)$")  # fmt: skip
_SENSOR_TYPE = spec("a registered sensor type", pattern="^[a-z][a-z0-9_]{0,63}$")
_SECONDS = spec(minimum=0, maximum=7 * 24 * 3600)
_CHANNELS = spec(maxItems=5, uniqueItems=True)
_NUMBER = spec(minimum=-1e300, maximum=1e300)
_EMAILS = spec(maxItems=50, items={"type": "string", "minLength": 3, "maxLength": 254})
_PHONE = "^\\+[1-9][0-9]{6,14}$"
_PHONES = spec("E.164 numbers", maxItems=50, items={"type": "string", "pattern": _PHONE})
_URL = spec("an http(s) URL", pattern="^https?://[^\\s\"'<>\\\\]{1,2040}$")
Threshold = float | str


@attrs.frozen(kw_only=True)
class RuleScope:
    """Which devices a rule watches; leave all out for the whole tenant."""

    site_id: SiteId | None = None
    sensor_type: str | None = attrs.field(default=None, metadata=_SENSOR_TYPE)
    device_id: DeviceId | None = None


@attrs.frozen(kw_only=True)
class RuleBody:
    """A rule's definition (PUT replaces the whole definition)."""

    name: str = attrs.field(metadata=_NAME)
    scope: RuleScope = attrs.field(factory=RuleScope)
    measure: str = attrs.field(metadata=_MEASURE)
    comparison: Comparison
    threshold: Threshold = attrs.field(metadata=spec(maxLength=64))
    threshold_high: float | None = attrs.field(default=None, metadata=_NUMBER)
    duration_s: int = attrs.field(default=0, metadata=_SECONDS)
    severity: Severity = Severity.WARNING
    channels: tuple[Channel, ...] = attrs.field(default=(Channel.IN_APP,), metadata=_CHANNELS)
    kind: RuleKind = RuleKind.THRESHOLD
    clear_threshold: float | None = attrs.field(default=None, metadata=_NUMBER)
    latched: bool = False
    escalate_after_s: int = attrs.field(default=0, metadata=_SECONDS)
    remind_every_s: int = attrs.field(default=0, metadata=_SECONDS)
    window_s: int = attrs.field(default=0, metadata=_SECONDS)
    window: int = attrs.field(default=0, metadata=_SECONDS)
    warmup: int = attrs.field(default=30, metadata=_SECONDS)
    z_threshold: float = attrs.field(default=3.0, metadata=spec(exclusiveMinimum=0, maximum=100))


@attrs.frozen(kw_only=True)
class CreateRule(RuleBody):
    """A new alert rule of the caller's tenant."""

    rule_id: RuleId


@attrs.frozen(kw_only=True)
class EnableDefaults:
    """Switch on the default rules of one sensor type (or of every type when left out)."""

    sensor_type: str | None = attrs.field(
        default=None, metadata=spec(nullable=False, **_SENSOR_TYPE["schema"])
    )


@attrs.frozen(kw_only=True)
class Acknowledge:
    """Who acknowledges is the caller; the note says what is being done."""

    note: str = attrs.field(default="", metadata=spec(maxLength=1000))


@attrs.frozen(kw_only=True)
class Snooze:
    """No reminders or escalation until this time (ISO 8601 with offset)."""

    until: str = attrs.field(metadata=spec(format="date-time", minLength=10, maxLength=40))


@attrs.frozen(kw_only=True)
class WebhookBody:
    """A webhook; without ``secret`` the current one is kept, or SMDH generates one."""

    url: str = attrs.field(metadata=_URL)
    secret: str | None = attrs.field(
        default=None,
        metadata=spec("16-256 URL-safe characters", nullable=False,
                      pattern="^[A-Za-z0-9_.~+/=-]{16,256}$"),
    )  # fmt: skip
    min_severity: Severity = Severity.INFO


@attrs.frozen(kw_only=True)
class ChannelsBody:
    """Where the tenant's alert notifications go (PUT replaces the whole configuration)."""

    email_recipients: tuple[str, ...] = attrs.field(default=(), metadata=_EMAILS)
    sms_recipients: tuple[str, ...] = attrs.field(default=(), metadata=_PHONES)
    webhooks: tuple[WebhookBody, ...] = attrs.field(default=(), metadata=spec(maxItems=10))
    slack_webhook_url: str | None = attrs.field(default=None, metadata=_URL)
    in_app: bool = True
    default_channels: tuple[Channel, ...] = attrs.field(default=(), metadata=_CHANNELS)
    min_severity: Severity = Severity.INFO


@attrs.frozen(kw_only=True)
class PreferencesBody:
    """The caller's own notification wishes."""

    email: str | None = attrs.field(default=None, metadata=spec(minLength=3, maxLength=254))
    phone: str | None = attrs.field(default=None, metadata=spec(pattern="^\\+[1-9][0-9]{6,14}$"))
    muted_channels: tuple[Channel, ...] = attrs.field(default=(), metadata=_CHANNELS)
    min_severity: Severity = Severity.INFO


# --- responses -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RuleView(RuleBody):
    """An alert rule."""

    rule_id: str
    enabled: bool
    version: int


@attrs.frozen(kw_only=True)
class AlertView:
    """One alert: an episode of one rule firing for one device."""

    alert_id: str
    rule_id: str
    device_id: str
    site_id: str | None
    sensor_type: str
    episode: int
    severity: Severity
    state: str
    measure: str
    value: float | str | None
    threshold: float | str | None
    message: str
    latched: bool
    raised_at: str | None
    acknowledged_by: str | None
    acknowledged_at: str | None
    note: str
    cleared_at: str | None
    clear_reason: str
    snoozed_until: str | None
    version: int


@attrs.frozen(kw_only=True)
class AlertHistoryEntry:
    """One transition of an alert (its audit trail)."""

    version: int
    event_type: str
    occurred_at: str
    actor: str
    data: dict[str, Any]


@attrs.frozen(kw_only=True)
class AlertHistory:
    alert_id: str
    entries: tuple[AlertHistoryEntry, ...]


@attrs.frozen(kw_only=True)
class WebhookView:
    """A webhook; ``secret`` only in the reply that generated it (shown once)."""

    url: str
    min_severity: Severity
    secret: str | None


@attrs.frozen(kw_only=True)
class PreferencesView:
    user_id: str
    email: str | None
    phone: str | None
    muted_channels: tuple[Channel, ...]
    min_severity: Severity


@attrs.frozen(kw_only=True)
class ChannelsView:
    """The tenant's notification channels and its members' preferences."""

    email_recipients: tuple[str, ...]
    sms_recipients: tuple[str, ...]
    webhooks: tuple[WebhookView, ...]
    slack_webhook_url: str | None
    in_app: bool
    default_channels: tuple[Channel, ...]
    min_severity: Severity
    preferences: tuple[PreferencesView, ...]
    version: int


@attrs.frozen(kw_only=True)
class DeliveryView:
    """One notification to one recipient on one channel, and how its delivery went."""

    idempotency_key: str
    alert_id: str
    event_type: str
    channel: str
    recipient: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: str
    created_at: str
    sent_at: str | None
