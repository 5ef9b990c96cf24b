"""Local notifiers: SMTP e-mail, signed webhooks, Slack incoming webhooks, in-app (live feed).

Every ``send`` delivers or raises; the dispatcher retries. Network calls have timeouts and
never follow redirects (a webhook URL is the tenant's, a redirect could point anywhere).
Webhook and Slack deliveries go only where the ``EgressPolicy`` allows (application/egress.py:
on a shared hub, never to private or local addresses).

Webhook signature (``X-SMDH-Signature: sha256=<hex>``): HMAC-SHA256 with the webhook's
secret over ``f"{timestamp}.{body}"``, where ``timestamp`` is the ``X-SMDH-Timestamp``
header (Unix seconds) and ``body`` the raw request body. Receivers check it with
``verify_signature`` (constant-time compare, and a timestamp tolerance against replays) and
deduplicate on ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from smdh.application.egress import EgressPolicy
from smdh.application.live import LiveFeed
from smdh.application.ports import Notification

SIGNATURE_HEADER = "X-SMDH-Signature"
TIMESTAMP_HEADER = "X-SMDH-Timestamp"
USER_AGENT = "SMDH-Notifier/1"
MAX_RESPONSE = 64 * 1024
ALLOW_ALL = EgressPolicy(allow_private=True)


class DeliveryError(Exception):
    """The receiver refused or could not be reached; the dispatcher retries."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """True when ``header`` is SMDH's signature of ``body`` at ``timestamp`` with ``secret``
    and the timestamp is within ``tolerance_s`` of ``now`` (default: the current time)."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header or "")


def _pinned(address: str) -> Callable[..., socket.socket]:
    """``socket.create_connection`` to ``address`` whatever host it is asked for: the
    connection goes where the egress policy looked (TLS still checks the host name)."""

    def connect(
        target: tuple[str, int], timeout: float | None = None, source: Any = None
    ) -> socket.socket:
        return socket.create_connection((address, target[1]), timeout, source)

    return connect


def post_json(
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout_s: float,
    egress: EgressPolicy = ALLOW_ALL,
) -> int:
    """POST ``body`` to ``url``; returns the status, raises ``DeliveryError`` unless 2xx
    (and ``BlockedTarget`` when ``egress`` refuses the host's addresses)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("not an http(s) URL")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    address = None
    if not egress.allow_private:
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise DeliveryError(f"{host}: cannot resolve: {exc}") from None
        address = egress.pick_address(host, [str(a[4][0]) for a in answers])
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            host, port, timeout=timeout_s, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    if address is not None:
        conn._create_connection = _pinned(address)  # type: ignore[attr-defined]
    try:
        conn.request("POST", path, body=body, headers={"User-Agent": USER_AGENT, **headers})
        response = conn.getresponse()
        response.read(MAX_RESPONSE)
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{parts.hostname}: {type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
    if not 200 <= status < 300:
        raise DeliveryError(f"{parts.hostname} answered HTTP {status}")
    return status


def _tenant(notification: Notification) -> str:
    return str(notification.payload.get("tenant_id", ""))


class WebhookNotifier:
    """POSTs the notification's payload as JSON, signed with the webhook's secret.

    ``secret_for(tenant_id, url)`` looks the secret up in the tenant's current channel
    configuration at send time (so a rotated secret signs retries too); None means the
    webhook was removed, which fails the delivery.
    """

    def __init__(
        self,
        secret_for: Callable[[str, str], str | None],
        *,
        timeout_s: float = 5.0,
        now: Callable[[], float] = time.time,
        egress: EgressPolicy = ALLOW_ALL,
    ) -> None:
        self._secret_for = secret_for
        self._timeout_s = timeout_s
        self._now = now
        self._egress = egress

    def send(self, notification: Notification) -> None:
        secret = self._secret_for(_tenant(notification), notification.recipient)
        if secret is None:
            raise DeliveryError("the webhook is no longer configured")
        body = json.dumps(notification.payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(self._now()))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            TIMESTAMP_HEADER: timestamp,
            "Idempotency-Key": notification.idempotency_key,
            "X-SMDH-Event": str(notification.payload.get("type", "alert")),
        }
        post_json(notification.recipient, body, headers, self._timeout_s, self._egress)


class SlackNotifier:
    """Slack incoming webhook: ``{"text": ...}``. The URL (a credential) is looked up per
    tenant at send time, so it never enters the delivery log."""

    def __init__(
        self,
        url_for: Callable[[str], str | None],
        *,
        timeout_s: float = 5.0,
        egress: EgressPolicy = ALLOW_ALL,
    ) -> None:
        self._url_for = url_for
        self._egress = egress
        self._timeout_s = timeout_s

    def send(self, notification: Notification) -> None:
        url = self._url_for(_tenant(notification))
        if url is None:
            raise DeliveryError("no Slack webhook is configured")
        text = f"*{notification.subject}*\n{notification.body}"
        body = json.dumps({"text": text}).encode()
        post_json(url, body, {"Content-Type": "application/json"}, self._timeout_s, self._egress)


class SmtpEmailNotifier:
    """Plain-text e-mail through an SMTP server (stdlib ``smtplib``), one connection a send.

    The ``Message-ID`` is derived from the idempotency key, so a redelivered message is
    recognisably the same message.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self._starttls = starttls
        self._username, self._password = username, password
        self._timeout_s = timeout_s

    def send(self, notification: Notification) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = notification.recipient
        message["Subject"] = notification.subject
        digest = hashlib.sha256(notification.idempotency_key.encode()).hexdigest()[:40]
        message["Message-ID"] = f"<{digest}@smdh.local>"
        message["X-SMDH-Idempotency-Key"] = notification.idempotency_key
        message.set_content(notification.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self._timeout_s) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username is not None:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {exc}") from None


class LiveFeedNotifier:
    """In-app: the alert goes to the tenant's ``GET /v1/stream`` subscribers.

    The live feed lives on the event loop; sends from a worker thread are handed to the loop
    with ``call_soon_threadsafe``.
    """

    def __init__(self, live: LiveFeed, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._live = live
        self._loop = loop

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def send(self, notification: Notification) -> None:
        item: dict[str, Any] = {"event": "alert", **notification.payload}
        tenant_id = notification.recipient
        loop = self._loop
        if loop is None or _on_loop(loop):
            self._live.publish(tenant_id, item)
        elif loop.is_closed():
            raise DeliveryError("the hub's event loop is closed")
        else:
            loop.call_soon_threadsafe(self._live.publish, tenant_id, item)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
