"""``DeadLetterStore`` on DynamoDB: one partition per tenant, ids from a per-tenant counter.

Items: ``(tenant HASH, id RANGE)``. ``id = 0`` of each tenant is its counter item
(``last_id``, ``kept``, ``pruned``); letters have ids 1, 2, 3... from an atomic ``ADD`` on
it, so ids only grow and are never reused. The item ``("#all", 0)`` keeps the totals for
``count()`` / ``pruned()`` without a Scan. Past ``max_per_tenant`` the oldest letters of the
tenant are deleted and counted as pruned. The unattributed tenant ``""`` is stored as
``"#none"`` (DynamoDB keys cannot be empty strings).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from smdh.adapters.memory.dead_letters import bounded
from smdh.domain.telemetry import DeadLetter

TOTALS = "#all"
NONE = "#none"


def create_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "tenant", "AttributeType": "S"},
            {"AttributeName": "id", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "tenant", "KeyType": "HASH"},
            {"AttributeName": "id", "KeyType": "RANGE"},
        ],
    )
    client.get_waiter("table_exists").wait(TableName=name)


def _key(tenant_id: str) -> str:
    return tenant_id or NONE


class DynamoDbDeadLetterStore:
    def __init__(self, client: Any, table: str, *, max_per_tenant: int = 100_000) -> None:
        self.client = client
        self.table = table
        self.max_per_tenant = max_per_tenant

    def _bump(self, tenant: str, **amounts: int) -> dict[str, Any]:
        names = {f"#{k}": k for k in amounts}
        values = {f":{k}": {"N": str(v)} for k, v in amounts.items()}
        response = self.client.update_item(
            TableName=self.table,
            Key={"tenant": {"S": tenant}, "id": {"N": "0"}},
            UpdateExpression="ADD " + ", ".join(f"#{k} :{k}" for k in amounts),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        attributes: dict[str, Any] = response.get("Attributes", {})
        return attributes

    def add(self, letters: Sequence[DeadLetter]) -> None:
        by_tenant: dict[str, list[DeadLetter]] = {}
        for letter in letters:
            by_tenant.setdefault(_key(letter.tenant_id), []).append(letter)
        for tenant, group in by_tenant.items():
            counter = self._bump(tenant, last_id=len(group), kept=len(group))
            first = int(counter["last_id"]["N"]) - len(group) + 1
            items = [self._item(tenant, first + i, letter) for i, letter in enumerate(group)]
            for start in range(0, len(items), 25):
                requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                self._batch_write(requests)
            self._bump(TOTALS, kept=len(group))
            excess = int(counter["kept"]["N"]) - self.max_per_tenant
            if excess > 0:
                self._prune(tenant, excess)

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        pending = {self.table: requests}
        for _ in range(10):
            response = self.client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return
        raise RuntimeError("DynamoDB did not accept the dead letters")

    def _prune(self, tenant: str, excess: int) -> None:
        oldest = self._query(tenant, after_id=0, limit=excess)
        for start in range(0, len(oldest), 25):
            keys = [
                {"tenant": {"S": tenant}, "id": {"N": str(i)}}
                for i, _ in oldest[start : start + 25]
            ]
            self._batch_write([{"DeleteRequest": {"Key": key}} for key in keys])
        self._bump(tenant, kept=-len(oldest), pruned=len(oldest))
        self._bump(TOTALS, kept=-len(oldest), pruned=len(oldest))

    @staticmethod
    def _item(tenant: str, letter_id: int, letter: DeadLetter) -> dict[str, Any]:
        letter = bounded(letter)  # the same caps as every other store
        body = {
            "tenant_id": letter.tenant_id,
            "device_id": letter.device_id,
            "source": letter.source,
            "received_at": letter.received_at,
            "reason_code": letter.reason_code,
            "reason": letter.reason,
            "payload": letter.payload,
            "index": letter.index,
        }
        return {
            "tenant": {"S": tenant},
            "id": {"N": str(letter_id)},
            "letter": {"S": json.dumps(body, separators=(",", ":"))},
        }

    def _query(self, tenant: str, *, after_id: int, limit: int) -> list[tuple[int, DeadLetter]]:
        found: list[tuple[int, DeadLetter]] = []
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#t = :t AND #i > :after",
            "ExpressionAttributeNames": {"#t": "tenant", "#i": "id"},
            "ExpressionAttributeValues": {":t": {"S": tenant}, ":after": {"N": str(after_id)}},
            "ConsistentRead": True,
        }
        while len(found) < limit:
            response = self.client.query(Limit=limit - len(found), **arguments)
            for item in response.get("Items", []):
                found.append((int(item["id"]["N"]), DeadLetter(**json.loads(item["letter"]["S"]))))
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            arguments["ExclusiveStartKey"] = last
        return found

    def list(
        self, tenant_id: str, *, after_id: int = 0, limit: int = 100
    ) -> list[tuple[int, DeadLetter]]:
        if after_id < 0 or limit < 1:
            raise ValueError("after_id must be >= 0 and limit >= 1")
        return self._query(_key(tenant_id), after_id=max(after_id, 0), limit=limit)

    def _counter(self, tenant: str, name: str) -> int:
        response = self.client.get_item(
            TableName=self.table,
            Key={"tenant": {"S": tenant}, "id": {"N": "0"}},
            ConsistentRead=True,
        )
        value = response.get("Item", {}).get(name)
        return int(value["N"]) if value else 0

    def count(self, tenant_id: str | None = None) -> int:
        return self._counter(TOTALS if tenant_id is None else _key(tenant_id), "kept")

    def pruned(self, tenant_id: str | None = None) -> int:
        return self._counter(TOTALS if tenant_id is None else _key(tenant_id), "pruned")
