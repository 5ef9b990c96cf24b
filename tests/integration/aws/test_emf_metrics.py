"""EmfIngestMetrics: EMF JSON on stdout, low-cardinality dimensions only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smdh.adapters.aws.cloudwatch_metrics import EmfIngestMetrics


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def metric_names(blob: dict[str, Any]) -> list[str]:
    return [m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]]


def dimensions(blob: dict[str, Any]) -> list[list[str]]:
    return blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


def test_a_batch_becomes_emf_lines(capsys: pytest.CaptureFixture[str]) -> None:
    metrics = EmfIngestMetrics(stage="prod")
    metrics.observe_batch(
        accepted=40,
        rejected_by_code={"out-of-range": 2, "unknown-device": 1, "late": 0},
        batch_seconds=0.12,
        queue_depth=7,
        latencies_s=[0.05, 0.2, 0.3],
    )
    blobs = emitted(capsys)
    main, *by_reason = blobs
    assert main["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SMDH"
    assert set(metric_names(main)) == {
        "AcceptedReadings",
        "RejectedReadings",
        "Batches",
        "BatchDuration",
        "QueueDepth",
        "IngestLatency",
    }
    assert main["AcceptedReadings"] == [40.0]
    assert main["RejectedReadings"] == [3.0]
    assert main["IngestLatency"] == [0.05, 0.2, 0.3]
    assert main["service"] == "ingest"
    assert main["stage"] == "prod"
    assert [(b["reason"], b["RejectedByReason"]) for b in by_reason] == [
        ("out-of-range", [2.0]),
        ("unknown-device", [1.0]),
    ]
    for blob in blobs:
        names = {name for dims in dimensions(blob) for name in dims}
        assert names <= {"service", "stage", "reason"}  # never tenant or device


def test_many_latencies_are_split_to_respect_the_emf_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    EmfIngestMetrics().observe_batch(250, {}, 0.5, 0, [0.01] * 250)
    blobs = emitted(capsys)
    counts = [len(b["IngestLatency"]) for b in blobs if isinstance(b.get("IngestLatency"), list)]
    assert sum(counts) == 250
    assert max(counts) <= 100


def test_two_instances_do_not_share_state(capsys: pytest.CaptureFixture[str]) -> None:
    EmfIngestMetrics(service="ingest-a").observe_batch(1, {}, 0.1, 0, [])
    EmfIngestMetrics(service="ingest-b").observe_batch(2, {}, 0.1, 0, [])
    blobs = emitted(capsys)
    assert [(b["service"], b["AcceptedReadings"]) for b in blobs] == [
        ("ingest-a", [1.0]),
        ("ingest-b", [2.0]),
    ]
