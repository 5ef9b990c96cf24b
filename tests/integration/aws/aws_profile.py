"""The container's ``aws`` profile against the moto server, and a Timestream read-back.

``aws_container`` sets the ``SMDH_*`` variables (endpoint = moto), creates the tables the
SAM template creates (events, dead letters, alert state, deliveries, Timestream), and
builds ``build_container("aws")`` with the memory profile's fixed clock, so tests written
for the embedded/memory profiles keep their meaning. moto stores Timestream writes but
cannot query them, so ``TimestreamReadBack`` answers ``query_range`` from the
WriteRecords calls actually sent, applying Timestream's upsert rule (per dimensions +
measure name + time, the highest ``Version`` wins).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from dependency_injector import providers

from smdh.adapters.aws.dynamodb_alert_state import create_table as create_alert_state
from smdh.adapters.aws.dynamodb_dead_letters import create_table as create_dead_letters
from smdh.adapters.aws.dynamodb_delivery_log import create_table as create_deliveries
from smdh.adapters.aws.dynamodb_event_store import create_table as create_events
from smdh.adapters.memory.clock import FixedClock
from smdh.domain.sensors.base import MeasureValue
from smdh.domain.telemetry import DeviceSample
from smdh.entrypoints.container import Container, build_container
from tests.integration.aws.conftest import REGION
from tests.integration.aws.timestream_support import Recorder, create_timestream


def aws_container(
    monkeypatch: pytest.MonkeyPatch, moto_server: str, make_client: Callable[[str], Any]
) -> Container:
    monkeypatch.setenv("SMDH_AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("SMDH_AWS_REGION", REGION)
    monkeypatch.setenv("SMDH_REGISTRY_TTL_S", "3600")
    dynamodb = make_client("dynamodb")
    create_events(dynamodb, "smdh-events")
    create_dead_letters(dynamodb, "smdh-dead-letters")
    create_alert_state(dynamodb, "smdh-alert-state")
    create_deliveries(dynamodb, "smdh-deliveries")
    create_timestream(make_client("timestream-write"))
    container = build_container("aws")
    container.clock.override(providers.Singleton(FixedClock))
    return container


def _value(item: dict[str, str]) -> MeasureValue:
    kind, text = item["Type"], item["Value"]
    if kind == "DOUBLE":
        return float(text)
    if kind == "BIGINT":
        return int(text)
    if kind == "BOOLEAN":
        return text == "true"
    return text


class TimestreamReadBack:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def points(self) -> dict[tuple[Any, ...], dict[str, Any]]:
        kept: dict[tuple[Any, ...], dict[str, Any]] = {}
        for record in self.recorder.records:
            dims = tuple((d["Name"], d["Value"]) for d in record["Dimensions"])
            key = (dims, record["MeasureName"], record["Time"])
            if key not in kept or record["Version"] >= kept[key]["Version"]:
                kept[key] = record
        return kept

    def query_range(self, tenant_id: str, device_id: str, *_: Any, **__: Any) -> list[DeviceSample]:
        found = []
        for record in self.points().values():
            dims = {d["Name"]: d["Value"] for d in record["Dimensions"]}
            if (dims["tenant_id"], dims["device_id"]) != (tenant_id, device_id):
                continue
            values = {m["Name"]: _value(m) for m in record["MeasureValues"]}
            found.append(
                DeviceSample(
                    dims["tenant_id"],
                    dims["site_id"],
                    dims["device_id"],
                    dims["sensor_type"],
                    int(record["Time"]) / 1000,
                    values,
                )
            )
        return sorted(found, key=lambda s: s.timestamp)


def timestream_recorder(container: Container) -> Recorder:
    return Recorder(container.aws_clients().client("timestream-write"))
