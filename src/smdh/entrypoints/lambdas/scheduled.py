"""EventBridge Scheduler -> periodic application work.

Each schedule's ``Input`` is ``{"task": "<name>"}`` (Scheduler passes it as the event).
Tasks run against the warm ``aws`` container:

* ``projections``: catch the registry and directory up with the event store;
* ``alert-ticks``: absence / duration rules: ``alerting_service.tick(now)``;
* ``rollups``, ``oee``: the same, via ``rollups.run(now)`` / ``oee.run(now)`` when present;
* ``retention``: Timestream expires data itself (memory -> magnetic -> deleted, per table
  retention), so this only prunes what SMDH keeps elsewhere (nothing yet) and says so.

Unknown tasks raise (a misconfigured schedule should fail loudly, and Scheduler retries).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from smdh.entrypoints.container import Container
from smdh.entrypoints.lambdas import runtime

logger = Logger(service="smdh-scheduled")
Task = Callable[[Container, datetime], dict[str, Any]]


def optional_service(container: Container, name: str) -> Any:
    """A provider of the container that may not exist yet (other work in progress)."""
    provider = getattr(container, name, None)
    return provider() if callable(provider) else None


def _delegate(service: str, method: str) -> Task:
    def run(container: Container, now: datetime) -> dict[str, Any]:
        target = optional_service(container, service)
        call = getattr(target, method, None) if target is not None else None
        if call is None:
            return {"status": "not-available", "detail": f"no {service}.{method} in this build"}
        outcome = call(now)
        return {"status": "done", "result": outcome if isinstance(outcome, dict | int) else None}

    return run


def _projections(container: Container, now: datetime) -> dict[str, Any]:
    return {"status": "done", "events_applied": container.application().refresh()}


def _retention(container: Container, now: datetime) -> dict[str, Any]:
    return {"status": "done", "detail": "Timestream retention is a table setting"}


TASKS: dict[str, Task] = {
    "projections": _projections,
    "alert-ticks": _delegate("alerting_service", "tick"),
    "rollups": _delegate("rollups", "run"),
    "oee": _delegate("oee", "run"),
    "retention": _retention,
}


def run_task(event: dict[str, Any], container: Container) -> dict[str, Any]:
    name = str(event.get("task", ""))
    task = TASKS.get(name)
    if task is None:
        raise ValueError(f"unknown scheduled task {name!r}; known: {', '.join(TASKS)}")
    now = container.clock().now()
    outcome = task(container, now)
    logger.info("scheduled task", extra={"task": name, **outcome})
    return {"task": name, **outcome}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_task(event, runtime.refreshed())
