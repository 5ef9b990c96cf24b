"""Commands for a tenant's notification channels and its members' preferences.

Routed by ``handlers/channels.py``; the lead adds them to ``COMMAND_HANDLERS``.
"""

from __future__ import annotations

import attrs

from smdh.application.commands import TenantCommand
from smdh.domain.shared.ids import UserId


@attrs.frozen
class WebhookSpec:
    """A webhook as the caller sends it; no ``secret`` means "keep it, or generate one"."""

    url: str
    secret: str | None = None
    min_severity: str = "info"


@attrs.frozen(kw_only=True)
class ConfigureNotificationChannels(TenantCommand):
    email_recipients: tuple[str, ...] = ()
    sms_recipients: tuple[str, ...] = ()
    webhooks: tuple[WebhookSpec, ...] = ()
    slack_webhook_url: str | None = None
    in_app: bool = True
    default_channels: tuple[str, ...] = ()
    min_severity: str = "info"


@attrs.frozen(kw_only=True)
class SetNotificationPreferences(TenantCommand):
    """A member's own preferences (admins may set anyone's)."""

    user_id: UserId = attrs.field(converter=UserId)
    email: str | None = None
    phone: str | None = None
    muted_channels: tuple[str, ...] = ()
    min_severity: str = "info"


@attrs.frozen(kw_only=True)
class ClearNotificationPreferences(TenantCommand):
    user_id: UserId = attrs.field(converter=UserId)
