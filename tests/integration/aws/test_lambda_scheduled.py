"""EventBridge Scheduler -> ``scheduled`` (documented event shapes); ``alert_dispatch`` is
tested in ``test_lambda_alerts.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from smdh.application import commands as c
from smdh.application.principals import Principal
from smdh.domain.shared.ids import TenantId
from smdh.entrypoints.container import Container
from smdh.entrypoints.lambdas import scheduled
from tests.integration.aws.aws_profile import aws_container
from tests.integration.aws.lambda_support import FakeContext, event, install, installed

pytestmark = pytest.mark.integration
__all__ = ["installed"]


@pytest.fixture
def container(
    monkeypatch: pytest.MonkeyPatch,
    moto_server: str,
    aws_clients: Callable[[str], Any],
    installed: list[Container],
) -> Container:
    built = aws_container(monkeypatch, moto_server, aws_clients)
    install(installed, built)
    return built


def test_projections_task_catches_up_with_events_written_elsewhere(container: Container) -> None:
    scheduled.handler(event("scheduler_input.json")["event"], FakeContext())  # type: ignore[arg-type]
    other = aws_container_writer(container)
    other.execute(
        c.RegisterTenant(principal=Principal.operator("root"), tenant_id=TenantId("acme"), name="A")
    )
    reply = scheduled.handler({"task": "projections"}, FakeContext())  # type: ignore[arg-type]
    assert reply == {
        "task": "projections",
        "status": "done",
        "events_applied": 2,
    }  # both projections
    assert container.application().directory.tenant("acme") is not None


def aws_container_writer(container: Container) -> Any:
    """A second application on the same DynamoDB table (another Lambda instance)."""
    from smdh.application.system import Application  # noqa: PLC0415

    app = container.application()
    return Application(
        events=container.event_store(),
        clock=app.clock,
        ids=app.ids,
        device_secret_hasher=app.device_secret_hasher,
        sensors=app.sensors,
    )


def test_tasks_without_a_service_in_this_build_say_so(container: Container) -> None:
    for task in ("alert-ticks", "rollups", "oee", "retention"):
        reply = scheduled.handler({"task": task}, FakeContext())  # type: ignore[arg-type]
        assert reply["task"] == task and reply["status"] in ("done", "not-available")
    with pytest.raises(ValueError, match="unknown scheduled task"):
        scheduled.handler({"task": "nope"}, FakeContext())  # type: ignore[arg-type]
