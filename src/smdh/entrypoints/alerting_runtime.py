"""Alerting in the running hub: evaluation on every stored batch, a 1 s tick, notifications.

``start_alerting(container, app)`` (called by ``create_app``) hooks
``AlertingService.on_batch`` into the ingest pipeline (once per container), and runs two
loops on the app's event loop from start-up to cleanup:

* the **tick** loop: ``AlertingService.tick()`` every second (absence, durations,
  escalation, reminders), in a worker thread;
* the **dispatch** loop: ``NotificationDispatcher.dispatch_once()`` every 200 ms, and at once
  when the alerting service commits alert events (it is *kicked*), in a worker thread.
  The kick keeps publish -> in-app / webhook latency at a few milliseconds plus the
  receiver's time; the timer picks up retries and events written by other processes.

Notifier selection (``build_notifiers``): webhook, Slack and in-app always; e-mail through
SMTP when ``SMDH_SMTP_HOST`` is set (``SMDH_SMTP_PORT`` (25), ``SMDH_SMTP_SENDER``,
``SMDH_SMTP_STARTTLS=1``, ``SMDH_SMTP_USERNAME`` / ``SMDH_SMTP_PASSWORD``), otherwise a
recorder in the memory profile and a refusing notifier locally (so e-mail deliveries show
up as failed in ``GET /v1/deliveries`` instead of vanishing); SMS is recorded and logged
until an SMS gateway (SNS) is configured. Webhook and Slack targets follow the
``egress_policy`` (application/egress.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from smdh.adapters.embedded.notifiers import (
    LiveFeedNotifier,
    SlackNotifier,
    SmtpEmailNotifier,
    WebhookNotifier,
)
from smdh.adapters.memory.notifiers import MemorySmsNotifier, RecordingNotifier
from smdh.application.alerting import AlertingService
from smdh.application.egress import EgressPolicy
from smdh.application.ingest import IngestPipeline
from smdh.application.notifications import ChannelLookup, NotificationDispatcher
from smdh.application.ports import Notification, Notifier
from smdh.domain.shared.events import DomainEvent

if TYPE_CHECKING:
    from smdh.entrypoints.container import Container

log = logging.getLogger("smdh.alerting")

TICK_S = 1.0
DISPATCH_S = 0.2


class NotConfigured(ValueError):
    """A channel this hub has no transport for: the delivery fails at once, visibly."""


class UnconfiguredNotifier:
    def __init__(self, hint: str) -> None:
        self._hint = hint

    def send(self, notification: Notification) -> None:
        raise NotConfigured(self._hint)


def email_notifier(profile: str, env: Mapping[str, str] | None = None) -> Notifier:
    env = os.environ if env is None else env
    host = env.get("SMDH_SMTP_HOST")
    if host:
        return SmtpEmailNotifier(
            host,
            int(env.get("SMDH_SMTP_PORT", "25")),
            env.get("SMDH_SMTP_SENDER", "smdh@localhost"),
            starttls=env.get("SMDH_SMTP_STARTTLS", "") in ("1", "true", "yes"),
            username=env.get("SMDH_SMTP_USERNAME") or None,
            password=env.get("SMDH_SMTP_PASSWORD") or None,
        )
    if profile == "memory":
        return RecordingNotifier()
    return UnconfiguredNotifier("no SMTP server is configured (set SMDH_SMTP_HOST)")


def egress_policy(profile: str, env: Mapping[str, str] | None = None) -> EgressPolicy:
    """Private webhook targets: allowed on a plant's own hub, refused on the shared (aws)
    one; ``SMDH_NOTIFY_PRIVATE_TARGETS`` overrides."""
    return EgressPolicy.from_env(os.environ if env is None else env, default_allow=profile != "aws")


def build_notifiers(
    profile: str, lookup: ChannelLookup, live: LiveFeedNotifier, egress: EgressPolicy
) -> dict[str, Notifier]:
    return {
        "email": email_notifier(profile),
        "sms": MemorySmsNotifier(),
        "slack": SlackNotifier(lookup.slack_url, egress=egress),
        "webhook": WebhookNotifier(lookup.webhook_secret, egress=egress),
        "in_app": live,
    }


class DispatchSignal:
    """Wakes the dispatch loop from any thread (the ingest worker commits alerts there)."""

    def __init__(self) -> None:
        self._targets: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._lock = threading.Lock()

    def attach(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        with self._lock:
            self._targets.append((loop, event))

    def detach(self, event: asyncio.Event) -> None:
        with self._lock:
            self._targets = [(lp, ev) for lp, ev in self._targets if ev is not event]

    def kick(self, _events: Sequence[DomainEvent] = ()) -> None:
        with self._lock:
            targets = list(self._targets)
        for loop, event in targets:
            if not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(event.set)


def hook_alerting(pipeline: IngestPipeline, alerting: AlertingService) -> DispatchSignal:
    """Evaluate every stored batch and kick the dispatcher on new alert events (the
    container calls this once, as a singleton)."""
    signal = DispatchSignal()
    pipeline.add_after_store_hook(alerting.on_batch)
    alerting.add_listener(signal.kick)
    return signal


class AlertingRuntime:
    def __init__(
        self,
        alerting: AlertingService,
        dispatcher: NotificationDispatcher,
        live: LiveFeedNotifier,
        signal: DispatchSignal,
        *,
        tick_s: float = TICK_S,
        dispatch_s: float = DISPATCH_S,
    ) -> None:
        self.alerting = alerting
        self.dispatcher = dispatcher
        self._live = live
        self._signal = signal
        self._tick_s = tick_s
        self._dispatch_s = dispatch_s
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._starting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._live.bind(loop)
        self._wake = asyncio.Event()
        self._signal.attach(loop, self._wake)
        await asyncio.to_thread(self.alerting.start)
        self._tasks = [
            asyncio.create_task(self._tick_forever(), name="smdh-alert-tick"),
            asyncio.create_task(self._dispatch_forever(self._wake), name="smdh-dispatch"),
        ]

    def start_soon(self) -> None:
        """On the loop's thread: schedule ``start`` as a task."""
        self._starting = asyncio.get_running_loop().create_task(self.start())

    async def stop(self) -> None:
        if self._wake is not None:
            self._signal.detach(self._wake)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def kick(self) -> None:
        self._signal.kick()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            try:
                await asyncio.to_thread(self.alerting.tick)
            except Exception:
                log.exception("alert tick failed")

    async def _dispatch_forever(self, wake: asyncio.Event) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._dispatch_s)
            wake.clear()
            try:
                await asyncio.to_thread(self.dispatcher.dispatch_once)
            except Exception:
                log.exception("notification dispatch failed")


def runtime_for(container: Container) -> AlertingRuntime:
    return AlertingRuntime(
        container.alerting_service(),
        container.notification_dispatcher(),
        container.live_notifier(),
        container.alerting_hook(),
    )


ALERTING_KEY = web.AppKey("alerting_runtime", AlertingRuntime)


def start_alerting(container: Container, app_or_loop: Any) -> AlertingRuntime:
    """With an aiohttp app: start with the app, stop on cleanup. With a running loop's
    coroutine context: started now as a task on that loop (stop with ``await rt.stop()``)."""
    runtime = runtime_for(container)
    if isinstance(app_or_loop, web.Application):
        app_or_loop[ALERTING_KEY] = runtime

        async def on_startup(_app: web.Application) -> None:
            await runtime.start()

        async def on_cleanup(_app: web.Application) -> None:
            await runtime.stop()

        app_or_loop.on_startup.append(on_startup)
        app_or_loop.on_cleanup.append(on_cleanup)
    else:
        loop: asyncio.AbstractEventLoop = app_or_loop
        loop.call_soon_threadsafe(runtime.start_soon)
    return runtime
