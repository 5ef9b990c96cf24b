"""amqtt 0.12's ``Broker`` with two of its security gaps closed (``EmbeddedBroker`` runs it).

1. **Retained messages leak across clients.** On every connect amqtt sends the new client
   the retained messages matching *every* filter any client has subscribed to, without an
   ACL check, so one device would get another device's retained desired configuration.
   Only filters the client may subscribe to itself are served here.
2. **Sessions change hands before authentication.** amqtt reads the CONNECT and then, before
   it authenticates, deletes the existing session of that client id (``clean_session=1``)
   or rewrites its credentials and will (``clean_session=0``), and takes a connected client
   with that id over (closes its connection). Anyone who could reach the port could knock
   any device off by its client id. Here the CONNECT is read first (its bytes kept),
   checked, and only then replayed into amqtt's own handling: a CONNECT with wrong
   credentials, or a valid login using a client id whose session belongs to another
   username, is answered ``CONNACK 5`` (not authorized) and closed, and touches no session.

With a TLS listener it also asks clients for no certificate: amqtt's context requests one
(``CERT_OPTIONAL``) and would fail the handshake of a device that sends a certificate from
a CA the host does not trust, although devices log in with username and password here.

These are amqtt internals (``_initialize_client_session``,
``_publish_retained_messages_for_subscription``, ``_create_ssl_context``); amqtt is pinned
below 0.13 and the broker tests fail if an upgrade changes the behaviour.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Any

from amqtt.adapters import ReaderAdapter  # type: ignore[import-untyped]
from amqtt.broker import Broker  # type: ignore[import-untyped]
from amqtt.contexts import Action  # type: ignore[import-untyped]
from amqtt.errors import AMQTTError  # type: ignore[import-untyped]
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket  # type: ignore[import-untyped]
from amqtt.mqtt.connect import ConnectPacket  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

# (username, password) of a CONNECT -> whether they log in; no side effects
CheckLogin = Callable[[str | None, str | None], bool]


class _RecordingReader(ReaderAdapter):  # type: ignore[misc]
    """Reads through to the connection and keeps what it read."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.seen = bytearray()

    async def read(self, n: int = -1) -> bytes:
        data: bytes = await self._inner.read(n)
        self.seen += data
        return data

    def feed_eof(self) -> None:
        self._inner.feed_eof()


class _ReplayReader(ReaderAdapter):  # type: ignore[misc]
    """Gives ``prefix`` first, then reads on from the connection."""

    def __init__(self, prefix: bytes, inner: Any) -> None:
        self._prefix = prefix
        self._inner = inner

    async def read(self, n: int = -1) -> bytes:
        if not self._prefix:
            data: bytes = await self._inner.read(n)
            return data
        if n == -1:
            head, self._prefix = self._prefix, b""
            rest: bytes = await self._inner.read(-1)
            return head + rest
        head, self._prefix = self._prefix[:n], self._prefix[n:]
        if len(head) < n:
            more: bytes = await self._inner.read(n - len(head))
            head += more
        return head

    def feed_eof(self) -> None:
        self._inner.feed_eof()


class CheckedBroker(Broker):  # type: ignore[misc]
    """amqtt's Broker, minus the two gaps in the module docstring."""

    def __init__(self, *args: Any, check_login: CheckLogin, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._check_login = check_login

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Any
    ) -> None:
        if await self._topic_filtering(session, subscription[0], Action.SUBSCRIBE):
            await super()._publish_retained_messages_for_subscription(subscription, session)

    @staticmethod
    def _create_ssl_context(listener: Any) -> ssl.SSLContext:
        context: ssl.SSLContext = Broker._create_ssl_context(listener)
        context.verify_mode = ssl.CERT_NONE  # see the module docstring
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _refusal(self, connect: Any) -> str | None:
        """Why this CONNECT may not touch its client id's session, or None."""
        username, password = connect.username, connect.password
        if not self._check_login(username, password):
            return f"login refused for {username!r}"
        existing = self._sessions.get(connect.client_id)
        owner = None if existing is None else existing[0].username
        if owner is not None and owner != username:
            return f"client id {connect.client_id!r} belongs to another login, not {username!r}"
        return None

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> Any:
        recording = _RecordingReader(reader)
        try:
            connect = await ConnectPacket.from_stream(recording)
        except Exception:  # a malformed CONNECT: amqtt re-reads it and answers as always
            connect = None
        if connect is not None and connect.payload is not None:
            refusal = self._refusal(connect)
            if refusal is not None:
                log.warning("MQTT CONNECT from %s:%s refused: %s", remote_address, remote_port,
                            refusal)  # fmt: skip
                await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
                with contextlib.suppress(OSError):  # the client hung up first (TLS: a reset)
                    await writer.close()
                raise AMQTTError(refusal)
        replay = _ReplayReader(bytes(recording.seen), reader)
        return await super()._initialize_client_session(replay, writer, remote_address, remote_port)
