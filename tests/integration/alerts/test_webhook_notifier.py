"""``WebhookNotifier`` and ``SlackNotifier`` against a real aiohttp receiver on a free port:
the receiver verifies the HMAC signature with ``verify_signature``; a tampered body fails."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from smdh.adapters.embedded.notifiers import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DeliveryError,
    SlackNotifier,
    WebhookNotifier,
    verify_signature,
)
from smdh.application.ports import Notification
from tests.integration.alerts.receivers import Receiver

pytestmark = pytest.mark.integration
SECRET = "whsec_test-secret-0123456789"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def note(url: str, payload: dict[str, Any] | None = None) -> Notification:
    return Notification(
        channel="webhook",
        recipient=url,
        subject="[CRITICAL] co2 on air-1: raised",
        body="CO2 6000 ppm",
        idempotency_key=f"alert:acme:co2:air-1:1:1:webhook:{url}",
        payload=payload or {"type": "alert.raised", "tenant_id": "acme", "value": 6000.0},
    )


def test_the_receiver_verifies_the_signature(receiver: Receiver) -> None:
    url = receiver.url()
    secrets = {("acme", url): SECRET}
    WebhookNotifier(lambda t, u: secrets.get((t, u))).send(note(url))
    (headers, body) = receiver.requests[0]
    assert json.loads(body)["value"] == 6000.0
    assert headers["Idempotency-Key"] == f"alert:acme:co2:air-1:1:1:webhook:{url}"
    assert headers["X-SMDH-Event"] == "alert.raised"
    signature, timestamp = headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER]
    assert signature.startswith("sha256=")
    assert abs(int(timestamp) - time.time()) < 5
    assert verify_signature(SECRET, timestamp, body, signature)
    # a tampered body, another secret, a replay long after: all refused
    tampered = body.replace(b"6000.0", b"600.0")
    assert not verify_signature(SECRET, timestamp, tampered, signature)
    assert not verify_signature("whsec_another-secret-000000", timestamp, body, signature)
    assert not verify_signature(SECRET, timestamp, body, signature, now=int(timestamp) + 3600)
    assert not verify_signature(SECRET, "not-a-time", body, signature)


def test_non_2xx_and_unknown_webhooks_raise(receiver: Receiver) -> None:
    receiver.status = 500
    notifier = WebhookNotifier(lambda t, u: SECRET, timeout_s=2)
    with pytest.raises(DeliveryError, match="HTTP 500"):
        notifier.send(note(receiver.url()))
    with pytest.raises(DeliveryError, match="no longer configured"):
        WebhookNotifier(lambda t, u: None).send(note(receiver.url()))
    with Receiver() as gone:
        url = gone.url()
    with pytest.raises(DeliveryError):
        notifier.send(note(url))


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.status = 307
    with pytest.raises(DeliveryError, match="HTTP 307"):
        WebhookNotifier(lambda t, u: SECRET).send(note(receiver.url()))
    assert len(receiver.requests) == 1


def test_slack_gets_text(receiver: Receiver) -> None:
    url = receiver.url("/services/T000/B000/XXXX")
    SlackNotifier(lambda tenant: url if tenant == "acme" else None).send(note("slack"))
    (_, body) = receiver.requests[0]
    assert json.loads(body) == {"text": "*[CRITICAL] co2 on air-1: raised*\nCO2 6000 ppm"}
