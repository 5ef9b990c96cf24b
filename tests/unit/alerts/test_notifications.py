"""The notification dispatcher on memory adapters: routing, idempotency across a crash,
retries with back-off and the failed state."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

import smdh.domain.alerts.channels as ch  # registers the channel events before the serializer
from smdh.adapters.memory.clock import FixedClock
from smdh.adapters.memory.delivery_log import InMemoryDeliveryLog
from smdh.adapters.memory.event_store import InMemoryEventStore
from smdh.adapters.memory.notifiers import MemorySmsNotifier, RecordingNotifier
from smdh.adapters.serialization import EventSerializer
from smdh.application.delivery import DeliveryStatus, RetryPolicy
from smdh.application.notifications import NotificationDispatcher, recipients
from smdh.application.unit_of_work import UnitOfWork
from smdh.domain.alerts.alert import Alert, alert_aggregate_id
from smdh.domain.alerts.rules import AlertRule, Channel, RuleDefinition, RuleScope, Severity
from smdh.domain.shared.events import EventContext
from smdh.domain.shared.ids import DeviceId, RuleId, SiteId, TenantId

T = TenantId("acme")
RULE = RuleId("co2-dangerous")
DEVICE = DeviceId("air-1")
CHANNELS = ("in_app", "email", "sms", "slack", "webhook")


class World:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.events = InMemoryEventStore(EventSerializer())
        self.log = InMemoryDeliveryLog()
        self.notifiers = {c: RecordingNotifier() for c in CHANNELS}
        self.notifiers["sms"] = MemorySmsNotifier()

    def ctx(self, actor: str = "evaluator") -> EventContext:
        return EventContext(occurred_at=self.clock.now(), actor=actor)

    def dispatcher(self, **kw: object) -> NotificationDispatcher:
        kw.setdefault("policy", RetryPolicy(base_s=2, cap_s=60, max_attempts=3, lease_s=30))
        return NotificationDispatcher(
            self.events, self.log, self.notifiers, self.clock,
            rng=random.Random(7), send_workers=1, **kw,  # type: ignore[arg-type]
        )  # fmt: skip

    def setup(self, rule_channels: tuple[str, ...] = CHANNELS) -> None:
        definition = RuleDefinition.create(
            "CO2", RuleScope(sensor_type="air_quality"), "co2_ppm", "ge", 5000.0,
            severity="critical", channels=rule_channels,
        )  # fmt: skip
        channels = ch.NotificationChannels.empty(T)
        settings = ch.ChannelSettings.create(
            email_recipients=("ops@acme.io", "boss@acme.io"),
            sms_recipients=("+491701234567",),
            webhooks=(ch.WebhookTarget.create("http://hooks.acme.io/a", "s" * 20),),
            slack_webhook_url="https://hooks.slack.com/services/x",
        )
        channels.configure(settings, self.ctx("admin"))
        muted = ch.UserNotificationPreferences.create(
            "boss", email="boss@acme.io", muted_channels=("email",)
        )
        channels.set_preferences(muted, self.ctx("boss"))
        with UnitOfWork(self.events) as uow:
            uow.add(AlertRule.define(T, RULE, definition, self.ctx("admin")))
            uow.add(channels)
            uow.commit()

    def raise_alert(self, episode: int = 1) -> str:
        alert = Alert.raise_(
            tenant_id=T, rule_id=RULE, device_id=DEVICE, episode=episode,
            site_id=SiteId("plant"), sensor_type="air_quality", severity=Severity.CRITICAL,
            measure="co2_ppm", value=6000.0, threshold=5000.0, message="CO2 6000 ppm",
            latched=False, raised_at=self.clock.now(), ctx=self.ctx(),
        )  # fmt: skip
        with UnitOfWork(self.events) as uow:
            uow.add(alert)
            uow.commit()
        return alert.id

    def change(self, alert_id: str, action: str) -> None:
        with UnitOfWork(self.events) as uow:
            alert = uow.get(Alert, alert_id, what="alert")
            if action == "ack":
                alert.acknowledge("editor-1", "on it", self.ctx("editor-1"))
            else:
                alert.clear(800.0, "condition cleared", self.ctx())
            uow.commit()

    def sent(self) -> list[str]:
        return sorted(k for n in self.notifiers.values() for k in n.idempotency_keys())  # type: ignore[attr-defined]


@pytest.fixture
def world() -> World:
    w = World()
    w.setup()
    return w


def test_one_notification_per_channel_and_recipient_per_transition(world: World) -> None:
    alert_id = world.raise_alert()
    report = world.dispatcher().dispatch_once()
    expected = {
        ("in_app", "acme"),
        ("email", "ops@acme.io"),
        ("sms", "+491701234567"),
        ("slack", "slack"),
        ("webhook", "http://hooks.acme.io/a"),
    }  # fmt: skip  (boss muted e-mail)
    got = {(n.channel, n.recipient) for c in CHANNELS for n in world.notifiers[c].sent}  # type: ignore[attr-defined]
    assert got == expected
    assert report.recorded == report.sent == 5
    key = f"{alert_aggregate_id(T, RULE, DEVICE, 1)}:1:webhook:http://hooks.acme.io/a"
    webhook = world.notifiers["webhook"].sent[0]  # type: ignore[attr-defined]
    assert webhook.idempotency_key == key
    assert webhook.payload["alert_id"] == "co2-dangerous:air-1:1"
    assert webhook.payload["type"] == "alert.raised"
    assert webhook.payload["severity"] == "critical"
    # the next pass finds nothing new; acknowledge + clear are one transition each
    assert world.dispatcher().dispatch_once().recorded == 0
    world.change(alert_id, "ack")
    world.change(alert_id, "clear")
    report = world.dispatcher().dispatch_once()
    assert report.sent == 10
    assert len(world.sent()) == len(set(world.sent())) == 15
    ack = [n for n in world.notifiers["in_app"].sent if n.payload["type"] == "alert.acknowledged"]  # type: ignore[attr-defined]
    assert ack[0].payload["details"] == {"by": "editor-1", "note": "on it"}


def test_rule_channels_and_severity_filters() -> None:
    settings = ch.ChannelSettings.create(
        email_recipients=("ops@acme.io",),
        default_channels=("webhook",),
        webhooks=(
            ch.WebhookTarget.create("http://a.example/x", "k" * 16, "critical"),
            ch.WebhookTarget.create("http://b.example/y", "k" * 16),
        ),
        min_severity="warning",
    )
    in_app_only = recipients("raised", Severity.WARNING, (Channel.IN_APP,), settings, (), "t")
    assert in_app_only == [(Channel.IN_APP, "t"), (Channel.WEBHOOK, "http://b.example/y")]
    assert recipients("raised", Severity.INFO, (Channel.EMAIL,), settings, (), "t") == []
    # snoozing is news for the portal only
    snoozed = recipients("snoozed", Severity.CRITICAL, tuple(Channel), settings, (), "t")
    assert snoozed == [(Channel.IN_APP, "t")]
    prefs = [
        ch.UserNotificationPreferences.create("u1", email="u1@acme.io", min_severity="critical")
    ]
    warn = recipients("raised", Severity.WARNING, (Channel.EMAIL,), settings, prefs, "t")
    assert (Channel.EMAIL, "u1@acme.io") not in warn
    crit = recipients("raised", Severity.CRITICAL, (Channel.EMAIL,), settings, prefs, "t")
    assert (Channel.EMAIL, "u1@acme.io") in crit


class CrashBeforeCursor(InMemoryDeliveryLog):
    """Shares the rows of ``log`` but dies when asked to move the cursor."""

    def __init__(self, log: InMemoryDeliveryLog) -> None:
        self.__dict__.update(log.__dict__)

    def set_cursor(self, name: str, position: int) -> None:
        raise SystemExit("crash between recording and advancing the cursor")


def test_crash_before_the_cursor_moves_loses_nothing_and_sends_nothing_twice(
    world: World,
) -> None:
    world.raise_alert()
    crashing = NotificationDispatcher(
        world.events, CrashBeforeCursor(world.log), world.notifiers, world.clock, send_workers=1
    )
    with pytest.raises(SystemExit):
        crashing.dispatch_once()
    assert world.log.cursor("notifications") == 0
    pending = world.log.list("acme", status=DeliveryStatus.PENDING)
    assert len(pending) == 5 and world.sent() == []
    # part of the rows went out before the crash of a second attempt (same store)
    survivor_a = world.dispatcher()
    survivor_a.send_due(limit=2)
    assert len(world.sent()) == 2
    # dispatcher B starts from the old cursor, re-derives every row, sends only the rest
    world.dispatcher().dispatch_once()
    assert len(world.sent()) == len(set(world.sent())) == 5
    assert world.log.cursor("notifications") > 0
    assert world.dispatcher().dispatch_once().sent == 0


def test_a_claimed_row_is_not_sent_by_a_second_dispatcher(world: World) -> None:
    world.raise_alert()
    first, second = world.dispatcher(), world.dispatcher()
    first.collect()
    claimed = world.log.claim_due(world.clock.now(), lease_s=30)
    assert len(claimed) == 5
    assert second.dispatch_once().sent == 0  # all leased to the first
    world.clock.advance(31)  # the first died holding the lease: the rows are not lost
    assert second.dispatch_once().sent == 5


def test_retries_back_off_with_jitter_then_fail_visibly(world: World) -> None:
    world.raise_alert()
    webhook = world.notifiers["webhook"]
    assert isinstance(webhook, RecordingNotifier)
    webhook.fail_next(10)
    dispatcher = world.dispatcher()
    first = dispatcher.dispatch_once()
    assert (first.sent, first.retried, first.failed) == (4, 1, 0)
    (row,) = [d for d in world.log.list("acme") if d.channel == "webhook"]
    assert row.status is DeliveryStatus.PENDING and row.attempts == 1
    assert "ConnectionError" in (row.last_error or "")
    wait = (row.next_attempt_at - world.clock.now()).total_seconds()
    assert 1.0 <= wait <= 2.0  # base 2 s, jitter in [0.5, 1]
    assert dispatcher.dispatch_once().sent == 0  # not due yet
    world.clock.advance(wait)
    assert dispatcher.dispatch_once().retried == 1
    (row,) = [d for d in world.log.list("acme") if d.channel == "webhook"]
    second_wait = (row.next_attempt_at - world.clock.now()).total_seconds()
    assert 2.0 <= second_wait <= 4.0 and row.attempts == 2
    world.clock.advance(second_wait)
    assert dispatcher.dispatch_once().failed == 1
    failed = world.log.list("acme", status=DeliveryStatus.FAILED)
    assert [d.channel for d in failed] == ["webhook"] and failed[0].attempts == 3
    world.clock.advance(timedelta(hours=1).total_seconds())
    assert dispatcher.dispatch_once() == type(dispatcher.dispatch_once())(0, 0, 0, 0)
    assert world.log.list("other-tenant") == []


def test_recovery_after_a_transient_failure(world: World) -> None:
    world.raise_alert()
    email = world.notifiers["email"]
    assert isinstance(email, RecordingNotifier)
    email.fail_next(1)
    dispatcher = world.dispatcher()
    dispatcher.dispatch_once()
    world.clock.advance(5)
    dispatcher.dispatch_once()
    (row,) = [d for d in world.log.list("acme") if d.channel == "email"]
    assert row.status is DeliveryStatus.SENT and row.attempts == 2 and row.last_error is None
    assert len(email.sent) == 1
