"""``GET /v1/stream``: server-sent events of live readings, tenant-scoped, with the token in
the header or (EventSource) in the URL; missed-item reports and unsubscribe on disconnect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from smdh.application.live import LiveFeed
from smdh.domain.telemetry import DeviceSample
from smdh.entrypoints.http.routes.stream import events
from tests.integration.http.conftest import (
    GENEROUS,
    Client,
    Device,
    EventStream,
    LiveServer,
    World,
    new_container,
    register,
    seed_tenant,
    send,
)


@pytest.fixture(scope="module")
def devices(client: Client, world: World) -> tuple[Device, Device]:
    return (
        register(client, world.a.tokens["editor"], "acme-aq-live", world.a.site_id),
        register(client, world.b.tokens["editor"], "globex-aq-live", world.b.site_id),
    )


@pytest.fixture(scope="module")
def now(world: World) -> float:
    return float(world.container.clock().now().timestamp())


def test_stream_delivers_live_readings_per_tenant(
    live: tuple[LiveServer, World], client: Client, world: World,
    devices: tuple[Device, Device], now: float,
) -> None:  # fmt: skip
    a_device, b_device = devices
    port = live[0].port
    token = world.a.tokens["viewer"]
    with (
        EventStream(port, f"/v1/stream?access_token={token}") as a_stream,
        EventStream(
            port, "/v1/stream", {"Authorization": f"Bearer {world.b.tokens['viewer']}"}
        ) as b_stream,
    ):
        assert a_stream.status == 200 and b_stream.status == 200
        assert a_stream.headers["Content-Type"].startswith("text/event-stream")
        assert b"connected" in a_stream.first_chunk() and b"connected" in b_stream.first_chunk()
        started = time.monotonic()
        assert send(client, a_device, {"timestamp": now - 50, "co2_ppm": 555}).status == 202
        event = a_stream.next_event(timeout=2.0)
        assert time.monotonic() - started < 2.0
        assert event is not None and event[0] == "reading"
        data = event[1]
        assert data["device_id"] == "acme-aq-live" and data["values"]["co2_ppm"] == 555
        assert data["timestamp"] == "2026-01-05T07:59:10Z" and data["epoch"] == now - 50
        # B hears only B: its next event is its own reading, A's was never queued for it
        assert send(client, b_device, {"timestamp": now - 50, "co2_ppm": 444}).status == 202
        b_event = b_stream.next_event(timeout=2.0)
        assert b_event is not None and b_event[1]["device_id"] == "globex-aq-live"


def test_stream_token_rules(live: tuple[LiveServer, World], world: World) -> None:
    port = live[0].port
    with EventStream(port, "/v1/stream?access_token=not.a.token") as bad:
        assert bad.status == 401
    both = f"/v1/stream?access_token={world.a.tokens['viewer']}"
    with EventStream(port, both, {"Authorization": f"Bearer {world.a.tokens['viewer']}"}) as s:
        assert s.status == 400
    with EventStream(port, "/v1/stream") as anonymous:
        assert anonymous.status == 401
    with EventStream(port, "/v1/stream?access_token=" + world.operator_token) as operator:
        assert operator.status == 403  # the operator has no tenant to watch
    with EventStream(port, "/v1/devices?access_token=" + world.a.tokens["viewer"]) as other:
        assert other.status == 401  # only the stream takes a token in the URL


@pytest.fixture(scope="module")
def quick_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A hub whose streams send a heartbeat every 0.2 s."""
    container = new_container(tmp_path_factory.mktemp("stream"))
    tenant = seed_tenant(container, "umbrella")
    settings = attrs.evolve(GENEROUS, stream_heartbeat_s=0.2)
    with LiveServer(container, settings=settings) as server:
        yield {"port": server.port, "token": tenant.tokens["viewer"], "live": container.live_feed()}


def test_disconnect_unsubscribes(quick_hub: dict[str, Any]) -> None:
    live: LiveFeed = quick_hub["live"]
    path = f"/v1/stream?access_token={quick_hub['token']}"
    with EventStream(quick_hub["port"], path) as stream:
        assert stream.status == 200 and b"connected" in stream.first_chunk()
        assert b"heartbeat" in stream.first_chunk(timeout=1.0)
        assert live.subscriber_count == 1
    deadline = time.monotonic() + 3
    while live.subscriber_count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.subscriber_count == 0


def test_a_slow_subscriber_is_told_what_it_missed() -> None:
    async def scenario() -> list[bytes]:
        live = LiveFeed(queue_size=2)
        stream = events(live, "acme", asyncio.Event(), heartbeat_s=5)
        chunks = [await anext(stream)]  # subscribed
        live.publish_samples(
            DeviceSample("acme", "s", "d", "air_quality", 1767600000.0 + i, {"co2_ppm": i})
            for i in range(5)
        )
        live.publish_samples([DeviceSample("other", "s", "d", "air_quality", 1.0, {})])
        chunks += [await anext(stream) for _ in range(3)]
        await stream.aclose()
        assert live.subscriber_count == 0
        return chunks

    chunks = asyncio.run(scenario())
    assert chunks[0].startswith(b"retry: ")
    assert chunks[1] == b'event: missed\ndata: {"missed":3}\n\n'
    assert chunks[2].startswith(b"event: reading\n") and b'"co2_ppm":3' in chunks[2]
    assert b'"timestamp":"2026-01-05T08:00:03Z"' in chunks[2]
    assert b'"co2_ppm":4' in chunks[3]
