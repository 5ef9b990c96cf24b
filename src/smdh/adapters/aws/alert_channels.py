"""The notifiers of the ``aws`` profile, one per channel (the dispatcher's ``notifiers``).

* ``email``: SES (``SesEmailNotifier``) from ``SMDH_ALERT_SENDER`` (a verified identity),
  optional ``SMDH_SES_CONFIGURATION_SET``; without a sender every e-mail delivery fails at
  once and visibly (``GET /v1/deliveries``) instead of vanishing;
* ``sms``: SNS direct publish (``SnsSmsNotifier``), optional ``SMDH_SMS_SENDER_ID``;
* ``webhook`` / ``slack``: the hub's signed-webhook and Slack notifiers (plain HTTPS with
  timeouts, no redirects); secrets and the Slack URL are read from the tenant's channel
  settings in the event store at send time;
* ``in_app``: nothing to push from a Lambda: the portal's alert board and stream follow the
  event store, where the transition already is. The row is marked sent (delivered by the log).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from smdh.adapters.aws.notifiers import SesEmailNotifier, SnsSmsNotifier
from smdh.adapters.embedded.notifiers import SlackNotifier, WebhookNotifier
from smdh.application.egress import EgressPolicy
from smdh.application.notifications import ChannelLookup
from smdh.application.ports import Notification, Notifier


class ChannelNotConfigured(ValueError):
    """No transport for this channel in this deployment: retrying will not help."""


class RefusingNotifier:
    def __init__(self, hint: str) -> None:
        self._hint = hint

    def send(self, notification: Notification) -> None:
        raise ChannelNotConfigured(self._hint)


class EventLogInApp:
    """In-app: already delivered by the event log the portal follows."""

    def send(self, notification: Notification) -> None:
        return None


def build_aws_notifiers(
    clients: Any,
    lookup: ChannelLookup,
    egress: EgressPolicy,
    env: Mapping[str, str] | None = None,
) -> dict[str, Notifier]:
    values = os.environ if env is None else env
    sender = values.get("SMDH_ALERT_SENDER")
    email: Notifier = (
        SesEmailNotifier(
            clients.client("ses"),
            sender,
            configuration_set=values.get("SMDH_SES_CONFIGURATION_SET") or None,
        )
        if sender
        else RefusingNotifier("no SES sender is configured (set SMDH_ALERT_SENDER)")
    )
    return {
        "email": email,
        "sms": SnsSmsNotifier(
            clients.client("sns"), sender_id=values.get("SMDH_SMS_SENDER_ID") or None
        ),
        "webhook": WebhookNotifier(lookup.webhook_secret, egress=egress),
        "slack": SlackNotifier(lookup.slack_url, egress=egress),
        "in_app": EventLogInApp(),
    }
