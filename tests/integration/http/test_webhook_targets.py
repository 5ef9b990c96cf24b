"""A shared hub (``SMDH_NOTIFY_PRIVATE_TARGETS=deny``, the aws default) refuses webhook and
Slack URLs on private or local addresses when a tenant admin configures them, on a real
socket; public ones are accepted. The delivery-time check is in the notifier tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.http.conftest import (
    GENEROUS,
    Client,
    LiveServer,
    TenantFixture,
    assert_problem,
    new_container,
    seed_tenant,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def shared_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Client, TenantFixture]]:
    monkeypatch.setenv("SMDH_NOTIFY_PRIVATE_TARGETS", "deny")
    container = new_container(tmp_path)
    tenant = seed_tenant(container, "acme")
    with LiveServer(container, settings=GENEROUS) as server:
        yield Client(server.port), tenant


@pytest.mark.parametrize(
    "body",
    [
        {"webhooks": [{"url": "http://169.254.169.254/latest/meta-data/"}]},
        {"webhooks": [{"url": "https://hooks.example.com/a"}, {"url": "http://10.0.0.5/b"}]},
        {"slack_webhook_url": "http://localhost:8080/services/T/B/X"},
    ],
)
def test_private_targets_are_refused(
    shared_hub: tuple[Client, TenantFixture], body: dict[str, object]
) -> None:
    client, tenant = shared_hub
    admin = tenant.tokens["admin"]
    reply = client.request("PUT", "/v1/notification-channels", body, token=admin)
    problem = assert_problem(reply, 400, "private-target")
    assert "private or local address" in problem["detail"]
    shown = client.get("/v1/notification-channels", token=admin).json()
    assert shown["webhooks"] == [] and shown["slack_webhook_url"] is None


def test_public_targets_are_accepted(shared_hub: tuple[Client, TenantFixture]) -> None:
    client, tenant = shared_hub
    body = {
        "webhooks": [{"url": "https://hooks.example.com/smdh"}],
        "slack_webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX",
    }
    reply = client.request("PUT", "/v1/notification-channels", body, token=tenant.tokens["admin"])
    assert reply.status == 200, reply.text()
