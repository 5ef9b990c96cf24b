"""Alerts end to end on the ``aws`` profile (moto): Kinesis -> ``kinesis_ingest`` -> alert in
the DynamoDB event store -> ``alert_dispatch`` -> a signed webhook and an SES e-mail.

At-least-once everywhere, exactly-once effects: the same Kinesis batch delivered three
times, and once more to a fresh runtime (a cold start: a new container, evaluation state
read back from DynamoDB), writes identical Timestream records and raises one alert; the
dispatcher, run by its schedule and by a DynamoDB stream record, sends each notification
once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from dependency_injector import providers

from smdh.adapters.embedded.notifiers import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from smdh.adapters.memory.clock import FixedClock
from smdh.application import commands as c
from smdh.application.channel_commands import ConfigureNotificationChannels, WebhookSpec
from smdh.application.ingest import RawRecord
from smdh.application.notifications import TRANSITIONS, DispatchReport
from smdh.domain.alerts.rules import RuleScope
from smdh.entrypoints.container import Container, build_container
from smdh.entrypoints.lambdas import alert_dispatch, kinesis_ingest
from tests.integration.alerts.receivers import Receiver
from tests.integration.aws.aws_profile import aws_container, timestream_recorder
from tests.integration.aws.lambda_support import FakeContext, event, install, installed
from tests.integration.aws.test_lambda_kinesis_ingest import kinesis_event
from tests.integration.aws.test_sam_template import TEMPLATE, _Loader
from tests.integration.aws.timestream_support import Recorder
from tests.unit.ingest.test_ingest_pipeline import ACME, OPERATOR, register_world

pytestmark = pytest.mark.integration
__all__ = ["installed"]
SENDER = "alerts@smdh-test.io"
OPS = "ops@acme-test.io"
SCHEDULE = {"trigger": "schedule"}  # the EventBridge Scheduler input of the template


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    moto_server: str,
    aws_clients: Callable[[str], Any],
    installed: list[Container],
    receiver: Receiver,
) -> tuple[Container, Recorder, str]:
    monkeypatch.setenv("SMDH_ALERT_SENDER", SENDER)
    # the receiver listens on loopback, which the aws profile refuses by default
    monkeypatch.setenv("SMDH_NOTIFY_PRIVATE_TARGETS", "allow")
    aws_clients("ses").verify_email_identity(EmailAddress=SENDER)
    container = aws_container(monkeypatch, moto_server, aws_clients)
    register_world(container)
    app = container.application()
    app.execute(
        c.DefineAlertRule(
            principal=OPERATOR, tenant_id=ACME, rule_id="co2-danger", name="CO2 dangerous",
            scope=RuleScope(sensor_type="air_quality"), measure="co2_ppm", comparison="ge",
            threshold=5000.0, severity="critical", channels=("in_app", "email", "webhook"),
        )
    )  # fmt: skip
    result = app.execute(
        ConfigureNotificationChannels(
            principal=OPERATOR,
            tenant_id=ACME,
            email_recipients=(OPS,),
            webhooks=(WebhookSpec(receiver.url()),),
        )
    )
    install(installed, container)
    return container, timestream_recorder(container), result.new_secrets[receiver.url()]


def co2_batch(container: Container, make_client: Callable[[str], Any]) -> dict[str, Any]:
    now = container.clock().now().timestamp()
    body = json.dumps({"timestamp": now - 1, "co2_ppm": 6000.0, "pm25_ugm3": 12.0})
    normal = json.dumps({"timestamp": now - 2, "co2_ppm": 900.0, "pm25_ugm3": 10.0})
    return kinesis_event(
        make_client,
        [
            RawRecord("iot", ACME, "a-1", "telemetry", normal, now),
            RawRecord("iot", ACME, "a-1", "telemetry", body, now),
        ],
    )


def raised(container: Container) -> list[Any]:
    stored = container.event_store().read_all(0, limit=1000)
    return [s.event for s in stored if type(s.event).__name__ == "AlertRaised"]


def cold_start(installed: list[Container]) -> Container:
    """A new execution environment: a new container on the same tables, nothing in memory."""
    fresh = build_container("aws")
    fresh.clock.override(providers.Singleton(FixedClock))
    install(installed, fresh)
    return fresh


def sent_emails(make_client: Callable[[str], Any]) -> int:
    return int(make_client("ses").get_send_quota()["SentLast24Hours"])


def stream_event(make_client: Callable[[str], Any], aggregate_id: str) -> dict[str, Any]:
    """The DynamoDB stream record Lambda gets for the insert of an alert's first event."""
    item = make_client("dynamodb").get_item(
        TableName="smdh-events",
        Key={"aggregate_id": {"S": aggregate_id}, "version": {"N": "1"}},
    )["Item"]
    return {
        "Records": [
            {
                "eventID": "7de3041dd709b024af6f29e4fa13d34c",
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "eu-central-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1767600000,
                    "Keys": {"aggregate_id": item["aggregate_id"], "version": item["version"]},
                    "NewImage": item,
                    "SequenceNumber": "111100000000012345678901",
                    "SizeBytes": len(json.dumps(item)),
                    "StreamViewType": "NEW_IMAGE",
                },
                "eventSourceARN": "arn:aws:dynamodb:eu-central-1:123456789012:table/"
                "smdh-events/stream/2026-01-05T08:00:00.000",
            }
        ]
    }


def test_redelivered_batches_write_the_same_records_and_raise_one_alert(
    world: tuple[Container, Recorder, str],
    aws_clients: Callable[[str], Any],
    installed: list[Container],
    receiver: Receiver,
) -> None:
    container, recorder, secret = world
    batch = co2_batch(container, aws_clients)
    for _ in range(3):  # Kinesis delivers the same batch three times
        reply = kinesis_ingest.handler(batch, FakeContext())
        assert reply == {"batchItemFailures": []}
    per_delivery = len(recorder.calls) // 3
    assert per_delivery >= 1 and len(recorder.calls) == 3 * per_delivery
    first = recorder.calls[:per_delivery]
    assert recorder.calls == first * 3  # identical WriteRecords, identical versions
    assert len(recorder.records) == 3 * 2
    (alert,) = raised(container)
    assert (alert.device_id, alert.value) == ("a-1", 6000.0)
    assert type(container.alert_state_store()).__name__ == "DynamoDbEvaluationStateStore"
    state = aws_clients("dynamodb").scan(TableName="smdh-alert-state", Select="COUNT")
    assert state["Count"] > 1  # the evaluator's memory is in DynamoDB, not in the process

    fresh = cold_start(installed)
    again = timestream_recorder(fresh)
    assert kinesis_ingest.handler(batch, FakeContext()) == {"batchItemFailures": []}
    assert again.calls == first
    assert len(raised(fresh)) == 1

    # the outbox: one webhook, one e-mail (and the in-app row), whatever runs the dispatcher
    first_run = alert_dispatch.handler(stream_event(aws_clients, alert.aggregate_id), FakeContext())  # type: ignore[arg-type]
    assert first_run["trigger"] == "stream" and first_run["stopped"] == "idle"
    assert (first_run["recorded"], first_run["sent"], first_run["failed"]) == (3, 3, 0)
    assert receiver.wait_for(1)
    assert sent_emails(aws_clients) == 1
    headers, body = receiver.requests[0]
    payload = json.loads(body)
    assert (payload["type"], payload["alert_id"]) == ("alert.raised", "co2-danger:a-1:1")
    assert headers["Idempotency-Key"].endswith(f":1:webhook:{receiver.url()}")
    assert verify_signature(secret, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])

    for trigger in (SCHEDULE, stream_event(aws_clients, alert.aggregate_id)):
        rerun = alert_dispatch.handler(trigger, FakeContext())  # type: ignore[arg-type]
        assert (rerun["recorded"], rerun["sent"], rerun["failed"]) == (0, 0, 0)
    cold_start(installed)  # a new dispatcher instance: the cursor and rows are in DynamoDB
    rerun = alert_dispatch.handler(SCHEDULE, FakeContext())  # type: ignore[arg-type]
    assert (rerun["recorded"], rerun["sent"]) == (0, 0) and rerun["cursor"] > 0
    assert len(receiver.requests) == 1 and sent_emails(aws_clients) == 1
    deliveries = fresh.delivery_log().list(ACME)
    assert sorted(d.channel for d in deliveries) == ["email", "in_app", "webhook"]
    assert {d.status.value for d in deliveries} == {"sent"}


class FakeDispatcher:
    """``dispatch_once`` reports from a script; the cursor moves one step per idle round."""

    name = "notifications"

    def __init__(self, *reports: tuple[int, int], cursor: int = 0, lag: int = 0) -> None:
        self.reports = [DispatchReport(r, s, 0, 0) for r, s in reports]
        self.calls = 0
        self.deliveries = self
        self._cursor, self._lag = cursor, lag

    def dispatch_once(self) -> DispatchReport:
        self.calls += 1
        if self.reports:
            return self.reports.pop(0)
        if self._lag:
            self._lag -= 1
            self._cursor += 1
        return DispatchReport(0, 0, 0, 0)

    def cursor(self, name: str) -> int:
        return self._cursor


def test_the_stream_fixture_names_the_position_to_reach() -> None:
    stream = event("alert_dispatch_stream.json")
    assert alert_dispatch.target_position(stream) == 42
    assert alert_dispatch.trigger_of(stream) == "stream"
    assert alert_dispatch.target_position(SCHEDULE) == 0
    assert alert_dispatch.trigger_of(SCHEDULE) == "schedule"


def test_drain_runs_until_idle_and_waits_for_a_lagging_index() -> None:
    busy = FakeDispatcher((2, 2), (0, 1), cursor=40, lag=2)
    naps: list[float] = []
    out = alert_dispatch.drain(busy, lambda: 60_000, target=42, sleep=naps.append)  # type: ignore[arg-type]
    assert (out["recorded"], out["sent"], out["cursor"], out["stopped"]) == (2, 3, 42, "idle")
    assert busy.calls == 4 and len(naps) == 1  # two busy rounds, one wait for the index


def test_drain_stops_for_time_and_for_an_index_that_does_not_catch_up() -> None:
    budget = alert_dispatch.Budget(margin_ms=10_000, wait_s=1.0)
    left = iter([30_000, 9_000])
    out = alert_dispatch.drain(FakeDispatcher((1, 1), (1, 1)), lambda: next(left), budget=budget)  # type: ignore[arg-type]
    assert (out["rounds"], out["stopped"]) == (1, "time")
    clock = iter(float(n) for n in range(100))
    stuck = FakeDispatcher(cursor=10)
    out = alert_dispatch.drain(
        stuck, lambda: 60_000, target=11, budget=budget,  # type: ignore[arg-type]
        sleep=lambda _s: None, monotonic=lambda: next(clock),
    )  # fmt: skip
    assert (out["stopped"], out["cursor"]) == ("index-lag", 10)


def test_the_template_wakes_the_dispatcher_by_stream_and_schedule() -> None:
    template = yaml.load(TEMPLATE.read_text(), Loader=_Loader)  # noqa: S506
    resources = template["Resources"]
    function = resources["AlertDispatchFunction"]["Properties"]
    assert function["Handler"] == "smdh.entrypoints.lambdas.alert_dispatch.handler"
    events = {e["Type"]: e["Properties"] for e in function["Events"].values()}
    assert set(events) == {"DynamoDB", "ScheduleV2"}
    assert events["ScheduleV2"]["ScheduleExpression"] == "rate(1 minute)"
    assert json.loads(events["ScheduleV2"]["Input"]) == SCHEDULE
    (pattern,) = events["DynamoDB"]["FilterCriteria"]["Filters"]
    wanted = json.loads(pattern["Pattern"])["dynamodb"]["NewImage"]["event_type"]["S"]
    assert set(wanted) == {cls.__name__ for cls in TRANSITIONS}
    stream = resources["EventsTable"]["Properties"]["StreamSpecification"]
    assert stream["StreamViewType"] == "NEW_IMAGE"  # the filter reads event_type
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["SMDH_ALERT_STATE_TABLE"] == {"Ref": "AlertStateTable"}
    assert variables["SMDH_DELIVERIES_TABLE"] == {"Ref": "DeliveriesTable"}
    deliveries = resources["DeliveriesTable"]["Properties"]
    assert {i["IndexName"] for i in deliveries["GlobalSecondaryIndexes"]} == {"due", "by_tenant"}
