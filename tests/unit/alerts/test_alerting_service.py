"""The alerting service on memory adapters, through the real ingest pipeline.

Tenant ``acme`` with air-quality sensor ``a-1`` and machine ``m-1`` at ``plant-1``; the
default rules of every type switched on. The memory profile's clock only moves when told.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from smdh.adapters.memory.alert_state import InMemoryEvaluationStateStore
from smdh.application import commands as c
from smdh.application.alert_commands import DefineAlertRuleOfKind, EnableDefaultRules
from smdh.application.alerting import AlertingService
from smdh.application.handlers.alerts import define_alert_rule_of_kind, enable_default_rules
from smdh.application.ingest import IngestPipeline, RawRecord
from smdh.application.principals import Principal
from smdh.application.unit_of_work import UnitOfWork
from smdh.domain.alerts import alert as a
from smdh.domain.alerts.rules import RuleScope
from smdh.domain.shared.errors import InvariantViolation, NotFound
from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.container import Container, build_container

OPERATOR = Principal.operator("alert-tests")
BOB = Principal.user("acme", "bob", Role.EDITOR)
CO2_CRITICAL = "default-air_quality-co2-dangerous"


@attrs.define
class World:
    container: Container
    service: AlertingService
    pipeline: IngestPipeline

    @property
    def clock(self) -> Any:
        return self.container.clock()

    def publish(self, device_id: str, **values: Any) -> None:
        now = self.clock.now().timestamp()
        payload = json.dumps({"timestamp": now, **values})
        result = self.pipeline.process(
            [RawRecord("test", "acme", device_id, "telemetry", payload, now)]
        )
        assert result.dead_letters == 0, result

    def alerts(self, **filters: Any) -> list[Any]:
        return self.service.list_alerts("acme", **filters)

    def run(self, handler: Any, command: Any) -> Any:
        with UnitOfWork(self.container.event_store()) as uow:
            if handler is enable_default_rules:
                result = handler(command, uow, self.clock, self.container.sensors())
            else:
                app = self.container.application()
                result = handler(command, uow, self.clock, self.container.sensors(), app.devices)
        self.container.application().refresh()
        return result


def build_world(tmp_path: Path, *, defaults: bool = True) -> World:
    container = build_container("memory", tmp_path)
    app = container.application()
    app.execute(c.RegisterTenant(principal=OPERATOR, tenant_id="acme", name="Acme"))
    app.execute(
        c.RegisterSite(
            principal=OPERATOR, tenant_id="acme", site_id="plant-1", name="P1", timezone="UTC"
        )
    )
    for device_id, sensor_type in (("a-1", "air_quality"), ("m-1", "machine")):
        app.execute(
            c.RegisterDevice(
                principal=OPERATOR,
                tenant_id="acme",
                device_id=device_id,
                site_id="plant-1",
                sensor_type=sensor_type,
                name=device_id,
            )
        )
    service = AlertingService(
        events=container.event_store(),
        directory=app.directory,
        clock=container.clock(),
        state_store=InMemoryEvaluationStateStore(),
        telemetry=container.telemetry_store(),
        devices=app.devices,
    )
    pipeline: IngestPipeline = container.ingest_pipeline()
    pipeline.add_after_store_hook(service.on_batch)
    world = World(container, service, pipeline)
    if defaults:
        ids = world.run(
            enable_default_rules, EnableDefaultRules(principal=OPERATOR, tenant_id="acme")
        )
        assert CO2_CRITICAL in ids
    return world


def define(world: World, rule_id: str, **fields: Any) -> None:
    base: dict[str, Any] = {
        "principal": OPERATOR,
        "tenant_id": "acme",
        "rule_id": rule_id,
        "name": rule_id,
        "scope": RuleScope(device_id="a-1"),
        "measure": "co2_ppm",
        "comparison": "ge",
        "threshold": 5000.0,
    }
    world.run(define_alert_rule_of_kind, DefineAlertRuleOfKind(**(base | fields)))


def test_the_done_criteria(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    world.publish("a-1", co2_ppm=6000)
    alerts = world.alerts()
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.rule_id, alert.severity, alert.state) == (CO2_CRITICAL, "critical", "active")
    assert alert.value == 6000.0 and alert.device_id == "a-1" and alert.site_id == "plant-1"

    world.clock.advance(1)
    world.publish("a-1", co2_ppm=6000)
    assert len(world.alerts()) == 1

    world.service.acknowledge(BOB, "acme", alert.alert_id, "opening the windows")
    (acked,) = world.alerts()
    assert acked.state == "acknowledged" and acked.acknowledged_by == "user:acme/bob"

    world.clock.advance(1)
    world.publish("a-1", co2_ppm=800)
    (cleared,) = world.alerts()
    assert cleared.state == "cleared" and cleared.value == 800.0

    history = world.service.alert_history("acme", alert.alert_id)
    assert [type(e).__name__ for e in history] == [
        "AlertRaised",
        "AlertAcknowledged",
        "AlertCleared",
    ]
    assert history[1].actor == "user:acme/bob" and history[2].actor == "system:alerting"


def test_a_new_episode_after_clearing_gets_a_new_alert(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    for value in (6000, 800, 7000):
        world.publish("a-1", co2_ppm=value)
        world.clock.advance(1)
    alerts = world.alerts()
    assert [(x.episode, x.state) for x in alerts] == [(2, "active"), (1, "cleared")]
    assert alerts[0].alert_id == a.alert_aggregate_id("acme", CO2_CRITICAL, "a-1", 2)


def test_a_redelivered_batch_raises_no_second_alert(tmp_path: Path) -> None:
    # At-least-once delivery: the same message [900 ppm, 6000 ppm] arriving three times
    # must not clear the open alert with the old 900 and raise a new one with the old 6000.
    world = build_world(tmp_path)
    now = world.clock.now().timestamp()
    payload = json.dumps({"samples": [
        {"timestamp": now - 2, "co2_ppm": 900},
        {"timestamp": now - 1, "co2_ppm": 6000},
    ]})  # fmt: skip
    for _ in range(3):
        world.pipeline.process([RawRecord("test", "acme", "a-1", "telemetry", payload, now)])
    alerts = world.alerts()
    assert [(x.episode, x.state) for x in alerts] == [(1, "active")]


def test_hysteresis_of_the_default_rule(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    world.publish("a-1", co2_ppm=5200)
    world.clock.advance(1)
    world.publish("a-1", co2_ppm=4800)  # below 5000 but above the 4750 clear threshold
    assert world.alerts()[0].state == "active"
    world.clock.advance(1)
    world.publish("a-1", co2_ppm=4700)
    assert world.alerts()[0].state == "cleared"


def test_acknowledging_twice_and_across_tenants_is_refused(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    world.publish("a-1", co2_ppm=6000)
    alert_id = world.alerts()[0].alert_id
    world.service.acknowledge(BOB, "acme", alert_id, "")
    with pytest.raises(InvariantViolation):
        world.service.acknowledge(BOB, "acme", alert_id, "again")
    stranger = Principal.user("globex", "eve", Role.ADMIN)
    with pytest.raises(NotFound):
        world.service.acknowledge(stranger, "globex", alert_id, "")
    with pytest.raises(NotFound):
        world.service.alert_history("globex", alert_id)


def test_latched_alert_stays_until_acknowledged(tmp_path: Path) -> None:
    world = build_world(tmp_path, defaults=False)
    define(world, "latched-co2", latched=True)
    world.publish("a-1", co2_ppm=6000)
    world.clock.advance(1)
    world.publish("a-1", co2_ppm=800)
    (alert,) = world.alerts()
    assert alert.state == "active" and alert.condition_cleared
    world.service.acknowledge(BOB, "acme", alert.alert_id, "seen")
    (done,) = world.alerts()
    assert done.state == "cleared" and done.clear_reason == "acknowledged"
    world.clock.advance(1)
    world.publish("a-1", co2_ppm=6000)
    assert [x.episode for x in world.alerts(state="active")] == [2]


def test_latched_alert_whose_condition_returns_is_retriggered_not_duplicated(
    tmp_path: Path,
) -> None:
    world = build_world(tmp_path, defaults=False)
    define(world, "latched-co2", latched=True)
    for value in (6000, 800, 6500):
        world.publish("a-1", co2_ppm=value)
        world.clock.advance(1)
    (alert,) = world.alerts()
    assert alert.state == "active" and not alert.condition_cleared and alert.value == 6500.0
    world.service.acknowledge(BOB, "acme", alert.alert_id, "")
    assert world.alerts()[0].state == "acknowledged"  # the condition still holds
    world.publish("a-1", co2_ppm=700)
    assert world.alerts()[0].state == "cleared"


def test_escalation_and_reminders_until_acknowledged(tmp_path: Path) -> None:
    world = build_world(tmp_path, defaults=False)
    define(world, "co2-watch", severity="info", escalate_after_s=600, remind_every_s=300)
    world.publish("a-1", co2_ppm=6000)
    world.service.tick()
    assert world.alerts()[0].severity == "info"
    world.clock.advance(300)
    world.service.tick()
    assert world.alerts()[0].reminders == 1
    world.clock.advance(300)
    world.service.tick()  # 600 s unacknowledged: one step up
    assert world.alerts()[0].severity == "warning"
    world.clock.advance(600)
    world.service.tick()
    assert world.alerts()[0].severity == "critical"
    world.clock.advance(600)
    world.service.tick()  # nothing above critical: a reminder instead
    entry = world.alerts()[0]
    assert entry.severity == "critical" and entry.reminders == 2
    world.service.acknowledge(BOB, "acme", entry.alert_id, "")
    world.clock.advance(3600)
    world.service.tick()
    assert world.alerts()[0].reminders == 2
    kinds = [type(e).__name__ for e in world.service.alert_history("acme", entry.alert_id)]
    assert kinds.count("AlertEscalated") == 2 and kinds.count("AlertReminded") == 2


def test_snooze_silences_until_it_ends(tmp_path: Path) -> None:
    world = build_world(tmp_path, defaults=False)
    define(world, "co2-watch", remind_every_s=60)
    world.publish("a-1", co2_ppm=6000)
    alert_id = world.alerts()[0].alert_id
    until = world.clock.now() + timedelta(minutes=30)
    world.service.snooze(BOB, "acme", alert_id, until)
    for _ in range(29):
        world.clock.advance(60)
        world.service.tick()
    assert world.alerts()[0].reminders == 0
    world.clock.advance(61)
    world.service.tick()
    assert world.alerts()[0].reminders == 1  # the snooze is over: told again at once


def test_machine_offline_for_fifteen_minutes_fires_on_the_tick(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    world.publish("m-1", state="offline")
    world.clock.advance(899)
    world.service.tick()
    assert world.alerts() == []
    world.clock.advance(2)
    world.service.tick()
    (alert,) = world.alerts()
    assert alert.rule_id == "default-machine-machine-offline" and alert.value == "offline"
    world.publish("m-1", state="running")
    assert world.alerts()[0].state == "cleared"


def test_absence_rule_raises_and_clears(tmp_path: Path) -> None:
    world = build_world(tmp_path, defaults=False)
    define(
        world,
        "silent",
        kind="absence",
        measure="*",
        comparison="gt",
        threshold=0,
        duration_s=120,
        scope=RuleScope(sensor_type="air_quality"),
    )
    world.publish("a-1", co2_ppm=500)
    world.clock.advance(119)
    world.service.tick()
    assert world.alerts() == []
    world.clock.advance(1)
    world.service.tick()
    assert [x.rule_id for x in world.alerts(state="active")] == ["silent"]
    world.publish("a-1", co2_ppm=500)
    world.service.tick()
    assert world.alerts()[0].state == "cleared"


def test_disabling_a_rule_clears_its_open_alert(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    world.publish("a-1", co2_ppm=6000)
    app = world.container.application()
    app.execute(c.DisableAlertRule(principal=OPERATOR, tenant_id="acme", rule_id=CO2_CRITICAL))
    world.publish("a-1", co2_ppm=6000)
    (alert,) = world.alerts()
    assert alert.state == "cleared" and alert.clear_reason == "rule disabled or removed"


def test_listeners_get_the_committed_events(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    seen: list[str] = []
    world.service.add_listener(lambda events: seen.extend(type(e).__name__ for e in events))
    world.publish("a-1", co2_ppm=6000)
    assert seen == ["AlertRaised"]


def test_enable_default_rules_is_idempotent(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    before = len(world.container.application().directory.list_rules("acme"))
    again = world.run(
        enable_default_rules, EnableDefaultRules(principal=OPERATOR, tenant_id="acme")
    )
    assert len(world.container.application().directory.list_rules("acme")) == before
    assert len(again) == before
