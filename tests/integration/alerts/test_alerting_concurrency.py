"""Exactly one alert per (rule, device) when batches of one device are evaluated at once.

Two evaluators (two ``AlertingService``s with their own evaluation state, as two hub
processes would have) decide at the same moment to raise the same alert and both append
version 1 of the same stream to the SQLite event store (each through its own connection);
optimistic concurrency lets one win. Also: two threads sharing one service.
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from pathlib import Path

import pytest

from smdh.adapters.embedded.sqlite_event_store import SqliteEventStore
from smdh.adapters.memory.alert_state import InMemoryEvaluationStateStore
from smdh.adapters.serialization import EventSerializer
from smdh.application.alerting import AlertingService
from smdh.application.projections import TenantDirectory
from smdh.domain.alerts.alert import AlertCleared, AlertRaised
from smdh.domain.telemetry import DeviceSample
from tests.integration.alerts.test_alerting_restart import later, register_world, start_hub

pytestmark = pytest.mark.integration

ROUNDS = 15


def co2(device: str, t: float, value: float) -> list[DeviceSample]:
    return [DeviceSample("acme", "plant-1", device, "air_quality", t, {"co2_ppm": value})]


def run_together(*actions: object) -> None:
    barrier = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def run(action: object) -> None:
        barrier.wait()
        try:
            action()  # type: ignore[operator]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors


def test_two_evaluators_racing_raise_exactly_one_alert(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="smdh.application.alerting")
    hub = start_hub(tmp_path, later(0))
    register_world(hub)
    hub.define("co2")
    services = []
    stores = []
    for _ in range(2):
        events = SqliteEventStore(tmp_path / "events.sqlite3", EventSerializer())
        stores.append(events)
        directory = TenantDirectory()
        directory.catch_up(events)
        service = AlertingService(
            events=events,
            directory=directory,
            clock=hub.clock,
            state_store=InMemoryEvaluationStateStore(),
        )
        service.start()
        services.append(service)
    first, second = services
    base = later(1).timestamp()
    for n in range(ROUNDS):  # raise and clear, ROUNDS episodes, every step raced
        high, low = co2("a-1", base + 2 * n, 6000), co2("a-1", base + 2 * n + 1, 800)
        run_together(partial(first.on_batch, high), partial(second.on_batch, high))
        run_together(partial(first.on_batch, low), partial(second.on_batch, low))

    stored = [s.event for s in stores[0].read_all(limit=100_000)]
    raised = [e for e in stored if isinstance(e, AlertRaised)]
    cleared = [e for e in stored if isinstance(e, AlertCleared)]
    assert sorted(e.episode for e in raised) == list(range(1, ROUNDS + 1))
    assert len({e.aggregate_id for e in cleared}) == len(cleared) == ROUNDS
    races = [r for r in caplog.records if "raised concurrently" in r.getMessage()]
    print(f"{len(races)} of {ROUNDS} raises lost the optimistic-concurrency race")
    alerts = first.list_alerts("acme")
    assert len(alerts) == ROUNDS and all(a.state == "cleared" for a in alerts)
    hub.stop()


def test_threads_sharing_one_service_raise_exactly_one_alert(tmp_path: Path) -> None:
    hub = start_hub(tmp_path, later(0))
    register_world(hub)
    hub.define("co2")
    base = later(1).timestamp()
    batches = [co2("a-1", base + i * 0.001, 6000 + i) for i in range(8)]
    run_together(*[partial(hub.service.on_batch, b) for b in batches])
    (alert,) = hub.alerts()
    assert alert.state == "active" and alert.episode == 1
    events = hub.container.event_store().load(alert.alert_id)
    assert [type(e).__name__ for e in events] == ["AlertRaised"]
    hub.stop()
