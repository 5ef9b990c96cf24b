"""The event-log outbox -> notification channels (SES e-mail, SNS SMS, webhooks, Slack).

The alert events in the DynamoDB event store are the outbox. This function runs the same
``NotificationDispatcher`` as the hub (``application/notifications.py``): it follows the
event store from a cursor persisted in the DynamoDB delivery log, records one delivery row
per (transition, channel, recipient) under an idempotency key, claims due rows atomically
and sends them, retrying failures with back-off. So a redelivered trigger, two concurrent
invocations or a crash between steps never sends a notification twice (except the one
network round trip between a send and ``mark_sent``, which carries the same
``Idempotency-Key``).

Two triggers (``deploy/template.yaml``), one behaviour:

* the **DynamoDB stream** of the events table, filtered to inserted alert transitions: the
  function runs within seconds of an alert. The records are only a wake-up call; the
  highest ``position`` among them is the point the dispatcher must reach. The
  ``by_position`` index the dispatcher reads is eventually consistent, so if the cursor is
  still short of that point the function polls for up to ``SMDH_DISPATCH_WAIT_S`` (5 s);
* an **EventBridge schedule** (every minute): retries whose back-off has run out, and a
  catch-up if a stream batch was lost or the index lagged longer than the wait.

Each invocation calls ``dispatch_once()`` until a round records and sends nothing, or
fewer than ``SMDH_DISPATCH_MARGIN_S`` (10 s) of the Lambda's time remain (a send has a
5-10 s timeout; what is left is the next invocation's). A channel failure is recorded in
the delivery log (visible in ``GET /v1/deliveries``), not raised; only an infrastructure
error raises, and the trigger's retry is safe.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from smdh.application.notifications import DispatchReport, NotificationDispatcher
from smdh.entrypoints.lambdas import runtime

logger = Logger(service="smdh-alert-dispatch")

MAX_ROUNDS = 1000
POLL_S = 0.25


@attrs.frozen
class Budget:
    """How long one invocation may keep going (from the environment)."""

    margin_ms: int = 10_000
    wait_s: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Budget:
        values = os.environ if env is None else env
        return cls(
            margin_ms=int(float(values.get("SMDH_DISPATCH_MARGIN_S", "10")) * 1000),
            wait_s=float(values.get("SMDH_DISPATCH_WAIT_S", "5")),
        )


def target_position(event: Mapping[str, Any]) -> int:
    """The highest event-store position in a DynamoDB stream batch (0: not a stream event)."""
    highest = 0
    for record in event.get("Records") or []:
        if record.get("eventSource") != "aws:dynamodb":
            continue
        image = (record.get("dynamodb") or {}).get("NewImage") or {}
        position = (image.get("position") or {}).get("N")
        if position is not None:
            highest = max(highest, int(position))
    return highest


def drain(
    dispatcher: NotificationDispatcher,
    remaining_ms: Callable[[], int],
    *,
    target: int = 0,
    budget: Budget | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """``dispatch_once`` until nothing is left to do (and the cursor reached ``target``)."""
    budget = budget or Budget()
    totals = {"recorded": 0, "sent": 0, "retried": 0, "failed": 0}
    rounds, stopped = 0, "idle"
    started = monotonic()
    while True:
        if remaining_ms() < budget.margin_ms:
            stopped = "time"
            break
        if rounds >= MAX_ROUNDS:
            stopped = "rounds"
            break
        report: DispatchReport = dispatcher.dispatch_once()
        rounds += 1
        for name in totals:
            totals[name] += getattr(report, name)
        if report.recorded or report.sent or report.retried or report.failed:
            continue
        if _cursor(dispatcher) >= target:
            break
        if monotonic() - started >= budget.wait_s:
            stopped = "index-lag"  # the schedule picks the rest up within a minute
            break
        sleep(POLL_S)
    return {**totals, "rounds": rounds, "cursor": _cursor(dispatcher), "stopped": stopped}


def _cursor(dispatcher: NotificationDispatcher) -> int:
    return dispatcher.deliveries.cursor(dispatcher.name)


def trigger_of(event: Mapping[str, Any]) -> str:
    records = event.get("Records") or []
    if records and records[0].get("eventSource") == "aws:dynamodb":
        return "stream"
    return "schedule"


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    dispatcher = runtime.container().notification_dispatcher()
    outcome = drain(
        dispatcher,
        context.get_remaining_time_in_millis,
        target=target_position(event),
        budget=Budget.from_env(),
    )
    outcome["trigger"] = trigger_of(event)
    logger.info("alert dispatch", extra=outcome)
    return outcome
