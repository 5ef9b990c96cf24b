"""SNS SMS and SES email notifiers against moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smdh.adapters.aws.notifiers import (
    InvalidRecipient,
    SesEmailNotifier,
    SnsSmsNotifier,
    WrongChannel,
)
from smdh.application.ports import Notification

pytestmark = pytest.mark.integration

SENDER = "alerts@smdh.example.com"


def notification(channel: str, recipient: str) -> Notification:
    return Notification(
        channel=channel,
        recipient=recipient,
        subject="CO2 high in Hall 2",
        body="co2_ppm 5400 > 5000 since 10:02",
        idempotency_key="alert:a-1:raised:user:ada",
    )


def test_sms_is_published_to_the_phone_number(aws_clients: Callable[[str], Any]) -> None:
    sns = aws_clients("sns")
    calls: list[dict[str, Any]] = []
    sns.meta.events.register(
        "provide-client-params.sns.Publish", lambda params, **_: calls.append(params)
    )
    SnsSmsNotifier(sns, sender_id="SMDH").send(notification("sms", "+4915112345678"))
    assert calls[0]["PhoneNumber"] == "+4915112345678"
    assert calls[0]["Message"] == "CO2 high in Hall 2: co2_ppm 5400 > 5000 since 10:02"
    attributes = calls[0]["MessageAttributes"]
    assert attributes["AWS.SNS.SMS.SMSType"]["StringValue"] == "Transactional"
    assert attributes["AWS.SNS.SMS.SenderID"]["StringValue"] == "SMDH"


@pytest.mark.parametrize("number", ["015112345678", "+0123", "+49 151 1234", "+1234567890123456"])
def test_a_number_that_is_not_e164_is_refused(
    aws_clients: Callable[[str], Any], number: str
) -> None:
    with pytest.raises(InvalidRecipient, match=r"E\.164"):
        SnsSmsNotifier(aws_clients("sns")).send(notification("sms", number))


def test_a_notification_for_another_channel_is_refused(
    aws_clients: Callable[[str], Any],
) -> None:
    with pytest.raises(WrongChannel):
        SnsSmsNotifier(aws_clients("sns")).send(notification("email", "+4915112345678"))


def test_email_from_a_verified_sender(aws_clients: Callable[[str], Any]) -> None:
    ses = aws_clients("ses")
    ses.verify_email_identity(EmailAddress=SENDER)
    SesEmailNotifier(ses, SENDER).send(notification("email", "ada@acme.example"))
    assert ses.get_send_quota()["SentLast24Hours"] == 1


def test_email_failure_is_raised_for_the_outbox_to_retry(
    aws_clients: Callable[[str], Any],
) -> None:
    ses = aws_clients("ses")  # the sender is not verified: SES refuses
    with pytest.raises(ClientError, match="MessageRejected"):
        SesEmailNotifier(ses, SENDER).send(notification("email", "ada@acme.example"))
    assert ses.get_send_quota()["SentLast24Hours"] == 0


def test_email_recipients_are_checked(aws_clients: Callable[[str], Any]) -> None:
    ses = aws_clients("ses")
    with pytest.raises(InvalidRecipient):
        SesEmailNotifier(ses, SENDER).send(notification("email", "not-an-address"))
    with pytest.raises(InvalidRecipient):
        SesEmailNotifier(ses, "nobody")
