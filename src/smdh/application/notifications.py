"""The notification dispatcher: follows the event store (the outbox) and delivers alerts.

``dispatch_once`` does two things:

1. **collect**: read the events after the persisted cursor, turn every alert transition into
   ``Delivery`` rows (one per channel and recipient, keyed
   ``{alert aggregate id}:{version}:{channel}:{recipient}``), record them in the delivery
   log and only then move the cursor past them. A crash anywhere re-derives the same rows.
2. **send**: claim the due rows (atomic, with a lease), hand each to its channel's
   ``Notifier``, mark it sent, or schedule a retry with exponential back-off and jitter;
   after ``max_attempts`` the row is ``failed`` and shows up in ``GET /v1/deliveries``.

Which channels and recipients: see ``smdh.domain.alerts.channels``. In-app items go to every
transition (the portal's board follows them); e-mail, SMS, Slack and webhooks get raised,
escalated, reminded, acknowledged and cleared.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from enum import Enum
from typing import Any

import attrs

from smdh.application.delivery import Delivery, DeliveryLog, RetryPolicy, delivery_key
from smdh.application.ports import Clock, EventStore, Notifier, StoredEvent
from smdh.domain.alerts import alert as a
from smdh.domain.alerts.channels import (
    ChannelSettings,
    NotificationChannels,
    UserNotificationPreferences,
    at_least,
    channels_aggregate_id,
)
from smdh.domain.alerts.rules import AlertRule, Channel, Severity, rule_aggregate_id
from smdh.domain.shared.events import DomainEvent

log = logging.getLogger(__name__)

TRANSITIONS: Mapping[type[DomainEvent], str] = {
    a.AlertRaised: "raised",
    a.AlertAcknowledged: "acknowledged",
    a.AlertCleared: "cleared",
    a.AlertSnoozed: "snoozed",
    a.AlertEscalated: "escalated",
    a.AlertReminded: "reminded",
    a.AlertConditionCleared: "condition_cleared",
    a.AlertRetriggered: "retriggered",
}
EXTERNAL = frozenset({"raised", "acknowledged", "cleared", "escalated", "reminded"})
_ENVELOPE = ("aggregate_id", "version", "tenant_id", "occurred_at", "actor")
MAX_ERROR = 500


def public_alert_id(alert: a.Alert) -> str:
    """The id API users see: the aggregate id without the tenant (rebuilt from the caller)."""
    return f"{alert.rule_id}:{alert.device_id}:{alert.episode}"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def alert_payload(event: DomainEvent, alert: a.Alert) -> dict[str, Any]:
    """The JSON document of one transition: what webhooks receive and the portal shows."""
    details = {
        f.name: _plain(getattr(event, f.name))
        for f in attrs.fields(type(event))
        if f.name not in _ENVELOPE
    }
    return {
        "type": f"alert.{TRANSITIONS[type(event)]}",
        "tenant_id": event.tenant_id,
        "alert_id": public_alert_id(alert),
        "version": event.version,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": event.actor,
        "rule_id": alert.rule_id,
        "device_id": alert.device_id,
        "site_id": alert.site_id,
        "sensor_type": alert.sensor_type,
        "severity": alert.severity.value,
        "state": alert.state.value,
        "measure": alert.measure,
        "value": alert.value,
        "threshold": alert.threshold,
        "message": alert.message,
        "details": details,
    }


def recipients(
    transition: str,
    severity: Severity,
    rule_channels: Iterable[Channel],
    settings: ChannelSettings,
    preferences: Iterable[UserNotificationPreferences],
    tenant_id: str,
) -> list[tuple[Channel, str]]:
    """(channel, recipient) pairs for one transition of one alert."""
    wanted = set(rule_channels) | set(settings.default_channels)
    found: list[tuple[Channel, str]] = []
    if settings.in_app and Channel.IN_APP in wanted:
        found.append((Channel.IN_APP, tenant_id))
    if transition not in EXTERNAL or not at_least(severity, settings.min_severity):
        return found
    prefs = list(preferences)
    for channel, listed, own in (
        (Channel.EMAIL, settings.email_recipients, [(p, p.email) for p in prefs]),
        (Channel.SMS, settings.sms_recipients, [(p, p.phone) for p in prefs]),
    ):
        if channel not in wanted:
            continue
        owners = {address: p for p, address in own if address is not None}
        for address in dict.fromkeys([*listed, *owners]):
            owner = owners.get(address)
            if owner is None or owner.wants(channel, severity):
                found.append((channel, address))
    if Channel.SLACK in wanted and settings.slack_webhook_url is not None:
        found.append((Channel.SLACK, "slack"))
    if Channel.WEBHOOK in wanted:
        found.extend(
            (Channel.WEBHOOK, w.url)
            for w in settings.webhooks
            if at_least(severity, w.min_severity)
        )
    return found


def render(transition: str, payload: Mapping[str, Any]) -> tuple[str, str]:
    """Subject and plain-text body of a notification."""
    severity = str(payload["severity"]).upper()
    subject = f"[{severity}] {payload['rule_id']} on {payload['device_id']}: {transition}"
    lines = [
        str(payload["message"]) or subject,
        f"alert {payload['alert_id']} is now {payload['state']} ({transition})",
        f"{payload['measure']} = {payload['value']} (threshold {payload['threshold']})",
        f"at {payload['occurred_at']} by {payload['actor']}",
    ]
    return subject[:200], "\n".join(lines)


@attrs.frozen
class DispatchReport:
    recorded: int
    sent: int
    retried: int
    failed: int


class NotificationDispatcher:
    """Follow the event store, record deliveries, send them; safe to run in a worker thread.

    ``dispatch_once`` calls are serialised by a lock (the hub calls it from a timer and after
    ingest batches).
    """

    def __init__(
        self,
        events: EventStore,
        deliveries: DeliveryLog,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        *,
        policy: RetryPolicy | None = None,
        name: str = "notifications",
        rng: random.Random | None = None,
        batch: int = 500,
        send_workers: int = 8,
        on_sent: Callable[[Delivery], None] | None = None,
    ) -> None:
        self.events = events
        self.deliveries = deliveries
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.name = name
        self._rng = rng or random.Random()  # noqa: S311  (jitter only)
        self._batch = batch
        self._workers = send_workers
        self._on_sent = on_sent
        self._lock = threading.Lock()

    # --- collect ---------------------------------------------------------------------------

    def collect(self) -> int:
        """Record the deliveries of every event after the cursor; returns rows added."""
        added = 0
        while True:
            page = self.events.read_all(self.deliveries.cursor(self.name), limit=self._batch)
            if not page:
                return added
            rows = self.derive(page)
            added += self.deliveries.record(rows) if rows else 0
            self.deliveries.set_cursor(self.name, page[-1].position)

    def derive(self, page: Iterable[StoredEvent]) -> list[Delivery]:
        rows: list[Delivery] = []
        settings_cache: dict[str, NotificationChannels] = {}
        channels_cache: dict[str, tuple[Channel, ...]] = {}
        for stored in page:
            event = stored.event
            transition = TRANSITIONS.get(type(event))
            if transition is None:
                continue
            history = [
                e for e in self.events.load(event.aggregate_id) if e.version <= event.version
            ]
            alert = a.Alert.rehydrate(history)
            if alert is None:  # pragma: no cover - the event itself is in the history
                continue
            tenant = event.tenant_id
            if tenant not in settings_cache:
                found = NotificationChannels.rehydrate(
                    self.events.load(channels_aggregate_id(tenant))
                )
                settings_cache[tenant] = found or NotificationChannels.empty(tenant)  # type: ignore[arg-type]
            rule_key = rule_aggregate_id(tenant, alert.rule_id)  # type: ignore[arg-type]
            if rule_key not in channels_cache:
                rule = AlertRule.rehydrate(self.events.load(rule_key))
                defined = rule.definition if rule is not None else None
                channels_cache[rule_key] = (
                    defined.channels if defined is not None else (Channel.IN_APP,)
                )
            config = settings_cache[tenant]
            payload = alert_payload(event, alert)
            subject, body = render(transition, payload)
            now = self.clock.now()
            for channel, recipient in recipients(
                transition, alert.severity, channels_cache[rule_key], config.settings,
                config.preferences.values(), tenant,
            ):  # fmt: skip
                rows.append(
                    Delivery(
                        idempotency_key=delivery_key(
                            event.aggregate_id, event.version, channel.value, recipient
                        ),
                        tenant_id=tenant,
                        alert_id=event.aggregate_id,
                        event_type=event.type_name(),
                        channel=channel.value,
                        recipient=recipient,
                        subject=subject,
                        body=body,
                        payload=payload,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
        return rows

    # --- send ------------------------------------------------------------------------------

    def send_due(self, limit: int = 200) -> tuple[int, int, int]:
        """(sent, retried later, failed for good) of the rows due now."""
        now = self.clock.now()
        claimed = self.deliveries.claim_due(now, self.policy.lease_s, limit)
        if not claimed:
            return 0, 0, 0
        # in-app first, on this thread: it is instant and the portal wants it now
        claimed.sort(key=lambda d: d.channel != Channel.IN_APP.value)
        inline = [d for d in claimed if d.channel == Channel.IN_APP.value]
        remote = [d for d in claimed if d.channel != Channel.IN_APP.value]
        outcomes = [self._send(d) for d in inline]
        if len(remote) > 1 and self._workers > 1:
            with ThreadPoolExecutor(min(self._workers, len(remote))) as pool:
                outcomes.extend(pool.map(self._send, remote))
        else:
            outcomes.extend(self._send(d) for d in remote)
        return (
            outcomes.count("sent"),
            outcomes.count("retry"),
            outcomes.count("failed"),
        )

    def _send(self, delivery: Delivery) -> str:
        notifier = self.notifiers.get(delivery.channel)
        try:
            if notifier is None:
                raise LookupError(f"no notifier is configured for {delivery.channel}")
            notifier.send(delivery.notification())
        except Exception as exc:  # any failure of a channel is a failed attempt
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
            retry_at = (
                None  # a recipient or message that can never work: retrying will not help
                if isinstance(exc, ValueError)
                else self.policy.retry_at(delivery.attempts, self.clock.now(), self._rng)
            )
            self.deliveries.mark_attempt_failed(delivery.idempotency_key, error, retry_at)
            log.warning(
                "delivery %s attempt %d failed: %s", delivery.idempotency_key,
                delivery.attempts, error,
            )  # fmt: skip
            return "failed" if retry_at is None else "retry"
        self.deliveries.mark_sent(delivery.idempotency_key, self.clock.now())
        if self._on_sent is not None:
            self._on_sent(delivery)
        return "sent"

    def dispatch_once(self) -> DispatchReport:
        with self._lock:
            recorded = self.collect()
            sent, retried, failed = self.send_due()
        return DispatchReport(recorded, sent, retried, failed)


class ChannelLookup:
    """Current channel settings of a tenant, read from its stream (for the notifiers, which
    look up webhook secrets and the Slack URL at send time)."""

    def __init__(self, events: EventStore) -> None:
        self._events = events

    def settings(self, tenant_id: str) -> ChannelSettings:
        found = NotificationChannels.rehydrate(self._events.load(channels_aggregate_id(tenant_id)))
        return ChannelSettings() if found is None else found.settings

    def webhook_secret(self, tenant_id: str, url: str) -> str | None:
        webhook = self.settings(tenant_id).webhook(url)
        return None if webhook is None else webhook.secret

    def slack_url(self, tenant_id: str) -> str | None:
        return self.settings(tenant_id).slack_webhook_url
