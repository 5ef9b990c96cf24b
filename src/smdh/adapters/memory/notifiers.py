"""Recording notifiers for tests and offline use (and the local SMS channel until an SMS
gateway is configured: SNS comes with the AWS adapters)."""

from __future__ import annotations

import logging
import threading

from smdh.application.ports import Notification

log = logging.getLogger(__name__)


class RecordingNotifier:
    """Keeps every notification it was given; ``fail_next(n)`` makes the next n sends raise."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self._failures = 0
        self._lock = threading.Lock()

    def fail_next(self, count: int = 1) -> None:
        with self._lock:
            self._failures = count

    def send(self, notification: Notification) -> None:
        with self._lock:
            if self._failures > 0:
                self._failures -= 1
                raise ConnectionError("recording notifier told to fail")
            self.sent.append(notification)

    def idempotency_keys(self) -> list[str]:
        with self._lock:
            return [n.idempotency_key for n in self.sent]


class MemorySmsNotifier(RecordingNotifier):
    """SMS port stand-in: records the message and logs it (no gateway locally)."""

    def send(self, notification: Notification) -> None:
        super().send(notification)
        log.info("SMS to %s: %s", notification.recipient, notification.subject)
