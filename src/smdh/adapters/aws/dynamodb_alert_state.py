"""``EvaluationStateStore`` on DynamoDB: the evaluator's memory survives Lambda cold starts.

Without it every new execution environment starts the evaluator empty: a duration rule's
pending time, statistics and devices' last-seen times would be lost (the alert board in
the event store still prevents a second alert, but an absence alert or a ``for 5 min``
rule would start counting again). One table (on-demand), one item per key:

* ``pk = "rule#<key>"``: one (rule, device) evaluation state, ``data`` = its JSON;
* ``pk = "seen#<key>"``: one device's last-seen entry, ``data`` = its JSON;
* ``pk = "meta"``: ``saved_at`` (epoch seconds of the last save).

The keys are spread over many partitions (the hash is the state key), so the writes of
concurrent ingest functions (one per shard) do not meet on a hot item. ``save`` writes only
what changed (the service passes just those keys), 25 items per ``BatchWriteItem``,
retrying unprocessed items with back-off. ``load`` (once per cold start) is a paginated,
consistent Scan. A save is not one transaction: a cold start may read half of a save that
was cut off, which is as good as a slightly older snapshot, because the service reconciles
episodes and raised flags with the alert board (the event store is the truth) on start.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

from smdh.application.alerting import StateSnapshot

DEFAULT_TABLE = "smdh-alert-state"
TABLE_ENV = "SMDH_ALERT_STATE_TABLE"
RULE = "rule#"
SEEN = "seen#"
META = "meta"
BATCH = 25


def create_table(client: Any, name: str = DEFAULT_TABLE) -> None:
    """The table as the SAM template creates it (tests, local setups)."""
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    client.get_waiter("table_exists").wait(TableName=name)


def build(clients: Any, env: Mapping[str, str] | None = None) -> DynamoDbEvaluationStateStore:
    """The container's ``aws`` builder: table name from ``SMDH_ALERT_STATE_TABLE``."""
    values = os.environ if env is None else env
    return DynamoDbEvaluationStateStore(
        clients.client("dynamodb"), values.get(TABLE_ENV) or DEFAULT_TABLE
    )


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


class DynamoDbEvaluationStateStore:
    def __init__(self, client: Any, table: str = DEFAULT_TABLE, *, max_attempts: int = 10) -> None:
        self.client = client
        self.table = table
        self._max_attempts = max_attempts

    def load(self) -> StateSnapshot:
        rules: dict[str, Mapping[str, Any]] = {}
        seen: dict[str, list[Any]] = {}
        saved_at: float | None = None
        params: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
        while True:
            response = self.client.scan(**params)
            for item in response.get("Items", []):
                pk = str(item["pk"]["S"])
                if pk == META:
                    saved_at = float(item["saved_at"]["N"])
                elif pk.startswith(RULE):
                    rules[pk.removeprefix(RULE)] = json.loads(item["data"]["S"])
                elif pk.startswith(SEEN):
                    seen[pk.removeprefix(SEEN)] = json.loads(item["data"]["S"])
            start = response.get("LastEvaluatedKey")
            if not start:
                return StateSnapshot(rules, seen, saved_at)
            params["ExclusiveStartKey"] = start

    def save(
        self,
        rules: Mapping[str, Mapping[str, Any] | None],
        last_seen: Mapping[str, list[Any]],
        saved_at: float,
    ) -> None:
        requests: list[dict[str, Any]] = []
        for key, data in rules.items():
            pk = {"S": RULE + key}
            if data is None:
                requests.append({"DeleteRequest": {"Key": {"pk": pk}}})
            else:
                requests.append({"PutRequest": {"Item": {"pk": pk, "data": {"S": _json(data)}}}})
        for key, entry in last_seen.items():
            item = {"pk": {"S": SEEN + key}, "data": {"S": _json(entry)}}
            requests.append({"PutRequest": {"Item": item}})
        meta = {"pk": {"S": META}, "saved_at": {"N": repr(float(saved_at))}}
        requests.append({"PutRequest": {"Item": meta}})
        for start in range(0, len(requests), BATCH):
            self._write(requests[start : start + BATCH])

    def _write(self, requests: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table: requests}
        for attempt in range(self._max_attempts):
            response = self.client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(min(0.05 * 2**attempt, 2.0))
        raise RuntimeError("DynamoDB did not accept the alert evaluation state")
