"""Where a tenant's alert notifications go: the ``NotificationChannels`` aggregate.

One aggregate per tenant (id ``channels:{tenant}``) holds the channel configuration
(e-mail and SMS recipient lists, webhooks, a Slack incoming webhook, in-app on/off, which
channels every rule uses besides its own) and the per-user preferences (a user's own
address and phone, channels they muted, the lowest severity they want to hear about).

Which channels an alert uses: the rule's ``channels`` plus the tenant's ``default_channels``,
each only at or above the tenant's ``min_severity``. Per-user preferences then add the
user's own addresses and can mute a user's address on a channel or below a severity.

Webhook secrets: the sender needs the secret itself to sign (HMAC), so it cannot be stored
hashed. It is kept in the ``ChannelsConfigured`` event: it is the tenant's own signing key
for its own receiver, it never leaves through the API after being shown once, and erasing
the tenant erases it with its events. The trade-off: anyone who can read the event store
file can sign as SMDH towards that receiver; rotate by sending the webhook without its
secret (a new one is generated and returned once).
"""

from __future__ import annotations

import re

import attrs

from smdh.domain.alerts.alert import SEVERITY_ORDER
from smdh.domain.alerts.rules import Channel, Severity
from smdh.domain.shared.aggregate import Aggregate
from smdh.domain.shared.errors import ValidationError
from smdh.domain.shared.events import DomainEvent, EventContext
from smdh.domain.shared.ids import TenantId, UserId

MAX_RECIPIENTS = 50
MAX_WEBHOOKS = 10
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")  # E.164
_URL = re.compile(r"https?://[^\s\"'<>\\]{1,2040}")
_SECRET = re.compile(r"[A-Za-z0-9_.~+/=-]{16,256}")


def channels_aggregate_id(tenant_id: str) -> str:
    return f"channels:{tenant_id}"


def check_email(value: str) -> str:
    if not isinstance(value, str) or _EMAIL.fullmatch(value) is None or len(value) > 254:
        raise ValidationError(f"not an e-mail address: {str(value)[:60]!r}")
    return value


def check_phone(value: str) -> str:
    if not isinstance(value, str) or _PHONE.fullmatch(value) is None:
        raise ValidationError(f"not an E.164 phone number (+491701234567): {str(value)[:30]!r}")
    return value


def check_url(value: str, what: str) -> str:
    if not isinstance(value, str) or _URL.fullmatch(value) is None:
        raise ValidationError(f"{what} must be an http(s) URL")
    return value


def _unique(values: tuple[str, ...], what: str, limit: int = MAX_RECIPIENTS) -> tuple[str, ...]:
    if len(values) > limit:
        raise ValidationError(f"at most {limit} {what}")
    return tuple(dict.fromkeys(values))


@attrs.frozen
class WebhookTarget:
    """A receiver of signed alert POSTs; ``secret`` signs them (HMAC-SHA256)."""

    url: str
    secret: str
    min_severity: Severity = Severity.INFO

    @classmethod
    def create(cls, url: str, secret: str, min_severity: str = "info") -> WebhookTarget:
        if _SECRET.fullmatch(secret) is None:
            raise ValidationError("a webhook secret has 16-256 URL-safe characters")
        return cls(check_url(url, "webhook url"), secret, _severity(min_severity))


@attrs.frozen
class ChannelSettings:
    email_recipients: tuple[str, ...] = ()
    sms_recipients: tuple[str, ...] = ()
    webhooks: tuple[WebhookTarget, ...] = ()
    slack_webhook_url: str | None = None
    in_app: bool = True
    default_channels: tuple[Channel, ...] = ()
    min_severity: Severity = Severity.INFO

    @classmethod
    def create(
        cls,
        *,
        email_recipients: tuple[str, ...] = (),
        sms_recipients: tuple[str, ...] = (),
        webhooks: tuple[WebhookTarget, ...] = (),
        slack_webhook_url: str | None = None,
        in_app: bool = True,
        default_channels: tuple[str, ...] = (),
        min_severity: str = "info",
    ) -> ChannelSettings:
        if len(webhooks) > MAX_WEBHOOKS:
            raise ValidationError(f"at most {MAX_WEBHOOKS} webhooks")
        if len({w.url for w in webhooks}) != len(webhooks):
            raise ValidationError("each webhook url may appear once")
        return cls(
            email_recipients=_unique(tuple(check_email(e) for e in email_recipients), "e-mails"),
            sms_recipients=_unique(tuple(check_phone(p) for p in sms_recipients), "phones"),
            webhooks=webhooks,
            slack_webhook_url=None
            if slack_webhook_url is None
            else check_url(slack_webhook_url, "slack_webhook_url"),
            in_app=in_app,
            default_channels=_channels(default_channels),
            min_severity=_severity(min_severity),
        )

    def webhook(self, url: str) -> WebhookTarget | None:
        return next((w for w in self.webhooks if w.url == url), None)


@attrs.frozen
class UserNotificationPreferences:
    """One member's own wishes: their address and phone, muted channels, lowest severity."""

    user_id: UserId
    email: str | None = None
    phone: str | None = None
    muted_channels: tuple[Channel, ...] = ()
    min_severity: Severity = Severity.INFO

    @classmethod
    def create(
        cls,
        user_id: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        muted_channels: tuple[str, ...] = (),
        min_severity: str = "info",
    ) -> UserNotificationPreferences:
        return cls(
            user_id=UserId(user_id),
            email=None if email is None else check_email(email),
            phone=None if phone is None else check_phone(phone),
            muted_channels=_channels(muted_channels),
            min_severity=_severity(min_severity),
        )

    def wants(self, channel: Channel, severity: Severity) -> bool:
        return channel not in self.muted_channels and at_least(severity, self.min_severity)


def _severity(value: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise ValidationError(f"severity must be one of {', '.join(Severity)}") from None


def _channels(values: tuple[str, ...]) -> tuple[Channel, ...]:
    try:
        return tuple(dict.fromkeys(Channel(v) for v in values))
    except ValueError:
        raise ValidationError(f"channels are {', '.join(Channel)}") from None


def at_least(severity: Severity, minimum: Severity) -> bool:
    return SEVERITY_ORDER[severity] >= SEVERITY_ORDER[minimum]


# --- events --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ChannelsConfigured(DomainEvent):
    settings: ChannelSettings


@attrs.frozen(kw_only=True)
class UserPreferencesSet(DomainEvent):
    preferences: UserNotificationPreferences


@attrs.frozen(kw_only=True)
class UserPreferencesCleared(DomainEvent):
    user_id: UserId


class NotificationChannels(Aggregate):
    prefix = "channels"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.settings = ChannelSettings()
        self.preferences: dict[str, UserNotificationPreferences] = {}

    @classmethod
    def empty(cls, tenant_id: TenantId) -> NotificationChannels:
        channels = cls(channels_aggregate_id(tenant_id))
        channels.tenant_id = tenant_id
        return channels

    def configure(self, settings: ChannelSettings, ctx: EventContext) -> None:
        if settings != self.settings or self.version == 0:
            self._record(ChannelsConfigured, ctx, settings=settings)

    def set_preferences(self, preferences: UserNotificationPreferences, ctx: EventContext) -> None:
        if self.preferences.get(preferences.user_id) != preferences:
            self._record(UserPreferencesSet, ctx, preferences=preferences)

    def clear_preferences(self, user_id: UserId, ctx: EventContext) -> None:
        if user_id in self.preferences:
            self._record(UserPreferencesCleared, ctx, user_id=user_id)

    def apply(self, event: DomainEvent) -> None:
        match event:
            case ChannelsConfigured():
                self.settings = event.settings
            case UserPreferencesSet():
                self.preferences[event.preferences.user_id] = event.preferences
            case UserPreferencesCleared():
                self.preferences.pop(event.user_id, None)
