"""SNS (the alert outbox topic) -> notification channels.

Each SNS message is one ``Notification`` as JSON (``channel``, ``recipient``, ``subject``,
``body``, ``idempotency_key``, ``payload``), published by the alerting outbox. It is sent
with the channel's notifier: ``email`` through SES (sender ``SMDH_ALERT_SENDER``), ``sms``
through SNS. A failure raises, so SNS retries the delivery (its retry policy, then the
subscription's dead-letter queue); receivers can recognise a redelivery by the
``idempotency_key``. Channels without a notifier in this build are logged and skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from smdh.application.ports import Notification, Notifier
from smdh.entrypoints.lambdas import runtime

logger = Logger(service="smdh-alert-dispatch")


def notification_from(message: str) -> Notification:
    data = json.loads(message)
    return Notification(
        channel=str(data["channel"]),
        recipient=str(data["recipient"]),
        subject=str(data.get("subject", "")),
        body=str(data.get("body", "")),
        idempotency_key=str(data["idempotency_key"]),
        payload=dict(data.get("payload") or {}),
    )


def dispatch(event: Mapping[str, Any], notifiers: Mapping[str, Notifier]) -> dict[str, int]:
    sent = skipped = 0
    for record in event.get("Records", []):
        notification = notification_from(record["Sns"]["Message"])
        notifier = notifiers.get(notification.channel)
        if notifier is None:
            logger.warning("no notifier", extra={"channel": notification.channel})
            skipped += 1
            continue
        notifier.send(notification)
        sent += 1
    return {"sent": sent, "skipped": skipped}


def aws_notifiers(client: Callable[[str], Any]) -> dict[str, Notifier]:
    from smdh.adapters.aws.notifiers import SesEmailNotifier, SnsSmsNotifier  # noqa: PLC0415

    notifiers: dict[str, Notifier] = {"sms": SnsSmsNotifier(client("sns"))}
    sender = os.environ.get("SMDH_ALERT_SENDER")
    if sender:
        notifiers["email"] = SesEmailNotifier(client("ses"), sender)
    return notifiers


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    clients = runtime.container().aws_clients()
    return dispatch(event, aws_notifiers(clients.client))
