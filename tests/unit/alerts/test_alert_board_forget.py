"""Erasure of the in-memory alert board: an erased device's (or tenant's) alerts and episode
numbers leave the board at once, its siblings and the other tenants keep theirs."""

from __future__ import annotations

from datetime import UTC, datetime

from smdh.application.alert_board import AlertBoard
from smdh.application.erasure import AlertBoardPurger
from smdh.domain.alerts.alert import Alert, alert_aggregate_id
from smdh.domain.alerts.rules import Severity
from smdh.domain.shared.events import EventContext
from smdh.domain.shared.ids import DeviceId, RuleId

NOW = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
CTX = EventContext(occurred_at=NOW, actor="system:alerting")


def _alert(tenant: str, device: str, episode: int, *, cleared: bool = False) -> Alert:
    alert = Alert.raise_(
        tenant_id=tenant, rule_id=RuleId("hot"), device_id=DeviceId(device), episode=episode,
        site_id=None, sensor_type="machine", severity=Severity.WARNING, measure="temperature_c",
        value=120.0, threshold=90.0, message="hot", latched=False, raised_at=NOW, ctx=CTX,
    )  # fmt: skip
    if cleared:
        alert.clear(80.0, "back to normal", CTX)
    return alert


def filled() -> AlertBoard:
    board = AlertBoard()
    for tenant in ("acme", "keeper"):
        for device in ("m1", "m2"):
            events = [
                *_alert(tenant, device, 1, cleared=True).pending_events(),
                *_alert(tenant, device, 2).pending_events(),
            ]
            for event in events:
                board.apply(event)
    return board


def _devices(board: AlertBoard, tenant: str) -> set[str]:
    return {e.device_id for e in board.list(tenant)}


def test_purging_a_device_drops_its_alerts_and_keeps_everything_else() -> None:
    board = filled()
    assert len(board.list("acme", device_id="m1")) == 2

    assert AlertBoardPurger(board).purge("acme", "m1") == 2

    assert board.list("acme", device_id="m1") == []
    assert board.get("acme", alert_aggregate_id("acme", "hot", "m1", 2)) is None
    assert all(e.device_id != "m1" for e in board.open_alerts("acme"))
    assert board.latest_episode("acme", "hot", "m1") == 0  # registered again: episode 1
    assert ("acme", "hot", "m1") not in board.latest_keys()
    assert _devices(board, "acme") == {"m2"} and len(board.list("acme")) == 2
    assert _devices(board, "keeper") == {"m1", "m2"} and len(board.list("keeper")) == 4
    assert board.latest_episode("acme", "hot", "m2") == 2


def test_purging_a_tenant_leaves_nothing_of_it() -> None:
    board = filled()
    assert AlertBoardPurger(board).purge("acme") == 4
    assert board.list("acme") == [] and board.open_alerts("acme") == []
    assert all(key[0] == "keeper" for key in board.latest_keys())
    assert len(board.list("keeper")) == 4


def test_a_device_raised_again_after_its_erasure_starts_a_new_history() -> None:
    board = filled()
    AlertBoardPurger(board).purge("acme", "m1")
    for event in _alert("acme", "m1", 1).pending_events():  # its old events are gone
        board.apply(event)
    [entry] = board.list("acme", device_id="m1")
    assert (entry.episode, entry.is_open) == (1, True)
    assert board.latest_episode("acme", "hot", "m1") == 1
