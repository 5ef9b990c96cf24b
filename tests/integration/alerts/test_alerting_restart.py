"""Restart safety on the local adapters: what is due while the evaluator is down still
happens, what cleared while it was down clears, and nothing is raised twice.
The helpers here (a local-profile hub with a fixed clock that can be "restarted": a new
container on the same data directory) are shared with the concurrency test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from dependency_injector import providers

from smdh.adapters.embedded.alert_state import FILE_NAME, SqliteEvaluationStateStore
from smdh.adapters.memory.clock import FixedClock
from smdh.application import commands as c
from smdh.application.alert_commands import DefineAlertRuleOfKind
from smdh.application.alerting import AlertingService
from smdh.application.handlers.alerts import define_alert_rule_of_kind
from smdh.application.ingest import IngestPipeline, RawRecord
from smdh.application.principals import Principal
from smdh.application.unit_of_work import UnitOfWork
from smdh.domain.alerts.rules import RuleScope
from smdh.domain.telemetry import DeviceSample
from smdh.entrypoints.container import Container, build_container

OPERATOR = Principal.operator("alert-tests")
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@attrs.define
class LocalHub:
    container: Container
    clock: FixedClock
    state_store: SqliteEvaluationStateStore
    service: AlertingService
    pipeline: IngestPipeline

    def publish(self, device_id: str, **values: Any) -> None:
        now = self.clock.now().timestamp()
        payload = json.dumps({"timestamp": now, **values})
        result = self.pipeline.process(
            [RawRecord("test", "acme", device_id, "telemetry", payload, now)]
        )
        assert result.dead_letters == 0, result

    def define(self, rule_id: str, **fields: Any) -> None:
        base: dict[str, Any] = {
            "principal": OPERATOR,
            "tenant_id": "acme",
            "rule_id": rule_id,
            "name": rule_id,
            "scope": RuleScope(sensor_type="air_quality"),
            "measure": "co2_ppm",
            "comparison": "ge",
            "threshold": 5000.0,
        }
        app = self.container.application()
        with UnitOfWork(self.container.event_store()) as uow:
            define_alert_rule_of_kind(
                DefineAlertRuleOfKind(**(base | fields)),
                uow,
                self.clock,
                self.container.sensors(),
                app.devices,
            )
        app.refresh()

    def alerts(self, **filters: Any) -> list[Any]:
        return self.service.list_alerts("acme", **filters)

    def stop(self) -> None:
        self.state_store.close()


def start_hub(data_dir: Path, at: datetime) -> LocalHub:
    container = build_container("local", data_dir)
    clock = FixedClock(at)
    container.clock.override(providers.Object(clock))
    app = container.application()
    app.refresh()
    store = SqliteEvaluationStateStore(data_dir / FILE_NAME)
    service = AlertingService(
        events=container.event_store(),
        directory=app.directory,
        clock=clock,
        state_store=store,
        telemetry=container.telemetry_store(),
        devices=app.devices,
    )
    pipeline: IngestPipeline = container.ingest_pipeline()
    pipeline.add_after_store_hook(service.on_batch)
    service.start()
    return LocalHub(container, clock, store, service, pipeline)


def register_world(hub: LocalHub) -> None:
    app = hub.container.application()
    app.execute(c.RegisterTenant(principal=OPERATOR, tenant_id="acme", name="Acme"))
    app.execute(
        c.RegisterSite(
            principal=OPERATOR, tenant_id="acme", site_id="plant-1", name="P1", timezone="UTC"
        )
    )
    for device_id in ("a-1", "a-2"):
        app.execute(
            c.RegisterDevice(
                principal=OPERATOR,
                tenant_id="acme",
                device_id=device_id,
                site_id="plant-1",
                sensor_type="air_quality",
                name=device_id,
            )
        )


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


pytestmark = pytest.mark.integration


def test_an_absence_alert_due_during_a_restart_still_fires(tmp_path: Path) -> None:
    hub = start_hub(tmp_path, later(0))
    register_world(hub)
    hub.define("silent", kind="absence", measure="*", comparison="gt", threshold=0, duration_s=300)
    hub.publish("a-1", co2_ppm=600)
    hub.clock.advance(10)
    hub.service.tick()
    assert hub.alerts() == []
    hub.stop()

    restarted = start_hub(tmp_path, later(1000))  # down for 990 s, past the 300 s of silence
    restarted.service.tick()
    (alert,) = restarted.alerts()
    assert (alert.rule_id, alert.device_id, alert.state) == ("silent", "a-1", "active")
    restarted.clock.advance(1)
    restarted.service.tick()
    assert len(restarted.alerts()) == 1
    restarted.stop()


def test_conditions_cleared_while_down_clear_on_restart(tmp_path: Path) -> None:
    hub = start_hub(tmp_path, later(0))
    register_world(hub)
    hub.define("silent", kind="absence", measure="*", comparison="gt", threshold=0, duration_s=300)
    hub.define("co2")
    hub.publish("a-1", co2_ppm=6000)
    hub.publish("a-2", co2_ppm=600)
    hub.clock.advance(400)
    hub.service.tick()
    assert sorted((x.rule_id, x.device_id) for x in hub.alerts(state="active")) == [
        ("co2", "a-1"),
        ("silent", "a-1"),
        ("silent", "a-2"),
    ]
    hub.stop()

    # while the evaluator is down, another process stores a normal reading of a-1
    telemetry = hub.container.telemetry_store()
    telemetry.write(
        [
            DeviceSample(
                "acme", "plant-1", "a-1", "air_quality", later(500).timestamp(), {"co2_ppm": 700}
            )
        ]
    )

    restarted = start_hub(tmp_path, later(600))
    restarted.service.tick()
    states = {(x.rule_id, x.device_id): x.state for x in restarted.alerts()}
    assert states == {
        ("co2", "a-1"): "cleared",
        ("silent", "a-1"): "cleared",
        ("silent", "a-2"): "active",
    }
    # and the evaluator continues with the right episode numbers
    restarted.publish("a-1", co2_ppm=6500)
    assert [x.episode for x in restarted.alerts(state="active") if x.rule_id == "co2"] == [2]
    restarted.stop()


def test_a_lost_snapshot_is_rebuilt_from_the_event_store(tmp_path: Path) -> None:
    hub = start_hub(tmp_path, later(0))
    register_world(hub)
    hub.define("co2")
    hub.publish("a-1", co2_ppm=6000)
    hub.stop()
    (tmp_path / "alerting.sqlite3").unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"alerting.sqlite3{suffix}").unlink(missing_ok=True)

    restarted = start_hub(tmp_path, later(5))
    restarted.publish("a-1", co2_ppm=6100)  # the alert is known to be open: no second one
    assert [x.episode for x in restarted.alerts()] == [1]
    restarted.clock.advance(1)
    restarted.publish("a-1", co2_ppm=800)
    restarted.clock.advance(1)
    restarted.publish("a-1", co2_ppm=6100)
    assert [(x.episode, x.state) for x in restarted.alerts()] == [(2, "active"), (1, "cleared")]
    restarted.stop()
