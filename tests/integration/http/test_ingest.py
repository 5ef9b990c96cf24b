"""HTTP ingest with device credentials, the telemetry read routes, dead letters, the live
stream and /metrics, on a real socket with real credentials (memory profile)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from dependency_injector import providers

from smdh.adapters.embedded.prometheus_metrics import PrometheusIngestMetrics
from smdh.adapters.memory.telemetry_store import InMemoryTelemetryStore
from smdh.application import commands as c
from smdh.application.ingest_worker import IngestWorker
from tests.integration.http.conftest import (
    GENEROUS,
    ROOT,
    Client,
    Device,
    LiveServer,
    World,
    assert_problem,
    new_container,
    register,
    seed_tenant,
    send,
)


@pytest.fixture(scope="module")
def now(world: World) -> float:
    return float(world.container.clock().now().timestamp())


@pytest.fixture(scope="module")
def aq(client: Client, world: World) -> Device:
    return register(client, world.a.tokens["editor"], "acme-aq1", world.a.site_id)


@pytest.fixture(scope="module")
def aq_b(client: Client, world: World) -> Device:
    return register(client, world.b.tokens["editor"], "globex-aq1", world.b.site_id)


def viewer(world: World) -> str:
    return world.a.tokens["viewer"]


def test_one_sample_is_stored_and_readable(
    client: Client, world: World, aq: Device, now: float
) -> None:
    reply = send(client, aq, {"timestamp": now - 600, "co2_ppm": 800, "humidity_pct": 40})
    assert reply.status == 202, reply.text
    assert reply.json() == {"accepted": 1, "rejected": []}
    latest = client.get("/v1/devices/acme-aq1/latest", token=viewer(world)).json()
    assert latest["sensor_type"] == "air_quality" and latest["site_id"] == world.a.site_id
    assert latest["values"]["co2_ppm"]["value"] == 800
    assert latest["values"]["co2_ppm"]["epoch"] == now - 600
    assert latest["values"]["co2_ppm"]["timestamp"] == "2026-01-05T07:50:00Z"
    assert latest["timestamp"] == "2026-01-05T07:50:00Z"
    readings = client.get("/v1/devices/acme-aq1/readings", token=viewer(world)).json()
    assert {"timestamp": "2026-01-05T07:50:00Z", "epoch": now - 600,
            "values": {"co2_ppm": 800, "humidity_pct": 40}} in readings["items"]  # fmt: skip
    assert readings["truncated"] is False


def test_batch_with_one_bad_sample(client: Client, world: World, aq: Device, now: float) -> None:
    samples = [
        {"timestamp": now - 900 + i, "co2_ppm": 500 + i, "humidity_pct": 140 if i == 1 else 50}
        for i in range(4)
    ]
    reply = send(client, aq, {"samples": samples})
    assert reply.status == 202, reply.text
    body = reply.json()
    assert body["accepted"] == 3
    [rejected] = body["rejected"]
    assert rejected["index"] == 1 and "humidity_pct" in rejected["reason"]
    letters = client.get("/v1/dead-letters?limit=500", token=viewer(world)).json()["items"]
    mine = [x for x in letters if x["device_id"] == "acme-aq1" and x["index"] == 1]
    assert mine and "humidity_pct" in mine[-1]["reason"] and mine[-1]["source"] == "http"
    assert mine[-1]["reason_code"] == rejected["code"]
    assert mine[-1]["received_at"].endswith("Z")


def test_malformed_json_is_a_dead_letter(client: Client, world: World, aq: Device) -> None:
    reply = send(client, aq, b'{"co2_ppm": 4')
    problem = assert_problem(reply, 422, "all-rejected")
    assert problem["accepted"] == 0
    assert problem["rejected"][0]["code"] == "malformed-json"
    assert problem["rejected"][0]["index"] is None
    letters = client.get("/v1/dead-letters?limit=500", token=viewer(world)).json()["items"]
    assert any(x["reason_code"] == "malformed-json" and x["payload"] == '{"co2_ppm": 4'
               for x in letters)  # fmt: skip


def test_credentials_are_checked(client: Client, world: World, aq: Device) -> None:
    wrong = Device(aq.device_id, aq.username, aq.secret + "x")
    reply = send(client, wrong, {"timestamp": 1})
    assert_problem(reply, 401, "unauthenticated")
    assert reply.headers["WWW-Authenticate"].startswith("Basic")
    missing = client.request("POST", "/v1/ingest", raw=b"{}")
    assert_problem(missing, 401, "unauthenticated")
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    other_tenant = Device(aq.device_id, f"globex:{aq.device_id}", aq.secret)
    assert_problem(send(client, other_tenant, {}), 401)
    # a user's token is not a device's credential, and a device may not use user routes
    user = client.request("POST", "/v1/ingest", raw=b"{}", token=world.a.tokens["admin"])
    assert_problem(user, 403, "permission-denied")
    for path in ("/v1/devices", "/v1/me", "/v1/devices/acme-aq1/latest", "/v1/dead-letters"):
        assert_problem(client.get(path, headers=aq.auth), 403, "permission-denied")


def test_decommissioned_device_is_refused(client: Client, world: World, now: float) -> None:
    old = register(client, world.a.tokens["editor"], "acme-aq-old", world.a.site_id)
    decommission = client.post(
        "/v1/devices/acme-aq-old/decommission", {"reason": "replaced"},
        token=world.a.tokens["editor"],
    )  # fmt: skip
    assert decommission.status == 200, decommission.text
    assert_problem(send(client, old, {"timestamp": now - 60, "co2_ppm": 600}), 401)
    readings = client.get("/v1/devices/acme-aq-old/readings", token=viewer(world)).json()
    assert readings["items"] == []


def test_devices_of_a_suspended_tenant_are_refused(client: Client, world: World) -> None:
    tenant = seed_tenant(world.container, "hooli")
    credentials = world.container.application().execute(
        c.RotateDeviceCredentials(principal=ROOT, tenant_id="hooli", device_id=tenant.device_id)
    )
    device = Device(tenant.device_id, credentials.username, credentials.secret)
    sample = {"timestamp": world.container.clock().now().timestamp() - 5, "temperature_c": 40}
    assert send(client, device, sample).json() == {"accepted": 1, "rejected": []}
    suspend = client.post("/v1/tenants/hooli/suspend", {"reason": "unpaid"},
                          token=world.operator_token)  # fmt: skip
    assert suspend.status == 200, suspend.text
    assert_problem(send(client, device, sample), 403, "permission-denied")


def test_resending_a_batch_is_idempotent(client: Client, world: World, now: float) -> None:
    device = register(client, world.a.tokens["editor"], "acme-aq-idem", world.a.site_id)
    batch = [{"timestamp": now - 300 + i, "co2_ppm": 700 + i} for i in range(5)]
    answers = [send(client, device, batch).json() for _ in range(3)]
    assert answers == [{"accepted": 5, "rejected": []}] * 3
    items = client.get("/v1/devices/acme-aq-idem/readings", token=viewer(world)).json()["items"]
    assert [i["values"]["co2_ppm"] for i in items] == [700, 701, 702, 703, 704]


def test_tenants_never_see_each_other(
    client: Client, world: World, aq: Device, aq_b: Device, now: float
) -> None:
    send(client, aq, {"timestamp": now - 120, "co2_ppm": 900})
    assert send(client, aq_b, {"timestamp": now - 120, "co2_ppm": "x"}).status == 422
    for path in ("/v1/devices/acme-aq1/latest", "/v1/devices/acme-aq1/readings"):
        assert_problem(client.get(path, token=world.b.tokens["viewer"]), 404, "not-found")
    b_letters = client.get("/v1/dead-letters", token=world.b.tokens["viewer"]).json()["items"]
    assert b_letters and all(x["device_id"] == "globex-aq1" for x in b_letters)
    a_letters = client.get("/v1/dead-letters?limit=500", token=viewer(world)).json()["items"]
    assert all(x["device_id"].startswith("acme-") for x in a_letters)
    # a device writes only as itself: a tenant or device named in the body is not obeyed
    spoof = {"timestamp": now - 30, "co2_ppm": 1, "tenant_id": "globex", "device_id": "globex-aq1"}
    assert send(client, aq, spoof).json() == {"accepted": 1, "rejected": []}
    b_latest = client.get("/v1/devices/globex-aq1/latest", token=world.b.tokens["viewer"])
    assert b_latest.json()["values"] == {}
    a_latest = client.get("/v1/devices/acme-aq1/latest", token=viewer(world)).json()
    assert a_latest["values"]["co2_ppm"]["value"] == 1


def test_time_range_parameters(client: Client, world: World, aq: Device, now: float) -> None:
    send(client, aq, {"timestamp": now - 1800, "co2_ppm": 1234})
    base = "/v1/devices/acme-aq1/readings"

    def values(query: str) -> list[Any]:
        reply = client.get(f"{base}?{query}", token=viewer(world))
        assert reply.status == 200, reply.text
        return [i["values"].get("co2_ppm") for i in reply.json()["items"]]

    assert 1234 in values(f"from={quote('2026-01-05T08:20:00+01:00')}&to={now - 1700:.0f}")
    assert 1234 in values(f"from={now - 1801}&to=2026-01-05T07:40:00Z")
    assert 1234 in values("from=2026-01-05T08:20:00+01:00&to=2026-01-05T07:40:00Z")  # + as space
    assert 1234 not in values(f"from={now - 1799}")
    only = client.get(f"{base}?measure=co2_ppm&from={now - 1801}", token=viewer(world)).json()
    assert all(set(i["values"]) == {"co2_ppm"} for i in only["items"])
    limited = client.get(f"{base}?from={now - 3600}&limit=1", token=viewer(world)).json()
    assert len(limited["items"]) == 1 and limited["truncated"] is True
    for bad in ("from=yesterday", "from=2026-01-05T07:00:00", "to=2026-13-40T00:00:00Z",
                f"from={now}&to={now - 1}", f"from={now - 40 * 86400}&to={now}",
                "measure=nope", "limit=0", "limit=10001", "bucket=2m"):  # fmt: skip
        assert_problem(client.get(f"{base}?{bad}", token=viewer(world)), 400, "invalid-query")
    problem = assert_problem(client.get(f"{base}?measure=co2_ppm,rpm", token=viewer(world)), 400)
    assert "rpm" in problem["detail"] and "humidity_pct" in problem["detail"]


def test_bucketed_readings(client: Client, world: World, now: float) -> None:
    device = register(client, world.a.tokens["editor"], "acme-aq-buckets", world.a.site_id)
    start = (now // 3600) * 3600 - 3600  # 07:00
    batch = [{"timestamp": start + 60 * m + s, "co2_ppm": 400 + 10 * m + s}
             for m in range(3) for s in (0, 30)]  # fmt: skip
    assert send(client, device, batch).json()["accepted"] == 6
    path = f"/v1/devices/acme-aq-buckets/readings?from={start:.0f}&to={start + 3600:.0f}"
    reply = client.get(f"{path}&bucket=1m&measure=co2_ppm", token=viewer(world))
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["measure"] == "co2_ppm" and body["bucket"] == "1m" and "items" not in body
    first = body["buckets"][0]
    assert len(body["buckets"]) == 3
    assert first == {"start": "2026-01-05T07:00:00Z", "start_epoch": start, "count": 2,
                     "min": 400, "max": 430, "avg": 415, "sum": 830,
                     "first": 400, "last": 430}  # fmt: skip
    hourly = client.get(f"{path}&bucket=1h&measure=co2_ppm", token=viewer(world)).json()
    assert [b["count"] for b in hourly["buckets"]] == [6]
    for bad in ("&bucket=1m", "&bucket=1m&measure=co2_ppm,humidity_pct"):
        assert_problem(client.get(path + bad, token=viewer(world)), 400, "invalid-query")


def test_body_limit_applies_to_ingest(client: Client, aq: Device) -> None:
    reply = send(client, aq, b"[" + b" " * (1024 * 1024) + b"]")
    assert_problem(reply, 413, "payload-too-large")


def test_metrics_is_404_without_prometheus(client: Client) -> None:
    assert_problem(client.get("/metrics"), 404)


class SlowStore(InMemoryTelemetryStore):
    delay_s = 0.0

    def write(self, samples: Any) -> None:
        time.sleep(self.delay_s)
        super().write(samples)


@pytest.fixture(scope="module")
def prometheus_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A hub with Prometheus metrics, a store that can be slowed down and a one-record queue."""
    container = new_container(tmp_path_factory.mktemp("ingest-prom"))
    tenant = seed_tenant(container, "initech")
    store = SlowStore(registry=container.sensors())
    container.telemetry_store.override(providers.Object(store))
    container.ingest_metrics.override(providers.Singleton(PrometheusIngestMetrics))
    container.ingest_worker.override(
        providers.Singleton(
            IngestWorker, pipeline=container.ingest_pipeline, max_pending=1, max_delay_s=0.0,
            on_batch=container.ingest_worker.kwargs["on_batch"],  # the container's observer
        )
    )  # fmt: skip
    with LiveServer(container, settings=GENEROUS) as server:
        client = Client(server.port)
        device = register(client, tenant.tokens["editor"], "initech-aq1", tenant.site_id)
        yield {"client": client, "device": device, "store": store,
               "now": container.clock().now().timestamp()}  # fmt: skip


def _accepted_total(text: str) -> float:
    match = re.search(r'^smdh_ingest_readings_total\{outcome="accepted"\} (\S+)$', text, re.M)
    return 0.0 if match is None else float(match.group(1))


def test_metrics_count_accepted_readings(prometheus_hub: dict[str, Any]) -> None:
    client, device, now = prometheus_hub["client"], prometheus_hub["device"], prometheus_hub["now"]
    before = _accepted_total(client.get("/metrics").text)
    assert send(client, device, [{"timestamp": now - i, "co2_ppm": 500} for i in (1, 2, 3)])
    send(client, device, {"timestamp": now - 4, "co2_ppm": 500, "humidity_pct": 101})
    reply = client.get("/metrics")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert _accepted_total(reply.text) == before + 3
    assert 'smdh_ingest_readings_total{outcome="out-of-range"} 1.0' in reply.text
    assert "smdh_ingest_queue_depth" in reply.text
    assert "smdh_ingest_latency_seconds_bucket" in reply.text


def test_back_pressure_is_503_with_retry_after(prometheus_hub: dict[str, Any]) -> None:
    client, device, now = prometheus_hub["client"], prometheus_hub["device"], prometheus_hub["now"]
    store: SlowStore = prometheus_hub["store"]
    store.delay_s = 1.0
    first: dict[str, Any] = {}

    def slow_send() -> None:
        first["reply"] = send(client, device, {"timestamp": now - 10, "co2_ppm": 600})

    try:
        worker = threading.Thread(target=slow_send)
        worker.start()
        time.sleep(0.3)  # the first message is being written: the queue is full
        reply = send(client, device, {"timestamp": now - 11, "co2_ppm": 601})
        problem = assert_problem(reply, 503, "ingest-saturated")
        assert int(reply.headers["Retry-After"]) >= 1 and problem["detail"]
        worker.join(timeout=10)
    finally:
        store.delay_s = 0.0
    assert first["reply"].status == 202
    assert send(client, device, {"timestamp": now - 11, "co2_ppm": 601}).status == 202
