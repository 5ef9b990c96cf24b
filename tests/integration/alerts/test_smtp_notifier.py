"""``SmtpEmailNotifier`` against a real SMTP server (aiosmtpd) on a free port, in a thread."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from smdh.adapters.embedded.notifiers import DeliveryError, SmtpEmailNotifier
from smdh.application.ports import Notification

pytestmark = pytest.mark.integration


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(raw)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def note(key: str = "alert:acme:co2:air-1:1:1:email:ops@acme.io") -> Notification:
    return Notification(
        channel="email",
        recipient="ops@acme.io",
        subject="[CRITICAL] co2 on air-1: raised",
        body="CO2 at 6000 ppm\nalert co2:air-1:1 is now active",
        idempotency_key=key,
    )


def test_an_alert_email_arrives_with_its_idempotency_key(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    SmtpEmailNotifier("127.0.0.1", port, "smdh@factory.example", timeout_s=5).send(note())
    (mail_from, rcpt, message) = inbox.messages[0]
    assert mail_from == "smdh@factory.example"
    assert rcpt == ["ops@acme.io"]
    assert message["Subject"] == "[CRITICAL] co2 on air-1: raised"
    assert message["X-SMDH-Idempotency-Key"] == "alert:acme:co2:air-1:1:1:email:ops@acme.io"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes) and b"CO2 at 6000 ppm" in payload


def test_a_resend_carries_the_same_message_id(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    notifier = SmtpEmailNotifier("127.0.0.1", port, "smdh@factory.example")
    notifier.send(note())
    notifier.send(note())
    notifier.send(note("another-key"))
    ids = [m["Message-ID"] for _, _, m in inbox.messages]
    assert ids[0] == ids[1] != ids[2]


def test_an_unreachable_server_raises_for_the_dispatcher_to_retry() -> None:
    notifier = SmtpEmailNotifier("127.0.0.1", free_port(), "smdh@factory.example", timeout_s=2)
    with pytest.raises(DeliveryError, match="SMTP"):
        notifier.send(note())
