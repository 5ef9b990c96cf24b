"""``WebhookNotifier`` and ``SlackNotifier`` against a real aiohttp receiver on a free port:
the receiver verifies the HMAC signature with ``verify_signature``; a tampered body fails."""

from __future__ import annotations

import json
import socket
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
from smdh.application.egress import BlockedTarget, EgressPolicy
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


DENY_PRIVATE = EgressPolicy(allow_private=False)


def test_a_shared_hub_never_posts_to_a_private_address(receiver: Receiver) -> None:
    # 127.0.0.1 by number, by the inet_aton spelling and by name: refused before any byte
    # is sent, and as a ValueError, which the dispatcher does not retry
    for host in ("127.0.0.1", "127.1", "localhost"):
        url = f"http://{host}:{receiver.port}/hook"
        with pytest.raises(BlockedTarget, match="private or local address"):
            WebhookNotifier(lambda t, u: SECRET, egress=DENY_PRIVATE).send(note(url))
        with pytest.raises(BlockedTarget):
            SlackNotifier(lambda t, url=url: url, egress=DENY_PRIVATE).send(note("slack"))
    assert receiver.requests == []
    assert issubclass(BlockedTarget, ValueError)


def test_the_connection_goes_to_the_address_that_was_checked(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a name checked as public must not be resolved again at connect time.
    Here the policy's pick is the receiver's address and the name cannot resolve at all, so
    the POST arriving proves the socket went to the picked address, not to a fresh lookup;
    the Host header still names the host of the URL."""
    name = "hooks.receiver.invalid"
    checked: list[list[str]] = []

    def pick(self: EgressPolicy, host: str, addresses: list[str]) -> str:
        checked.append(addresses)
        return "127.0.0.1"

    monkeypatch.setattr(EgressPolicy, "pick_address", pick)
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host == name:  # the name's only answer; connecting to it would go nowhere
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("198.51.100.7", port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    WebhookNotifier(lambda t, u: SECRET, egress=DENY_PRIVATE).send(
        note(f"http://{name}:{receiver.port}/hook")
    )
    assert checked == [["198.51.100.7"]]
    (headers, _) = receiver.requests[0]
    assert headers["Host"] == f"{name}:{receiver.port}"
