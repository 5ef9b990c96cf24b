"""Read models in DynamoDB for the Lambda ingest path: device registry, tenant configuration.

The projections write here (``put_*``) as they follow the event store; the ingest Lambda
reads through an in-process cache that lives as long as the Lambda execution environment,
so in steady state a reading costs no DynamoDB read at all: the first reading of a device
after a cold start costs one ``GetItem`` (or one ``Query`` for all of its tenant's devices
with ``warm``), later ones are dictionary lookups until ``cache_ttl_s`` expires. Misses are
cached too (shorter TTL), so a flood of readings from an unknown device cannot turn into a
flood of reads.

Tables (on-demand): devices ``(tenant_id HASH, device_id RANGE)``, so every lookup names
the tenant and ``devices_of_tenant`` is one paginated Query; tenants ``(tenant_id HASH)``.
Writes are conditional on the projection version (``version`` only grows), so a replayed or
out-of-order projection update never overwrites a newer entry.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

T = TypeVar("T")


@attrs.frozen
class DeviceRecord:
    tenant_id: str
    device_id: str
    sensor_type: str
    site_id: str
    status: str  # "active" | "decommissioned"
    credential_hash: str
    version: int = 0

    @property
    def accepts_readings(self) -> bool:
        return self.status == "active"


@attrs.frozen
class TenantConfig:
    tenant_id: str
    name: str
    status: str
    settings: Mapping[str, Any] = attrs.field(factory=dict)  # retention, quotas, ... (JSON)
    version: int = 0


def create_device_table(client: DynamoDBClient, name: str) -> None:
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "tenant_id", "AttributeType": "S"},
            {"AttributeName": "device_id", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "tenant_id", "KeyType": "HASH"},
            {"AttributeName": "device_id", "KeyType": "RANGE"},
        ],
    )
    client.get_waiter("table_exists").wait(TableName=name)


def create_tenant_table(client: DynamoDBClient, name: str) -> None:
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "tenant_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "tenant_id", "KeyType": "HASH"}],
    )
    client.get_waiter("table_exists").wait(TableName=name)


class _TtlCache(Generic[T]):
    def __init__(self, ttl_s: float, miss_ttl_s: float, clock: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._miss_ttl_s = miss_ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, ...], tuple[float, T | None]] = {}

    def get(self, key: tuple[str, ...]) -> tuple[bool, T | None]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= self._clock():
                return False, None
            return True, entry[1]

    def put(self, key: tuple[str, ...], value: T | None) -> None:
        ttl = self._ttl_s if value is not None else self._miss_ttl_s
        with self._lock:
            self._entries[key] = (self._clock() + ttl, value)

    def drop(self, key: tuple[str, ...]) -> None:
        with self._lock:
            self._entries.pop(key, None)


def _put_if_newer(client: DynamoDBClient, table: str, item: dict[str, Any]) -> bool:
    """Write ``item`` unless the stored one has a higher version; True if written."""
    try:
        client.put_item(
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(#v) OR #v <= :v",
            ExpressionAttributeNames={"#v": "version"},
            ExpressionAttributeValues={":v": item["version"]},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


class DynamoDbDeviceRegistry:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        cache_ttl_s: float = 300.0,
        miss_ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table_name
        self._cache: _TtlCache[DeviceRecord] = _TtlCache(cache_ttl_s, miss_ttl_s, clock)

    def put_device(self, record: DeviceRecord) -> bool:
        """Store ``record`` unless a newer version is stored; True if it was written."""
        item = {
            "tenant_id": {"S": record.tenant_id},
            "device_id": {"S": record.device_id},
            "sensor_type": {"S": record.sensor_type},
            "site_id": {"S": record.site_id},
            "status": {"S": record.status},
            "credential_hash": {"S": record.credential_hash},
            "version": {"N": str(record.version)},
        }
        written = _put_if_newer(self._client, self._table, item)
        self._cache.drop((record.tenant_id, record.device_id))
        return written

    def get_device(self, tenant_id: str, device_id: str) -> DeviceRecord | None:
        if not tenant_id or not device_id:
            return None
        key = (tenant_id, device_id)
        hit, cached = self._cache.get(key)
        if hit:
            return cached
        item = self._client.get_item(
            TableName=self._table,
            Key={"tenant_id": {"S": tenant_id}, "device_id": {"S": device_id}},
        ).get("Item")
        record = _device(item) if item else None
        self._cache.put(key, record)
        return record

    def devices_of_tenant(self, tenant_id: str) -> list[DeviceRecord]:
        if not tenant_id:
            return []
        records: list[DeviceRecord] = []
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="tenant_id = :t",
            ExpressionAttributeValues={":t": {"S": tenant_id}},
        ):
            records += [_device(item) for item in page.get("Items", [])]
        return records

    def warm(self, tenant_id: str) -> int:
        """Cache all devices of a tenant with one paginated Query; returns how many."""
        records = self.devices_of_tenant(tenant_id)
        for record in records:
            self._cache.put((record.tenant_id, record.device_id), record)
        return len(records)

    def invalidate(self, tenant_id: str, device_id: str) -> None:
        self._cache.drop((tenant_id, device_id))


class DynamoDbTenantConfigs:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        cache_ttl_s: float = 300.0,
        miss_ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table_name
        self._cache: _TtlCache[TenantConfig] = _TtlCache(cache_ttl_s, miss_ttl_s, clock)

    def put_tenant(self, config: TenantConfig) -> bool:
        item = {
            "tenant_id": {"S": config.tenant_id},
            "name": {"S": config.name},
            "status": {"S": config.status},
            "settings": {"S": json.dumps(dict(config.settings), sort_keys=True)},
            "version": {"N": str(config.version)},
        }
        written = _put_if_newer(self._client, self._table, item)
        self._cache.drop((config.tenant_id,))
        return written

    def get_tenant(self, tenant_id: str) -> TenantConfig | None:
        if not tenant_id:
            return None
        hit, cached = self._cache.get((tenant_id,))
        if hit:
            return cached
        item = self._client.get_item(
            TableName=self._table, Key={"tenant_id": {"S": tenant_id}}
        ).get("Item")
        config = (
            TenantConfig(
                tenant_id=item["tenant_id"]["S"],
                name=item["name"]["S"],
                status=item["status"]["S"],
                settings=json.loads(item["settings"]["S"]),
                version=int(item["version"]["N"]),
            )
            if item
            else None
        )
        self._cache.put((tenant_id,), config)
        return config


def _device(item: Mapping[str, Any]) -> DeviceRecord:
    return DeviceRecord(
        tenant_id=item["tenant_id"]["S"],
        device_id=item["device_id"]["S"],
        sensor_type=item["sensor_type"]["S"],
        site_id=item["site_id"]["S"],
        status=item["status"]["S"],
        credential_hash=item["credential_hash"]["S"],
        version=int(item["version"]["N"]),
    )
