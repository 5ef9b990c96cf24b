"""``Notifier`` on SNS (SMS) and SES (email).

Both raise on any failure (a ``ClientError`` from the service, or ``InvalidRecipient`` for
an address that can never work) so the outbox dispatcher retries with back-off or parks
the notification; neither swallows an error.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from smdh.application.ports import Notification

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient
    from mypy_boto3_ses.type_defs import MessageTagTypeDef, MessageTypeDef
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_SMS_CHARS = 1600  # SNS splits longer texts into parts; beyond this it refuses


class InvalidRecipient(ValueError):
    """A recipient the channel can never deliver to (retrying will not help)."""


class WrongChannel(ValueError):
    """A notification for another channel was routed to this notifier."""


def _check_channel(notification: Notification, channel: str) -> None:
    if notification.channel != channel:
        raise WrongChannel(f"this notifier sends {channel!r}, not {notification.channel!r}")


class SnsSmsNotifier:
    """Direct SMS publish to an E.164 phone number, as transactional SMS."""

    def __init__(self, client: SNSClient, *, sender_id: str | None = None) -> None:
        self._client = client
        self._sender_id = sender_id

    def send(self, notification: Notification) -> None:
        _check_channel(notification, "sms")
        number = notification.recipient
        if E164.fullmatch(number) is None:
            raise InvalidRecipient(f"not an E.164 phone number: {number!r}")
        text = f"{notification.subject}: {notification.body}" if notification.subject else ""
        text = text or notification.body
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
        }
        if self._sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {
                "DataType": "String",
                "StringValue": self._sender_id,
            }
        self._client.publish(
            PhoneNumber=number, Message=text[:MAX_SMS_CHARS], MessageAttributes=attributes
        )


class SesEmailNotifier:
    """Plain-text email through SES from a verified ``sender`` identity."""

    def __init__(
        self, client: SESClient, sender: str, *, configuration_set: str | None = None
    ) -> None:
        if _EMAIL.fullmatch(sender) is None:
            raise InvalidRecipient(f"not an email address: {sender!r}")
        self._client = client
        self._sender = sender
        self._configuration_set = configuration_set

    def send(self, notification: Notification) -> None:
        _check_channel(notification, "email")
        if _EMAIL.fullmatch(notification.recipient) is None:
            raise InvalidRecipient(f"not an email address: {notification.recipient!r}")
        message: MessageTypeDef = {
            "Subject": {"Data": notification.subject, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": notification.body, "Charset": "UTF-8"}},
        }
        tags: list[MessageTagTypeDef] = [
            {"Name": "idempotency", "Value": _tag_value(notification.idempotency_key)}
        ]
        if self._configuration_set:
            self._client.send_email(
                Source=self._sender,
                Destination={"ToAddresses": [notification.recipient]},
                Message=message,
                Tags=tags,
                ConfigurationSetName=self._configuration_set,
            )
        else:
            self._client.send_email(
                Source=self._sender,
                Destination={"ToAddresses": [notification.recipient]},
                Message=message,
                Tags=tags,
            )


def _tag_value(value: str) -> str:
    """SES tag values allow only letters, digits, '_', '-', '.', '@' (max 256)."""
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", value)[:256] or "none"
