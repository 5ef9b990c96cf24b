"""Body size limit (413), per-principal and login rate limits (429 + Retry-After), timeouts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from smdh.adapters.memory.event_store import InMemoryEventStore
from smdh.adapters.serialization import EventSerializer
from smdh.entrypoints.http.app import MAX_LINE_SIZE
from smdh.entrypoints.http.ratelimit import RateLimit, TokenBuckets
from smdh.entrypoints.http.settings import HttpSettings
from tests.integration.http.conftest import (
    ROOT,
    Client,
    LiveServer,
    World,
    assert_problem,
    new_container,
)


class SlowStore(InMemoryEventStore):
    def current_version(self, aggregate_id: str) -> int:
        if aggregate_id == "readiness-probe":
            time.sleep(0.5)
        return super().current_version(aggregate_id)


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Any]]:
    container = new_container(tmp_path_factory.mktemp("limits"))
    container.event_store.override(providers.Object(SlowStore(EventSerializer())))
    settings = HttpSettings(
        max_body_bytes=2048,
        rate_limit=RateLimit(rate=0.1, burst=5),
        login_limit=RateLimit(rate=0.01, burst=3),
        handler_timeout_s=0.2,
    )
    with LiveServer(container, settings=settings) as server:
        yield Client(server.port), container


def test_default_body_limit_is_one_mebibyte(client: Client, world: World) -> None:
    big = {"site_id": "big", "name": "B", "timezone": "UTC", "address": "x" * (1024 * 1024)}
    assert_problem(client.post("/v1/sites", big, token=world.a.tokens["admin"]), 413)


def test_request_lines_up_to_the_apps_limit_reach_the_app(client: Client, world: World) -> None:
    token = world.a.tokens["viewer"]
    long_query = "/v1/devices?limit=10&junk=" + "x" * 12_000  # over aiohttp's default 8,190
    assert 8190 < len(long_query) < MAX_LINE_SIZE
    # answered by the app (its problem document names the parameter), not refused by aiohttp
    assert_problem(client.get(long_query, token=token), 400, "invalid-query")
    too_long = client.get("/v1/devices?junk=" + "x" * MAX_LINE_SIZE, token=token)
    assert too_long.status == 400  # beyond the limit aiohttp refuses it itself, in plain text
    assert not too_long.headers.get("Content-Type", "").startswith("application/problem+json")


def test_configured_body_limit(strict: tuple[Client, Any]) -> None:
    client, container = strict
    token = container.token_authority().issue(ROOT).access_token
    body = {"tenant_id": "big", "name": "n" * 4000}
    assert_problem(client.post("/v1/tenants", body, token=token), 413, "payload-too-large")


def test_per_principal_rate_limit(strict: tuple[Client, Any]) -> None:
    client, container = strict
    token = container.token_authority().issue(ROOT).access_token
    statuses = [client.get("/v1/tenants", token=token).status for _ in range(8)]
    assert 429 in statuses
    assert statuses[0] == 200
    reply = client.get("/v1/tenants", token=token)
    problem = assert_problem(reply, 429, "rate-limited")
    assert int(reply.headers["Retry-After"]) >= 1
    assert problem["detail"]
    # another principal has its own bucket
    other = container.token_authority().issue(ROOT.__class__.operator("other")).access_token
    assert client.get("/v1/tenants", token=other).status == 200


def test_login_is_throttled_per_client(strict: tuple[Client, Any]) -> None:
    client, _ = strict
    bad = {"username": "root", "password": "wrong-password"}
    statuses = [client.post("/v1/auth/token", bad).status for _ in range(5)]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3:] == [429, 429]


def test_handler_timeout_is_503(strict: tuple[Client, Any]) -> None:
    client, _ = strict
    reply = client.get("/readyz")
    assert_problem(reply, 503, "timeout")


def test_token_bucket_refills() -> None:
    now = [0.0]
    buckets = TokenBuckets(RateLimit(rate=2.0, burst=2), clock=lambda: now[0])
    assert buckets.take("k") == 0 and buckets.take("k") == 0
    assert buckets.take("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("k") == 0


def test_settings_reject_nonsense(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimit(rate=0, burst=1)
