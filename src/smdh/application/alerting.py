"""The alerting service: evaluates stored batches and the passing of time, keeps alerts.

* ``on_batch(samples)`` is the ingest pipeline's after-store hook: it evaluates the batch
  against the rule index and turns each decision into a change of an ``Alert`` aggregate.
* ``tick(now)`` (every second): absence and duration rules, escalation of unacknowledged
  alerts, reminders, the end of snoozes.

Exactly one open alert per (rule, device): the alert's id is derived from (tenant, rule,
device, episode), a raise for an episode whose alert exists is a no-op, and two evaluators
racing to create the same alert append version 1 of the same stream, so the event store's
optimistic concurrency lets one win; the loser reloads and sees it open.

Restart safety: the evaluation state (per (rule, device) pending times, statistics,
episodes; devices' last-seen times) is written to an ``EvaluationStateStore`` after every
batch and tick (only changed keys). On start it is read back, episodes and raised flags are
reconciled with the alert board (the event store is the truth), and devices' last-seen
times and latest values are taken from the ``TelemetryStore`` when newer than the snapshot:
an absence alert due during the downtime fires on the first tick, a condition that cleared
while down clears.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import attrs

from smdh.application.alert_board import AlertBoard, AlertEntry
from smdh.application.alert_commands import AcknowledgeAlert, SnoozeAlert
from smdh.application.handlers.alerts import acknowledge_alert, snooze_alert
from smdh.application.ports import Clock, EventStore, TelemetryStore
from smdh.application.principals import Principal
from smdh.application.projections import DeviceRegistry, TenantDirectory
from smdh.application.unit_of_work import UnitOfWork
from smdh.domain.alerts.alert import Alert, alert_aggregate_id, parse_alert_id
from smdh.domain.alerts.anomaly import DEFAULT_MODEL, AnomalyModel
from smdh.domain.alerts.evaluation_state import EvaluationState
from smdh.domain.alerts.evaluator import (
    Action,
    RuleIndex,
    Transition,
    evaluate_batch,
    evaluate_tick,
    retire,
)
from smdh.domain.alerts.rules import RuleKind, Severity
from smdh.domain.shared.errors import ConcurrencyConflict, NotFound, ValidationError
from smdh.domain.shared.events import DomainEvent, EventContext
from smdh.domain.shared.ids import DeviceId, RuleId, SiteId
from smdh.domain.telemetry import DeviceSample

log = logging.getLogger(__name__)

ACTOR = "system:alerting"
STATISTICS_EVERY_S = 60.0
NEXT_SEVERITY = {Severity.INFO: Severity.WARNING, Severity.WARNING: Severity.CRITICAL}
Listener = Callable[[Sequence[DomainEvent]], None]


@attrs.frozen
class StateSnapshot:
    rules: Mapping[str, Mapping[str, Any]]
    last_seen: Mapping[str, list[Any]]
    saved_at: float | None  # epoch seconds of the last save; None = never saved


class EvaluationStateStore(Protocol):
    """Where the evaluator's memory survives a restart (memory, SQLite file)."""

    def load(self) -> StateSnapshot: ...

    def save(
        self,
        rules: Mapping[str, Mapping[str, Any] | None],
        last_seen: Mapping[str, list[Any]],
        saved_at: float,
    ) -> None:
        """Upserts changed rule states (None = delete) and last-seen entries."""
        ...


class AlertingService:
    def __init__(
        self,
        *,
        events: EventStore,
        directory: TenantDirectory,
        clock: Clock,
        state_store: EvaluationStateStore,
        telemetry: TelemetryStore | None = None,
        devices: DeviceRegistry | None = None,
        board: AlertBoard | None = None,
        model: AnomalyModel = DEFAULT_MODEL,
    ) -> None:
        self._events = events
        self._directory = directory
        self._clock = clock
        self._store = state_store
        self._telemetry = telemetry
        self._devices = devices
        self.board = board or AlertBoard()
        self._model = model
        self.state = EvaluationState()
        self.index = RuleIndex()
        self._rules_position = (-1, 0)  # the directory's (position, generation) indexed
        self._rules_signature: dict[tuple[str, str], tuple[int, bool]] = {}
        self._started = False
        self._listeners: list[Listener] = []
        self._statistics_saved = 0.0

    def add_listener(self, listener: Listener) -> None:
        """Called with every batch of alert events this service commits (notifications)."""
        self._listeners.append(listener)

    # --- start ----------------------------------------------------------------------------

    def start(self) -> None:
        """Restores the evaluation state; called by the first batch or tick if not before."""
        with self.state.lock:
            if self._started:
                return
            snapshot = self._store.load()
            restored = EvaluationState.restore(snapshot.rules, snapshot.last_seen)
            self.state.rules, self.state.last_seen = restored.rules, restored.last_seen
            self.state.pending = restored.pending
            self.board.catch_up(self._events)
            self._reconcile_with_board()
            self._started = True
            self._refresh_index()
            self._catch_up_telemetry()
            self._persist()

    def _reconcile_with_board(self) -> None:
        for key, episode in self.board.latest_keys().items():
            entry = self.board.get(key[0], alert_aggregate_id(*key, episode))
            st = self.state.get(key)
            raised = entry is not None and entry.is_open and not entry.condition_cleared
            if st.episode != episode or st.active != raised:
                self.state.set_episode(key, max(st.episode, episode), active=raised)

    def _catch_up_telemetry(self) -> None:
        """Samples stored while the evaluator was down (or by another process)."""
        if self._telemetry is None or self._devices is None:
            return
        replay: list[DeviceSample] = []
        for device in self._devices:
            if not device.accepts_readings:
                continue
            points = self._telemetry.latest(device.tenant_id, device.device_id)
            if not points:
                continue
            newest = max(p.timestamp for p in points)
            seen = self.state.last_seen.get((device.tenant_id, device.device_id))
            if seen is None or newest > seen[0]:
                values = {p.measure: p.value for p in points}
                replay.append(
                    DeviceSample(
                        device.tenant_id,
                        device.site_id,
                        device.device_id,
                        device.sensor_type,
                        newest,
                        values,
                    )
                )
        if replay:
            self._apply(evaluate_batch(self.index, replay, self.state, self._model))

    # --- hot path ---------------------------------------------------------------------------

    def on_batch(self, samples: Sequence[DeviceSample]) -> None:
        if not self._started:
            self.start()
        with self.state.lock:
            self._refresh_index()
            fresh = self.state.unseen(samples)
            if not fresh:
                return
            transitions = evaluate_batch(self.index, fresh, self.state, self._model)
            if transitions:
                self._apply(transitions)
            self._persist()

    def tick(self, now: datetime | None = None) -> None:
        moment = now or self._clock.now()
        if not self._started:
            self.start()
        self._directory.catch_up(self._events)
        with self.state.lock:
            self._refresh_index()
            self._apply(evaluate_tick(self.index, moment.timestamp(), self.state))
            due = moment.timestamp() - self._statistics_saved >= STATISTICS_EVERY_S
            if due:
                self._statistics_saved = moment.timestamp()
            self._persist(statistics=due)
        self.board.catch_up(self._events)
        for entry in self.board.open_alerts():
            self._lifecycle(entry, moment)

    def _refresh_index(self) -> None:
        seen = (self._directory.position, self._directory.generation)
        if seen == self._rules_position:
            return
        self._rules_position = seen
        entries = list(self._directory.rules.values())
        signature: dict[tuple[str, str], tuple[int, bool]] = {
            (e.tenant_id, e.rule_id): (e.version, e.enabled) for e in entries
        }
        if signature == self._rules_signature:
            return
        self._rules_signature = signature
        self.index = RuleIndex.build(entries)
        if self._started:
            self._apply(retire(self.index, self.state, self._clock.now().timestamp()))

    def _persist(self, *, statistics: bool = False) -> None:
        rules, seen = self.state.take_changes(statistics=statistics)
        if rules or seen:
            self._store.save(rules, seen, self._clock.now().timestamp())

    # --- decisions into aggregates ----------------------------------------------------------

    def _apply(self, transitions: Sequence[Transition]) -> None:
        for tr in transitions:
            try:
                if tr.action is Action.RAISE:
                    self._raise(tr)
                else:
                    self._clear(tr)
            except Exception:
                log.exception("alert transition %s failed", tr)

    def _ctx(self) -> EventContext:
        return EventContext(occurred_at=self._clock.now(), actor=ACTOR)

    def _commit(self, uow: UnitOfWork) -> None:
        uow.commit()
        events = uow.collect_new_events()
        for event in events:
            self.board.apply(event)
        for listener in self._listeners:
            try:
                listener(events)
            except Exception:
                log.exception("alert listener %r failed", listener)

    def _raise(self, tr: Transition, attempt: int = 0) -> None:
        key, episode = tr.key, tr.episode
        previous = self.board.get(tr.tenant_id, alert_aggregate_id(*key, episode - 1))
        with UnitOfWork(self._events) as uow:
            if previous is not None and previous.is_open:
                # a latched alert whose condition had cleared: the condition is back
                self.state.set_episode(key, previous.episode, active=True)
                alert = uow.find(Alert, previous.alert_id)
                if alert is not None:
                    alert.retrigger(tr.value, self._ctx())
                    self._commit(uow)
                return
            existing = uow.find(Alert, alert_aggregate_id(*key, episode))
            if existing is not None:
                if not existing.is_open and attempt < 3:  # stale numbering: take the next one
                    latest = self.board.latest_episode(*key)
                    self.state.set_episode(key, max(latest, episode), active=False)
                    self._raise(attrs.evolve(tr, episode=max(latest, episode) + 1), attempt + 1)
                return  # already raised (by us before a restart, or by another evaluator)
            if self.state.get(key).episode != episode:
                self.state.set_episode(key, episode, active=True)
            uow.add(self._new_alert(tr))
            try:
                self._commit(uow)
            except ConcurrencyConflict:
                log.info("alert %s raised concurrently elsewhere", tr.key)

    def _new_alert(self, tr: Transition) -> Alert:
        d = tr.definition
        if d is None:
            raise ValidationError("cannot raise an alert of a retired rule")
        return Alert.raise_(
            tenant_id=tr.tenant_id,
            rule_id=RuleId(tr.rule_id),
            device_id=DeviceId(tr.device_id),
            episode=tr.episode,
            site_id=SiteId(tr.site_id) if tr.site_id else None,
            sensor_type=tr.sensor_type,
            severity=d.severity,
            measure=d.measure,
            value=tr.value,
            threshold=d.z_threshold if d.kind is RuleKind.ANOMALY else d.threshold,
            message=tr.reason,
            latched=d.latched,
            raised_at=datetime.fromtimestamp(tr.at, UTC),
            ctx=self._ctx(),
        )

    def _clear(self, tr: Transition) -> None:
        for _ in range(3):
            with UnitOfWork(self._events) as uow:
                alert = uow.find(Alert, alert_aggregate_id(*tr.key, tr.episode))
                if alert is None or not alert.is_open:
                    return
                alert.clear(tr.value, tr.reason, self._ctx())
                try:
                    self._commit(uow)
                    return
                except ConcurrencyConflict:
                    continue  # someone acknowledged it meanwhile: reload and clear again

    # --- escalation, reminders, snoozes -----------------------------------------------------

    def _lifecycle(self, entry: AlertEntry, now: datetime) -> None:
        if entry.acknowledged_by is not None:
            return
        if entry.snoozed_until is not None and now < entry.snoozed_until:
            return
        rule = self._directory.rule(entry.tenant_id, entry.rule_id)
        d = rule.definition if rule is not None else None
        since = max(
            t for t in (entry.opened_at, entry.escalated_at, entry.snoozed_until) if t is not None
        )
        last = entry.last_notified_at or entry.opened_at
        try:
            if (
                d is not None
                and d.escalate_after_s > 0
                and entry.severity in NEXT_SEVERITY
                and now - since >= timedelta(seconds=d.escalate_after_s)
            ):
                self._change(entry, lambda a: a.escalate(NEXT_SEVERITY[a.severity], self._ctx()))
            elif entry.snoozed_until is not None and last < entry.snoozed_until <= now:
                self._change(entry, lambda a: a.remind(self._ctx()))  # the snooze is over
            elif (
                d is not None
                and d.remind_every_s > 0
                and now - last >= timedelta(seconds=d.remind_every_s)
            ):
                self._change(entry, lambda a: a.remind(self._ctx()))
        except ConcurrencyConflict:
            pass  # acknowledged or changed meanwhile: the next tick looks again

    def _change(self, entry: AlertEntry, change: Callable[[Alert], None]) -> None:
        with UnitOfWork(self._events) as uow:
            alert = uow.find(Alert, entry.alert_id)
            if alert is None or not alert.is_open or alert.acknowledged_by is not None:
                return
            if alert.version != entry.version:
                return  # the board is behind; the next tick sees the current alert
            change(alert)
            self._commit(uow)

    # --- commands and queries ---------------------------------------------------------------

    def acknowledge(self, principal: Principal, tenant_id: str, alert_id: str, note: str) -> int:
        command = AcknowledgeAlert(
            principal=principal, tenant_id=tenant_id, alert_id=alert_id, note=note
        )
        with UnitOfWork(self._events) as uow:
            version = acknowledge_alert(command, uow, self._clock)
            for event in uow.collect_new_events():
                self.board.apply(event)
        return version

    def snooze(self, principal: Principal, tenant_id: str, alert_id: str, until: datetime) -> int:
        command = SnoozeAlert(
            principal=principal, tenant_id=tenant_id, alert_id=alert_id, until=until
        )
        with UnitOfWork(self._events) as uow:
            version = snooze_alert(command, uow, self._clock)
            for event in uow.collect_new_events():
                self.board.apply(event)
        return version

    def list_alerts(
        self,
        tenant_id: str,
        *,
        state: str | None = None,
        severity: str | None = None,
        site_id: str | None = None,
        device_id: str | None = None,
    ) -> list[AlertEntry]:
        self.board.catch_up(self._events)
        return self.board.list(
            tenant_id, state=state, severity=severity, site_id=site_id, device_id=device_id
        )

    def alert_history(self, tenant_id: str, alert_id: str) -> list[DomainEvent]:
        """Every event of one alert, oldest first: its audit log."""
        try:
            owner = parse_alert_id(alert_id)[0]
        except ValidationError:
            owner = ""
        events = self._events.load(alert_id) if owner == tenant_id else []
        if not events:
            raise NotFound(f"alert {alert_id[:80]} not found")
        return events
