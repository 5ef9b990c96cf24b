"""The composition root: the only place that builds adapters and wires them together.

Profiles:

* ``local`` (the default): SQLite event store and keys under the data directory
  (``--data-dir`` / ``SMDH_DATA_DIR``, default ``./smdh-data``), system clock, random ids.
* ``memory``: in-memory fakes of every port, deterministic clock and ids (tests, offline).

Nothing here runs at import time: providers create objects when first asked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dependency_injector import containers, providers

from smdh.adapters.embedded.dead_letters import SqliteDeadLetterStore
from smdh.adapters.embedded.prometheus_metrics import PrometheusIngestMetrics
from smdh.adapters.embedded.sqlite_credentials import SqliteCredentialStore
from smdh.adapters.embedded.sqlite_event_store import SqliteEventStore
from smdh.adapters.embedded.telemetry_store import SqliteTelemetryStore
from smdh.adapters.identity.local_tokens import LocalTokenAuthority
from smdh.adapters.identity.passwords import ScryptHasher, Sha256SecretHasher
from smdh.adapters.memory.clock import FixedClock, SequentialIds
from smdh.adapters.memory.credentials import InMemoryCredentialStore
from smdh.adapters.memory.dead_letters import InMemoryDeadLetterStore
from smdh.adapters.memory.event_store import InMemoryEventStore
from smdh.adapters.memory.metrics import CountingIngestMetrics
from smdh.adapters.memory.telemetry_store import InMemoryTelemetryStore
from smdh.adapters.serialization import EventSerializer
from smdh.adapters.system import RandomIds, SystemClock
from smdh.application.identity import DeviceAuthenticator, IdentityService
from smdh.application.ingest import IngestPipeline
from smdh.application.ingest_worker import IngestTotals, IngestWorker, observe_batches
from smdh.application.live import LiveFeed
from smdh.application.queries import Queries
from smdh.application.quotas import RateLimiter
from smdh.application.system import Application
from smdh.domain.sensors.registry import default_registry

DEFAULT_DATA_DIR = Path("smdh-data")


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--data-dir`` wins, then ``SMDH_DATA_DIR``, then ``./smdh-data``."""
    chosen = explicit or os.environ.get("SMDH_DATA_DIR") or DEFAULT_DATA_DIR
    return Path(chosen).expanduser().resolve()


def _in_data_dir(data_dir: str, name: str) -> Path:
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path / name


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()

    serializer = providers.Singleton(EventSerializer)
    sensors = providers.Singleton(default_registry)
    device_secret_hasher = providers.Singleton(Sha256SecretHasher)
    password_hasher = providers.Singleton(ScryptHasher)

    clock: Any = providers.Selector(
        config.profile,
        local=providers.Singleton(SystemClock),
        memory=providers.Singleton(FixedClock),
    )
    ids: Any = providers.Selector(
        config.profile,
        local=providers.Singleton(RandomIds),
        memory=providers.Singleton(SequentialIds),
    )
    event_store: Any = providers.Selector(
        config.profile,
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
        local=providers.Singleton(
            SqliteCredentialStore,
            path=providers.Callable(_in_data_dir, config.data_dir, "credentials.sqlite3"),
        ),
        memory=providers.Singleton(InMemoryCredentialStore),
    )

    application = providers.Singleton(
        Application,
        events=event_store,
        clock=clock,
        ids=ids,
        device_secret_hasher=device_secret_hasher,
        sensors=sensors,
    )
    identity = providers.Singleton(
        IdentityService,
        directory=application.provided.directory,
        credentials=credentials,
        hasher=password_hasher,
    )
    telemetry_store: Any = providers.Selector(
        config.profile,
        local=providers.Singleton(
            SqliteTelemetryStore,
            path=providers.Callable(_in_data_dir, config.data_dir, "telemetry.sqlite3"),
            registry=sensors,
        ),
        memory=providers.Singleton(InMemoryTelemetryStore, registry=sensors),
    )
    dead_letters: Any = providers.Selector(
        config.profile,
        local=providers.Singleton(
            SqliteDeadLetterStore,
            path=providers.Callable(_in_data_dir, config.data_dir, "dead_letters.sqlite3"),
        ),
        memory=providers.Singleton(InMemoryDeadLetterStore),
    )
    ingest_metrics: Any = providers.Selector(
        config.profile,
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


def build_container(
    profile: str = "local", data_dir: str | os.PathLike[str] | None = None
) -> Container:
    if profile not in ("local", "memory"):
        raise ValueError(f"unknown profile {profile!r}; known: local, memory")
    container = Container()
    container.config.from_dict({"profile": profile, "data_dir": str(resolve_data_dir(data_dir))})
    return container
