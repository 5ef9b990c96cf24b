"""Device registry and tenant configuration tables: cached reads, versioned writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from smdh.adapters.aws.dynamodb_read_models import (
    DeviceRecord,
    DynamoDbDeviceRegistry,
    DynamoDbTenantConfigs,
    TenantConfig,
    create_device_table,
    create_tenant_table,
)

pytestmark = pytest.mark.integration


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def device(device_id: str, *, tenant: str = "acme", version: int = 1, status: str = "active"):
    return DeviceRecord(
        tenant_id=tenant,
        device_id=device_id,
        sensor_type="machine",
        site_id="hall-1",
        status=status,
        credential_hash="argon2$abc",
        version=version,
    )


@pytest.fixture
def dynamodb(aws_clients: Callable[[str], Any]) -> Any:
    client = aws_clients("dynamodb")
    create_device_table(client, "smdh-devices")
    create_tenant_table(client, "smdh-tenants")
    return client


def count_calls(client: Any, operation: str) -> list[int]:
    counter = [0]

    def count(**_: object) -> None:
        counter[0] += 1

    client.meta.events.register(f"before-call.dynamodb.{operation}", count)
    return counter


def test_steady_state_makes_no_reads_per_reading(dynamodb: Any) -> None:
    clock = FakeClock()
    registry = DynamoDbDeviceRegistry(dynamodb, "smdh-devices", cache_ttl_s=60, clock=clock)
    registry.put_device(device("press-1"))
    gets = count_calls(dynamodb, "GetItem")
    for _ in range(1000):
        assert registry.get_device("acme", "press-1") == device("press-1")
    assert gets == [1]
    clock.now += 61  # after the TTL, one read refreshes the entry
    registry.get_device("acme", "press-1")
    assert gets == [2]


def test_unknown_devices_are_cached_as_misses(dynamodb: Any) -> None:
    registry = DynamoDbDeviceRegistry(dynamodb, "smdh-devices", clock=FakeClock())
    gets = count_calls(dynamodb, "GetItem")
    for _ in range(50):
        assert registry.get_device("acme", "ghost") is None
    assert gets == [1]


def test_lookups_are_scoped_by_tenant(dynamodb: Any) -> None:
    registry = DynamoDbDeviceRegistry(dynamodb, "smdh-devices")
    registry.put_device(device("press-1", tenant="acme"))
    assert registry.get_device("globex", "press-1") is None
    assert registry.get_device("", "press-1") is None
    assert registry.devices_of_tenant("globex") == []


def test_warm_loads_a_whole_tenant_with_queries_only(dynamodb: Any) -> None:
    writer = DynamoDbDeviceRegistry(dynamodb, "smdh-devices")
    for i in range(120):
        writer.put_device(device(f"m-{i:03d}"))
    writer.put_device(device("other", tenant="globex"))
    reader = DynamoDbDeviceRegistry(dynamodb, "smdh-devices")
    gets = count_calls(dynamodb, "GetItem")
    assert reader.warm("acme") == 120
    assert all(reader.get_device("acme", f"m-{i:03d}") is not None for i in range(120))
    assert gets == [0]
    assert [d.device_id for d in reader.devices_of_tenant("globex")] == ["other"]


def test_an_older_version_never_overwrites_a_newer_one(dynamodb: Any) -> None:
    registry = DynamoDbDeviceRegistry(dynamodb, "smdh-devices")
    assert registry.put_device(device("press-1", version=3, status="decommissioned"))
    assert not registry.put_device(device("press-1", version=2))
    stored = registry.get_device("acme", "press-1")
    assert stored is not None
    assert stored.version == 3
    assert not stored.accepts_readings
    assert registry.put_device(device("press-1", version=3, status="decommissioned"))


def test_tenant_configuration_round_trips_and_is_cached(dynamodb: Any) -> None:
    configs = DynamoDbTenantConfigs(dynamodb, "smdh-tenants", clock=FakeClock())
    config = TenantConfig(
        tenant_id="acme",
        name="ACME GmbH",
        status="active",
        settings={"retention_days": 90, "quotas": {"readings_per_s": 500}},
        version=4,
    )
    configs.put_tenant(config)
    gets = count_calls(dynamodb, "GetItem")
    assert configs.get_tenant("acme") == config
    assert configs.get_tenant("acme") == config
    assert gets == [1]
    assert configs.get_tenant("globex") is None
    assert not configs.put_tenant(TenantConfig("acme", "old", "active", version=1))
