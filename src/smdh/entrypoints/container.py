"""The composition root: the only place that builds adapters and wires them together.

Profiles:

* ``local`` (the default): SQLite event store and keys under the data directory
  (``--data-dir`` / ``SMDH_DATA_DIR``, default ``./smdh-data``), system clock, random ids.
* ``aws``: DynamoDB event store, dead letters, alert evaluation state and delivery log,
  Timestream telemetry, SES/SNS/webhook notifiers, system clock; names, region and endpoint
  from ``SMDH_*`` environment variables (``adapters/aws/settings.py``).
* ``memory``: in-memory fakes of every port, deterministic clock and ids (tests, offline).

Nothing here runs at import time: providers create objects when first asked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dependency_injector import containers, providers

from smdh.adapters.aws import alert_channels as aws_alert_channels
from smdh.adapters.aws import dynamodb_alert_state as aws_alert_state
from smdh.adapters.aws import dynamodb_delivery_log as aws_delivery_log
from smdh.adapters.aws import settings as aws
from smdh.adapters.embedded.alert_state import SqliteEvaluationStateStore
from smdh.adapters.embedded.archive import LocalArchiveStore
from smdh.adapters.embedded.dead_letters import SqliteDeadLetterStore
from smdh.adapters.embedded.notifiers import LiveFeedNotifier
from smdh.adapters.embedded.prometheus_metrics import PrometheusIngestMetrics
from smdh.adapters.embedded.rollups import SqliteRollupStore
from smdh.adapters.embedded.sqlite_credentials import SqliteCredentialStore
from smdh.adapters.embedded.sqlite_delivery_log import SqliteDeliveryLog
from smdh.adapters.embedded.sqlite_event_store import SqliteEventStore
from smdh.adapters.embedded.telemetry_lifecycle import (
    ALERT_STATE_DEVICE,
    ALERT_STATE_TENANT,
    CREDENTIAL_TENANT,
    DEAD_LETTER_DEVICE,
    DEAD_LETTER_TENANT,
    DELIVERY_DEVICE,
    DELIVERY_TENANT,
    EVENT_DEVICE,
    EVENT_TENANT,
    SqlitePurger,
    SqliteTelemetryLifecycle,
)
from smdh.adapters.embedded.telemetry_store import SqliteTelemetryStore
from smdh.adapters.identity.local_tokens import LocalTokenAuthority
from smdh.adapters.identity.passwords import ScryptHasher, Sha256SecretHasher
from smdh.adapters.memory.alert_state import InMemoryEvaluationStateStore
from smdh.adapters.memory.clock import FixedClock, SequentialIds
from smdh.adapters.memory.credentials import InMemoryCredentialStore
from smdh.adapters.memory.dead_letters import InMemoryDeadLetterStore
from smdh.adapters.memory.delivery_log import InMemoryDeliveryLog
from smdh.adapters.memory.event_store import InMemoryEventStore
from smdh.adapters.memory.metrics import CountingIngestMetrics
from smdh.adapters.memory.rollups import InMemoryRollupStore
from smdh.adapters.memory.telemetry_store import InMemoryTelemetryStore
from smdh.adapters.serialization import EventSerializer
from smdh.adapters.system import RandomIds, SystemClock
from smdh.application.alerting import AlertingService
from smdh.application.erasure import AlertBoardPurger, ErasureService, EvaluationStatePurger
from smdh.application.identity import DeviceAuthenticator, IdentityService
from smdh.application.ingest import IngestPipeline
from smdh.application.ingest_worker import IngestTotals, IngestWorker, observe_batches
from smdh.application.lifecycle import Eraser, RetentionJob
from smdh.application.live import LiveFeed
from smdh.application.notifications import ChannelLookup, NotificationDispatcher
from smdh.application.ports import TenantDataPurger
from smdh.application.queries import Queries
from smdh.application.quotas import RateLimiter
from smdh.application.system import Application
from smdh.domain.sensors.registry import default_registry
from smdh.entrypoints import alerting_runtime

DEFAULT_DATA_DIR = Path("smdh-data")


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--data-dir`` wins, then ``SMDH_DATA_DIR``, then ``./smdh-data``."""
    chosen = explicit or os.environ.get("SMDH_DATA_DIR") or DEFAULT_DATA_DIR
    return Path(chosen).expanduser().resolve()


def _in_data_dir(data_dir: str, name: str) -> Path:
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path / name


def _hook_rollups(pipeline: IngestPipeline, rollups: Any) -> Any:
    """Rollups follow every stored batch; returns the rollup store."""
    pipeline.add_after_store_hook(rollups.on_stored)
    return rollups


def erasure_purgers(data_dir: str, alerting: AlertingService) -> list[TenantDataPurger]:
    """The embedded files whose stores have no erase method of their own, and the alert
    evaluator's memory (first, so it cannot save what the file purge removed)."""
    path = Path(data_dir)
    return [
        EvaluationStatePurger(alerting.state),
        SqlitePurger(path / "alert_state.sqlite3", ALERT_STATE_TENANT, ALERT_STATE_DEVICE),
        SqlitePurger(path / "events.sqlite3", EVENT_TENANT, EVENT_DEVICE),
        AlertBoardPurger(alerting.board),  # after the events, so it forgets only what is gone
        SqlitePurger(path / "dead_letters.sqlite3", DEAD_LETTER_TENANT, DEAD_LETTER_DEVICE),
        SqlitePurger(path / "credentials.sqlite3", CREDENTIAL_TENANT),
        SqlitePurger(path / "deliveries.sqlite3", DELIVERY_TENANT, DELIVERY_DEVICE),
    ]


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()

    serializer = providers.Singleton(EventSerializer)
    sensors = providers.Singleton(default_registry)
    device_secret_hasher = providers.Singleton(Sha256SecretHasher)
    # The memory profile (tests, offline use) hashes passwords at a lower scrypt cost: the
    # format and checks are the same, only the work factor differs.
    password_hasher: Any = providers.Selector(
        config.profile,
        local=providers.Singleton(ScryptHasher),
        aws=providers.Singleton(ScryptHasher),
        memory=providers.Singleton(ScryptHasher, n=2**10),
    )

    # aws profile: names and endpoint from the environment (adapters/aws/settings.py)
    aws_resources = providers.Singleton(aws.AwsResources.from_env)
    aws_clients = providers.Singleton(aws.client_factory, aws_resources)
    aws_dead_letters = providers.Singleton(aws.build_dead_letters, aws_resources, aws_clients)

    clock: Any = providers.Selector(
        config.profile,
        aws=providers.Singleton(SystemClock),
        local=providers.Singleton(SystemClock),
        memory=providers.Singleton(FixedClock),
    )
    ids: Any = providers.Selector(
        config.profile,
        aws=providers.Singleton(RandomIds),
        local=providers.Singleton(RandomIds),
        memory=providers.Singleton(SequentialIds),
    )
    event_store: Any = providers.Selector(
        config.profile,
        aws=providers.Singleton(aws.build_event_store, aws_resources, aws_clients, serializer),
        local=providers.Singleton(
            SqliteEventStore,
            path=providers.Callable(_in_data_dir, config.data_dir, "events.sqlite3"),
            serializer=serializer,
        ),
        memory=providers.Singleton(InMemoryEventStore, serializer=serializer),
    )
    token_authority = providers.Singleton(
        LocalTokenAuthority,
        key_path=providers.Callable(_in_data_dir, config.data_dir, "token-signing-key.pem"),
    )

    credentials: Any = providers.Selector(
        config.profile,
        aws=providers.Singleton(InMemoryCredentialStore),  # Cognito holds the passwords
        local=providers.Singleton(
            SqliteCredentialStore,
            path=providers.Callable(_in_data_dir, config.data_dir, "credentials.sqlite3"),
        ),
        memory=providers.Singleton(InMemoryCredentialStore),
    )

    # where tenant-configured webhooks may point (private networks: local yes, aws no)
    egress_policy = providers.Singleton(alerting_runtime.egress_policy, config.profile)
    application = providers.Singleton(
        Application,
        events=event_store,
        clock=clock,
        ids=ids,
        device_secret_hasher=device_secret_hasher,
        sensors=sensors,
        egress=egress_policy,
    )
    identity = providers.Singleton(
        IdentityService,
        directory=application.provided.directory,
        credentials=credentials,
        hasher=password_hasher,
    )
    telemetry_store: Any = providers.Selector(
        config.profile,
        aws=providers.Singleton(
            aws.build_telemetry_store, aws_resources, aws_clients, aws_dead_letters, clock, sensors
        ),
        local=providers.Singleton(
            SqliteTelemetryStore,
            path=providers.Callable(_in_data_dir, config.data_dir, "telemetry.sqlite3"),
            registry=sensors,
        ),
        memory=providers.Singleton(InMemoryTelemetryStore, registry=sensors),
    )
    dead_letters: Any = providers.Selector(
        config.profile,
        aws=aws_dead_letters,
        local=providers.Singleton(
            SqliteDeadLetterStore,
            path=providers.Callable(_in_data_dir, config.data_dir, "dead_letters.sqlite3"),
        ),
        memory=providers.Singleton(InMemoryDeadLetterStore),
    )
    ingest_metrics: Any = providers.Selector(
        config.profile,
        aws=providers.Singleton(aws.build_ingest_metrics, aws_resources),
        local=providers.Singleton(PrometheusIngestMetrics),
        memory=providers.Singleton(CountingIngestMetrics),
    )
    rate_limiter = providers.Singleton(RateLimiter, directory=application.provided.directory)
    ingest_pipeline = providers.Singleton(
        IngestPipeline,
        devices=application.provided.devices,
        directory=application.provided.directory,
        sensors=sensors,
        store=telemetry_store,
        dead_letters=dead_letters,
        clock=clock,
        rate_limiter=rate_limiter,
    )
    live_feed = providers.Singleton(LiveFeed)
    ingest_totals = providers.Singleton(IngestTotals)
    ingest_worker = providers.Singleton(
        IngestWorker,
        pipeline=ingest_pipeline,
        on_batch=providers.Callable(observe_batches, ingest_metrics, live_feed, ingest_totals),
    )
    device_authenticator = providers.Singleton(
        DeviceAuthenticator,
        devices=application.provided.devices,
        hasher=device_secret_hasher,
    )
    queries = providers.Singleton(
        Queries,
        directory=application.provided.directory,
        devices=application.provided.devices,
    )

    # --- alerting and notifications (entrypoints/alerting_runtime.py runs them) ------------
    alert_state_store: Any = providers.Selector(
        config.profile,
        aws=providers.Singleton(aws_alert_state.build, aws_clients),
        local=providers.Singleton(
            SqliteEvaluationStateStore,
            path=providers.Callable(_in_data_dir, config.data_dir, "alert_state.sqlite3"),
        ),
        memory=providers.Singleton(InMemoryEvaluationStateStore),
    )
    alerting_service = providers.Singleton(
        AlertingService,
        events=event_store,
        directory=application.provided.directory,
        clock=clock,
        state_store=alert_state_store,
        telemetry=telemetry_store,
        devices=application.provided.devices,
    )
    delivery_log: Any = providers.Selector(
        config.profile,
        aws=providers.Singleton(aws_delivery_log.build, aws_clients),
        local=providers.Singleton(
            SqliteDeliveryLog,
            path=providers.Callable(_in_data_dir, config.data_dir, "deliveries.sqlite3"),
        ),
        memory=providers.Singleton(InMemoryDeliveryLog),
    )
    channel_lookup = providers.Singleton(ChannelLookup, events=event_store)
    live_notifier = providers.Singleton(LiveFeedNotifier, live=live_feed)
    notifiers: Any = providers.Selector(
        config.profile,
        aws=providers.Singleton(
            aws_alert_channels.build_aws_notifiers, aws_clients, channel_lookup, egress_policy
        ),
        local=providers.Singleton(
            alerting_runtime.build_notifiers,
            config.profile,
            channel_lookup,
            live_notifier,
            egress_policy,
        ),
        memory=providers.Singleton(
            alerting_runtime.build_notifiers,
            config.profile,
            channel_lookup,
            live_notifier,
            egress_policy,
        ),
    )
    notification_dispatcher = providers.Singleton(
        NotificationDispatcher,
        events=event_store,
        deliveries=delivery_log,
        notifiers=notifiers,
        clock=clock,
    )
    # Redelivered samples are filtered inside AlertingService.on_batch (every profile).
    alerting_hook = providers.Singleton(
        alerting_runtime.hook_alerting, ingest_pipeline, alerting_service
    )

    # --- rollups (1 min / 1 h / 1 day), kept current by an ingest after-store hook ---------
    rollup_store: Any = providers.Selector(
        config.profile,
        aws=providers.Singleton(InMemoryRollupStore, telemetry=telemetry_store, registry=sensors),
        local=providers.Singleton(
            SqliteRollupStore,
            path=telemetry_store.provided.path,
            registry=sensors,
            background=True,
        ),
        memory=providers.Singleton(
            InMemoryRollupStore, telemetry=telemetry_store, registry=sensors
        ),
    )
    rollup_hook = providers.Singleton(_hook_rollups, ingest_pipeline, rollup_store)

    # --- data lifecycle: retention archives raw data before deleting it (local profile) ----
    archive_store = providers.Singleton(
        LocalArchiveStore, providers.Callable(_in_data_dir, config.data_dir, "archive")
    )
    telemetry_lifecycle = providers.Singleton(
        SqliteTelemetryLifecycle, store=telemetry_store, rollups=rollup_store
    )
    retention_job = providers.Singleton(
        RetentionJob,
        directory=application.provided.directory,
        telemetry=telemetry_store,
        lifecycle=telemetry_lifecycle,
        archive=archive_store,
        sensors=sensors,
        clock=clock,
    )
    # GDPR erasure: the embedded files (local profile); the other profiles have none yet.
    eraser = providers.Singleton(
        Eraser,
        directory=application.provided.directory,
        devices=application.provided.devices,
        lifecycle=telemetry_lifecycle,
        archive=archive_store,
        credentials=credentials,
        purgers=providers.Callable(erasure_purgers, config.data_dir, alerting_service),
        clock=clock,
    )
    erasure_service: Any = providers.Selector(
        config.profile,
        local=providers.Singleton(ErasureService, application=application, eraser=eraser),
        memory=providers.Object(None),
        aws=providers.Object(None),
    )


def build_container(
    profile: str = "local", data_dir: str | os.PathLike[str] | None = None
) -> Container:
    if profile not in ("local", "memory", "aws"):
        raise ValueError(f"unknown profile {profile!r}; known: local, memory, aws")
    container = Container()
    container.config.from_dict({"profile": profile, "data_dir": str(resolve_data_dir(data_dir))})
    return container
