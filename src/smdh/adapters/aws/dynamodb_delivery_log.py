"""``DeliveryLog`` on DynamoDB: the dispatcher's delivery rows and cursors survive cold starts.

One table (on-demand), keyed by the delivery's idempotency key alone (``key HASH``), so
``record`` is a conditional put (``attribute_not_exists``) and ``mark_sent`` /
``mark_attempt_failed`` address a row by its key, as the port wants. Two sparse GSIs:

* ``due`` (``queue HASH``, ``due RANGE``): only *pending* rows carry ``queue = "pending"``
  and ``due = "<next attempt>|<created>|<key>"`` (fixed-width UTC ISO text, so string order
  is time order). ``claim_due`` queries it for ``due <= now``, then claims each row with a
  conditional update (still pending, ``next_attempt_at`` unchanged): two dispatchers never
  both claim a row, and a stale index entry (the GSI is eventually consistent) just fails
  its condition. Sent and failed rows drop ``queue``/``due`` and leave the index;
* ``by_tenant`` (``tenant_id HASH``, ``key RANGE``): ``list`` and ``delete_tenant``, always
  scoped by tenant. ``get`` is a consistent GetItem that checks the tenant.

Cursors are items keyed ``#cursor:<name>`` (no tenant, not pending: in neither index);
``set_cursor`` only moves forward (a conditional update). The unit of the table is one row,
so nothing here is hot: a pending queue of a few thousand rows is one partition of the
``due`` index, far below its write limit at alert rates.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from smdh.application.delivery import Delivery, DeliveryStatus

DEFAULT_TABLE = "smdh-deliveries"
TABLE_ENV = "SMDH_DELIVERIES_TABLE"
DUE_INDEX = "due"
TENANT_INDEX = "by_tenant"
PENDING = "pending"
CURSOR_PREFIX = "#cursor:"


def create_table(client: Any, name: str = DEFAULT_TABLE) -> None:
    """The table as the SAM template creates it (tests, local setups)."""
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "key", "AttributeType": "S"},
            {"AttributeName": "tenant_id", "AttributeType": "S"},
            {"AttributeName": "queue", "AttributeType": "S"},
            {"AttributeName": "due", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": DUE_INDEX,
                "KeySchema": [
                    {"AttributeName": "queue", "KeyType": "HASH"},
                    {"AttributeName": "due", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": TENANT_INDEX,
                "KeySchema": [
                    {"AttributeName": "tenant_id", "KeyType": "HASH"},
                    {"AttributeName": "key", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    )
    client.get_waiter("table_exists").wait(TableName=name)


def build(clients: Any, env: Mapping[str, str] | None = None) -> DynamoDbDeliveryLog:
    """The container's ``aws`` builder: table name from ``SMDH_DELIVERIES_TABLE``."""
    values = os.environ if env is None else env
    return DynamoDbDeliveryLog(clients.client("dynamodb"), values.get(TABLE_ENV) or DEFAULT_TABLE)


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _due(next_attempt_at: datetime, created_at: datetime, key: str) -> str:
    return f"{_ts(next_attempt_at)}|{_ts(created_at)}|{key}"


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _to_item(d: Delivery) -> dict[str, Any]:
    item: dict[str, Any] = {
        "key": {"S": d.idempotency_key},
        "tenant_id": {"S": d.tenant_id},
        "alert_id": {"S": d.alert_id},
        "event_type": {"S": d.event_type},
        "channel": {"S": d.channel},
        "recipient": {"S": d.recipient},
        "subject": {"S": d.subject},
        "body": {"S": d.body},
        "payload": {"S": json.dumps(d.payload, default=str, separators=(",", ":"))},
        "status": {"S": d.status.value},
        "attempts": {"N": str(d.attempts)},
        "next_attempt_at": {"S": _ts(d.next_attempt_at)},
        "created_at": {"S": _ts(d.created_at)},
    }
    if d.last_error is not None:
        item["last_error"] = {"S": d.last_error}
    if d.sent_at is not None:
        item["sent_at"] = {"S": _ts(d.sent_at)}
    if d.status is DeliveryStatus.PENDING:
        item["queue"] = {"S": PENDING}
        item["due"] = {"S": _due(d.next_attempt_at, d.created_at, d.idempotency_key)}
    return item


def _from_item(item: Mapping[str, Any]) -> Delivery:
    def text(name: str) -> str | None:
        value = item.get(name)
        return None if value is None else str(value["S"])

    sent_at = text("sent_at")
    return Delivery(
        idempotency_key=item["key"]["S"],
        tenant_id=item["tenant_id"]["S"],
        alert_id=item["alert_id"]["S"],
        event_type=item["event_type"]["S"],
        channel=item["channel"]["S"],
        recipient=item["recipient"]["S"],
        subject=item["subject"]["S"],
        body=item["body"]["S"],
        payload=json.loads(item["payload"]["S"]),
        status=DeliveryStatus(item["status"]["S"]),
        attempts=int(item["attempts"]["N"]),
        last_error=text("last_error"),
        next_attempt_at=datetime.fromisoformat(item["next_attempt_at"]["S"]),
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        sent_at=None if sent_at is None else datetime.fromisoformat(sent_at),
    )


class DynamoDbDeliveryLog:
    """Deliveries and dispatcher cursors in one DynamoDB table; safe across processes."""

    def __init__(self, client: Any, table: str = DEFAULT_TABLE) -> None:
        self.client = client
        self.table = table

    # --- writing ------------------------------------------------------------------------

    def record(self, deliveries: Sequence[Delivery]) -> int:
        added = 0
        for delivery in deliveries:
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=_to_item(delivery),
                    ConditionExpression="attribute_not_exists(#k)",
                    ExpressionAttributeNames={"#k": "key"},
                )
            except ClientError as error:
                if not _conditional_failed(error):
                    raise
                continue  # derived again after a crash or by another dispatcher: kept as is
            added += 1
        return added

    def claim_due(self, now: datetime, lease_s: float, limit: int = 100) -> list[Delivery]:
        until = now + timedelta(seconds=lease_s)
        candidates = self._query(
            IndexName=DUE_INDEX,
            KeyConditionExpression="#q = :q AND #d <= :upper",
            ExpressionAttributeNames={"#q": "queue", "#d": "due"},
            ExpressionAttributeValues={":q": {"S": PENDING}, ":upper": {"S": _ts(now) + "|~"}},
            limit=limit,
        )
        claimed: list[Delivery] = []
        for item in candidates:
            row = _from_item(item)
            try:
                response = self.client.update_item(
                    TableName=self.table,
                    Key={"key": {"S": row.idempotency_key}},
                    UpdateExpression="SET #a = #a + :one, #n = :until, #d = :due",
                    ConditionExpression="#s = :pending AND #n = :seen",
                    ExpressionAttributeNames={
                        "#a": "attempts", "#n": "next_attempt_at", "#d": "due", "#s": "status",
                    },
                    ExpressionAttributeValues={
                        ":one": {"N": "1"},
                        ":until": {"S": _ts(until)},
                        ":due": {"S": _due(until, row.created_at, row.idempotency_key)},
                        ":pending": {"S": DeliveryStatus.PENDING.value},
                        ":seen": {"S": _ts(row.next_attempt_at)},
                    },
                    ReturnValues="ALL_NEW",
                )  # fmt: skip
            except ClientError as error:
                if not _conditional_failed(error):
                    raise
                continue  # claimed, sent or rescheduled meanwhile (or a stale index entry)
            claimed.append(_from_item(response["Attributes"]))
        return claimed

    def mark_sent(self, key: str, at: datetime) -> None:
        self._update(
            key,
            "SET #s = :s, #t = :t REMOVE #e, #q, #d",
            {"#s": "status", "#t": "sent_at", "#e": "last_error", "#q": "queue", "#d": "due"},
            {":s": {"S": DeliveryStatus.SENT.value}, ":t": {"S": _ts(at)}},
        )

    def mark_attempt_failed(self, key: str, error: str, retry_at: datetime | None) -> None:
        if retry_at is None:
            self._update(
                key,
                "SET #s = :s, #e = :e REMOVE #q, #d",
                {"#s": "status", "#e": "last_error", "#q": "queue", "#d": "due"},
                {":s": {"S": DeliveryStatus.FAILED.value}, ":e": {"S": error}},
            )
            return
        current = self._get(key)
        if current is None:
            return
        self._update(
            key,
            "SET #e = :e, #n = :n, #d = :d",
            {"#e": "last_error", "#n": "next_attempt_at", "#d": "due"},
            {
                ":e": {"S": error},
                ":n": {"S": _ts(retry_at)},
                ":d": {"S": _due(retry_at, current.created_at, key)},
            },
        )

    def _update(
        self, key: str, expression: str, names: dict[str, str], values: dict[str, Any]
    ) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"key": {"S": key}},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(#k)",
                ExpressionAttributeNames={"#k": "key", **names},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise  # an unknown key (deleted with its tenant) is left alone

    # --- reading ------------------------------------------------------------------------

    def _get(self, key: str) -> Delivery | None:
        item = self.client.get_item(
            TableName=self.table, Key={"key": {"S": key}}, ConsistentRead=True
        ).get("Item")
        return None if item is None or "tenant_id" not in item else _from_item(item)

    def get(self, tenant_id: str, key: str) -> Delivery | None:
        found = self._get(key)
        return found if found is not None and found.tenant_id == tenant_id else None

    def list(
        self,
        tenant_id: str,
        *,
        status: DeliveryStatus | None = None,
        after_key: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        if not tenant_id or limit < 1:
            return []
        names = {"#t": "tenant_id"}
        values: dict[str, Any] = {":t": {"S": tenant_id}}
        condition = "#t = :t"
        if after_key:
            condition += " AND #k > :after"
            names["#k"] = "key"
            values[":after"] = {"S": after_key}
        params: dict[str, Any] = {
            "IndexName": TENANT_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if status is not None:
            params["FilterExpression"] = "#s = :s"
            names["#s"] = "status"
            values[":s"] = {"S": status.value}
        return [_from_item(item) for item in self._query(limit=limit, **params)]

    def _query(self, *, limit: int | None = None, **params: Any) -> Iterator[dict[str, Any]]:
        """Items of a Query across pages (a filter may leave pages short); at most ``limit``."""
        returned = 0
        start: Mapping[str, Any] | None = None
        while limit is None or returned < limit:
            page = dict(params, TableName=self.table)
            if limit is not None:
                page["Limit"] = max(limit - returned, 1)
            if start is not None:
                page["ExclusiveStartKey"] = start
            response = self.client.query(**page)
            for item in response.get("Items", []):
                if limit is not None and returned >= limit:
                    return
                yield item
                returned += 1
            start = response.get("LastEvaluatedKey")
            if start is None:
                return

    # --- cursors ------------------------------------------------------------------------

    def cursor(self, name: str) -> int:
        item = self.client.get_item(
            TableName=self.table, Key={"key": {"S": CURSOR_PREFIX + name}}, ConsistentRead=True
        ).get("Item")
        return int(item["position"]["N"]) if item and "position" in item else 0

    def set_cursor(self, name: str, position: int) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"key": {"S": CURSOR_PREFIX + name}},
                UpdateExpression="SET #p = :p",
                ConditionExpression="attribute_not_exists(#p) OR #p < :p",
                ExpressionAttributeNames={"#p": "position"},
                ExpressionAttributeValues={":p": {"N": str(position)}},
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise  # already at or past ``position``: cursors only move forward

    # --- erasure ------------------------------------------------------------------------

    def delete_tenant(self, tenant_id: str) -> int:
        if not tenant_id:
            return 0
        keys = [
            item["key"]["S"]
            for item in self._query(
                IndexName=TENANT_INDEX,
                KeyConditionExpression="#t = :t",
                ExpressionAttributeNames={"#t": "tenant_id", "#k": "key"},
                ExpressionAttributeValues={":t": {"S": tenant_id}},
                ProjectionExpression="#k",
            )
        ]
        for start in range(0, len(keys), 25):
            pending: dict[str, Any] = {
                self.table: [
                    {"DeleteRequest": {"Key": {"key": {"S": key}}}}
                    for key in keys[start : start + 25]
                ]
            }
            for attempt in range(10):
                response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise RuntimeError("DynamoDB did not accept the deletion of deliveries")
        return len(keys)
