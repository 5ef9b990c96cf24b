"""Names and knobs of the AWS profile, from environment variables (the SAM template sets them).

``AwsResources.from_env()`` reads:

=================================  =========================================  ==================
variable                           meaning                                    default
=================================  =========================================  ==================
``SMDH_AWS_REGION`` / AWS_REGION   region (``session.AwsSettings``)           eu-central-1
``SMDH_AWS_ENDPOINT_URL``          endpoint override (moto in tests)          none
``SMDH_EVENTS_TABLE``              DynamoDB event store table                 smdh-events
``SMDH_DEAD_LETTERS_TABLE``        DynamoDB dead-letter table                 smdh-dead-letters
``SMDH_CREDENTIALS_TABLE``         DynamoDB password-hash table               smdh-credentials
``SMDH_TIMESTREAM_DATABASE``       Timestream database                        smdh_manufacturing
``SMDH_TIMESTREAM_TABLES``         ``type=table,...`` or one table name       the seed's tables
``SMDH_TIMESTREAM_MEMORY_HOURS``   memory store retention (writer window)     720 (30 days)
``SMDH_TIMESTREAM_MAGNETIC_DAYS``  magnetic retention if magnetic writes on   none (off)
``SMDH_STREAM_NAME``               Kinesis ingest stream                      smdh-sensor-stream
``SMDH_ARCHIVE_BUCKET``            S3 archive bucket                          smdh-archive
``SMDH_ALERT_TOPIC_ARN``           SNS topic of alert notifications           none
``SMDH_METRICS_NAMESPACE``         CloudWatch (EMF) namespace                 SMDH
``SMDH_REGISTRY_TTL_S``            how stale the device registry may get      10
=================================  =========================================  ==================

The seed keeps 90 days in the memory store; its own cost section shows that this is the
largest Timestream cost line, so the default here is 30 days (720 h) and the template makes
it a parameter.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

import attrs

from smdh.adapters.aws.session import AwsSettings

# The seed's tables, one per sensor type (``SMDH_TIMESTREAM_TABLES`` overrides it).
SEED_TABLES: Mapping[str, str] = {
    "machine": "machine_telemetry",
    "energy": "energy_monitoring",
    "air_quality": "air_quality",
    "job_scan": "job_scan_events",
}


def parse_tables(text: str) -> str | dict[str, str]:
    """``machine=machine_telemetry,energy=energy_monitoring`` or one table for every type."""
    text = text.strip()
    if "=" not in text:
        if not text:
            raise ValueError("SMDH_TIMESTREAM_TABLES is empty")
        return text
    tables: dict[str, str] = {}
    for part in text.split(","):
        sensor_type, sep, table = part.strip().partition("=")
        if not sep or not sensor_type.strip() or not table.strip():
            raise ValueError(f"SMDH_TIMESTREAM_TABLES: {part!r} is not type=table")
        tables[sensor_type.strip()] = table.strip()
    return tables


@attrs.frozen(kw_only=True)
class AwsResources:
    session: AwsSettings = attrs.field(factory=AwsSettings)
    events_table: str = "smdh-events"
    dead_letters_table: str = "smdh-dead-letters"
    credentials_table: str = "smdh-credentials"
    timestream_database: str = "smdh_manufacturing"
    timestream_tables: str | Mapping[str, str] = attrs.field(factory=lambda: dict(SEED_TABLES))
    memory_store_hours: int = 720
    magnetic_store_days: int | None = None
    stream_name: str = "smdh-sensor-stream"
    archive_bucket: str = "smdh-archive"
    alert_topic_arn: str | None = None
    metrics_namespace: str = "SMDH"
    registry_ttl_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AwsResources:
        values = os.environ if env is None else env
        defaults = cls()

        def get(name: str, default: str) -> str:
            return values.get(name) or default

        magnetic = values.get("SMDH_TIMESTREAM_MAGNETIC_DAYS")
        tables = values.get("SMDH_TIMESTREAM_TABLES")
        return cls(
            session=AwsSettings.from_env(values),
            events_table=get("SMDH_EVENTS_TABLE", defaults.events_table),
            dead_letters_table=get("SMDH_DEAD_LETTERS_TABLE", defaults.dead_letters_table),
            credentials_table=get("SMDH_CREDENTIALS_TABLE", defaults.credentials_table),
            timestream_database=get("SMDH_TIMESTREAM_DATABASE", defaults.timestream_database),
            timestream_tables=parse_tables(tables) if tables else defaults.timestream_tables,
            memory_store_hours=int(get("SMDH_TIMESTREAM_MEMORY_HOURS", "720")),
            magnetic_store_days=int(magnetic) if magnetic else None,
            stream_name=get("SMDH_STREAM_NAME", defaults.stream_name),
            archive_bucket=get("SMDH_ARCHIVE_BUCKET", defaults.archive_bucket),
            alert_topic_arn=values.get("SMDH_ALERT_TOPIC_ARN") or None,
            metrics_namespace=get("SMDH_METRICS_NAMESPACE", defaults.metrics_namespace),
            registry_ttl_s=float(get("SMDH_REGISTRY_TTL_S", "10")),
        )


# --- builders the container's ``aws`` profile calls (imports stay lazy: boto3 on demand) ----


def client_factory(resources: AwsResources) -> Any:
    from smdh.adapters.aws.session import AwsClientFactory  # noqa: PLC0415

    return AwsClientFactory(resources.session)


def build_event_store(resources: AwsResources, clients: Any, serializer: Any) -> Any:
    from smdh.adapters.aws.dynamodb_event_store import DynamoDbEventStore  # noqa: PLC0415

    return DynamoDbEventStore(clients.client("dynamodb"), resources.events_table, serializer)


def build_dead_letters(resources: AwsResources, clients: Any) -> Any:
    from smdh.adapters.aws.dynamodb_dead_letters import DynamoDbDeadLetterStore  # noqa: PLC0415

    return DynamoDbDeadLetterStore(clients.client("dynamodb"), resources.dead_letters_table)


def build_telemetry_store(
    resources: AwsResources, clients: Any, dead_letters: Any, clock: Any, registry: Any
) -> Any:
    from smdh.adapters.aws.timestream_query import TimestreamTelemetryStore  # noqa: PLC0415
    from smdh.adapters.aws.timestream_writer import TimestreamTelemetryWriter  # noqa: PLC0415

    writer = TimestreamTelemetryWriter(
        clients.client("timestream-write"),
        resources.timestream_database,
        resources.timestream_tables,
        dead_letters,
        clock,
        resources.memory_store_hours,
        magnetic_store_days=resources.magnetic_store_days,
        registry=registry,
    )
    return TimestreamTelemetryStore(writer, clients.client("timestream-query"), registry=registry)


def build_ingest_metrics(resources: AwsResources) -> Any:
    """CloudWatch EMF metrics (AWS part 1's adapter) when present, else in-process counters."""
    try:
        cloudwatch_metrics = importlib.import_module("smdh.adapters.aws.cloudwatch_metrics")
    except ImportError:
        from smdh.adapters.memory.metrics import CountingIngestMetrics  # noqa: PLC0415

        return CountingIngestMetrics()
    return cloudwatch_metrics.EmfIngestMetrics(namespace=resources.metrics_namespace)
