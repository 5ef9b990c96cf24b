"""``EventStore`` on DynamoDB: one item per event, conditional writes, a global position.

Table layout (one table, on-demand capacity):

* each event is an item keyed ``(aggregate_id HASH, version RANGE)``, written with
  ``attribute_not_exists(version)``: a second writer of the same version fails its condition
  and the append becomes ``ConcurrencyConflict``, never an overwrite;
* **global order.** DynamoDB has no global order, so the store keeps one counter item
  (``aggregate_id = "#position"``, ``version = 0``; '#' is not allowed in our ids). Every
  append is one ``TransactWriteItems``: the counter's update from P to P+n (conditioned on
  still being P) plus the n conditional puts carrying positions P+1..P+n. Positions are
  therefore dense, strictly increasing and committed in order. A transaction that lost only
  the counter race (or a ``TransactionConflict``) is retried with fresh reads; a failed
  version condition is a ``ConcurrencyConflict``. The price is one hot item: all appends
  are serialized through it (tens to a few hundred appends per second). That is ample for
  domain events (tenants, devices, rules, alert transitions) of 30-100 tenants; readings
  never go through the event store (they take the TelemetryStore/Kinesis path);
* ``read_all()`` queries the sparse GSI ``by_position`` (``log HASH`` = the constant "all",
  ``position RANGE``). One constant partition caps index writes near 1000 items/s, again far
  above the domain-event rate, and gives ordered, paginated reads without a Scan. A GSI is
  eventually consistent, so the reader returns only the gap-free run of positions after
  ``after_position``: an event committed but not yet visible in the index ends the page,
  and a projection catching up never skips it;
* ``read_all(tenant_id=...)`` queries the GSI ``by_tenant`` (``tenant_id HASH``,
  ``position RANGE``). Positions are not dense per tenant, so this read (tenant listings,
  audit) may lag the base table by the index's propagation delay; projections use the
  unscoped read.

Limits: a transaction holds at most 100 items, so one append takes at most 99 events
(atomicity across aggregates is part of the contract, so larger appends are refused with
``AppendTooLarge`` rather than split); an item is at most 400 KB.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smdh.adapters.memory.event_store import check_limit, check_versions, group_versions
from smdh.adapters.serialization import EventSerializer, SerializedEvent
from smdh.application.ports import StoredEvent
from smdh.domain.shared.errors import ConcurrencyConflict
from smdh.domain.shared.events import DomainEvent

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COUNTER_ID = "#position"
LOG_PARTITION = "all"
BY_POSITION = "by_position"
BY_TENANT = "by_tenant"
MAX_TRANSACTION_ITEMS = 100
MAX_EVENTS_PER_APPEND = MAX_TRANSACTION_ITEMS - 1  # one item is the position counter
MAX_ITEM_BYTES = 400 * 1024

_NAMES = {"#v": "version", "#p": "position", "#d": "data", "#l": "log", "#t": "tenant_id"}


class AppendTooLarge(ValueError):
    """An append that cannot be one DynamoDB transaction (too many events or bytes)."""


def create_table(client: DynamoDBClient, name: str) -> None:
    """Create the event table with both GSIs (on-demand) and wait until it is active."""
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "aggregate_id", "AttributeType": "S"},
            {"AttributeName": "version", "AttributeType": "N"},
            {"AttributeName": "tenant_id", "AttributeType": "S"},
            {"AttributeName": "position", "AttributeType": "N"},
            {"AttributeName": "log", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "aggregate_id", "KeyType": "HASH"},
            {"AttributeName": "version", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": BY_POSITION,
                "KeySchema": [
                    {"AttributeName": "log", "KeyType": "HASH"},
                    {"AttributeName": "position", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": BY_TENANT,
                "KeySchema": [
                    {"AttributeName": "tenant_id", "KeyType": "HASH"},
                    {"AttributeName": "position", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    )
    client.get_waiter("table_exists").wait(TableName=name)


class DynamoDbEventStore:
    """Event streams in one DynamoDB table; safe to share between threads and processes."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        serializer: EventSerializer,
        *,
        max_attempts: int = 12,
        base_delay_s: float = 0.01,
    ) -> None:
        self._client = client
        self._table = table_name
        self._serializer = serializer
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s

    def with_serializer(self, serializer: EventSerializer) -> DynamoDbEventStore:
        """The same table decoded by other code (upcasting, unknown types)."""
        return DynamoDbEventStore(
            self._client,
            self._table,
            serializer,
            max_attempts=self._max_attempts,
            base_delay_s=self._base_delay_s,
        )

    # --- writing ------------------------------------------------------------------------

    def append(self, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        if len(events) > MAX_EVENTS_PER_APPEND:
            raise AppendTooLarge(
                f"an append of {len(events)} events cannot be one DynamoDB transaction "
                f"(at most {MAX_EVENTS_PER_APPEND} events per append)"
            )
        records = [self._serializer.serialize(event) for event in events]
        for record in records:
            if len(record.data.encode()) > MAX_ITEM_BYTES - 2048:
                raise AppendTooLarge(
                    f"event {record.aggregate_id!r} v{record.version} is larger than "
                    "a DynamoDB item (400 KB)"
                )
        grouped = group_versions(records)
        for attempt in range(1, self._max_attempts + 1):
            for aggregate_id, versions in grouped.items():
                check_versions(aggregate_id, self.current_version(aggregate_id), versions)
            counter = self._counter()
            try:
                self._client.transact_write_items(TransactItems=self._transaction(records, counter))
                return
            except ClientError as error:
                self._raise_unless_retryable(error, records)
            if attempt < self._max_attempts:
                cap = self._base_delay_s * 2 ** min(attempt, 8)
                time.sleep(random.uniform(0, cap))  # noqa: S311  (jitter, not crypto)
        raise ConcurrencyConflict(
            f"could not assign global positions after {self._max_attempts} attempts "
            "(the position counter is contended); retry the command"
        )

    def _counter(self) -> int:
        item = self._client.get_item(
            TableName=self._table,
            Key={"aggregate_id": {"S": COUNTER_ID}, "version": {"N": "0"}},
            ConsistentRead=True,
        ).get("Item")
        return int(item["position"]["N"]) if item and "position" in item else 0

    def _transaction(self, records: Sequence[SerializedEvent], counter: int) -> list[Any]:
        if counter == 0:
            condition = "attribute_not_exists(#p)"
            values: dict[str, Any] = {":n": {"N": str(len(records))}}
        else:
            condition = "#p = :p"
            values = {":n": {"N": str(counter + len(records))}, ":p": {"N": str(counter)}}
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"aggregate_id": {"S": COUNTER_ID}, "version": {"N": "0"}},
                    "UpdateExpression": "SET #p = :n",
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#p": "position"},
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        for offset, record in enumerate(records, start=1):
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _to_item(record, counter + offset),
                        "ConditionExpression": "attribute_not_exists(#v)",
                        "ExpressionAttributeNames": {"#v": "version"},
                        "ReturnValuesOnConditionCheckFailure": "NONE",
                    }
                }
            )
        return items

    def _raise_unless_retryable(
        self, error: ClientError, records: Sequence[SerializedEvent]
    ) -> None:
        code = error.response.get("Error", {}).get("Code", "")
        if code != "TransactionCanceledException":
            raise error
        reasons = _cancellation_reasons(error)
        for index, reason in enumerate(reasons):
            if index >= 1 and reason == "ConditionalCheckFailed":
                record = records[index - 1]
                raise ConcurrencyConflict(
                    f"aggregate {record.aggregate_id!r} already has version {record.version}"
                    " (another writer appended first)"
                ) from error
        retryable = {"None", "ConditionalCheckFailed", "TransactionConflict"}
        if reasons and not set(reasons) <= retryable:
            raise error
        # the counter moved or another transaction held an item: read again and retry

    # --- reading ------------------------------------------------------------------------

    def load(self, aggregate_id: str, after_version: int = 0) -> list[DomainEvent]:
        if not aggregate_id:
            return []
        items = self._query(
            KeyConditionExpression="aggregate_id = :a AND #v > :v",
            ExpressionAttributeNames={"#v": "version"},
            ExpressionAttributeValues={
                ":a": {"S": aggregate_id},
                ":v": {"N": str(max(after_version, 0))},
            },
            ConsistentRead=True,
        )
        return [self._serializer.deserialize(_from_item(item)) for item in items]

    def current_version(self, aggregate_id: str) -> int:
        if not aggregate_id:
            return 0
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="aggregate_id = :a AND #v > :zero",
            ExpressionAttributeNames={"#v": "version"},
            ExpressionAttributeValues={":a": {"S": aggregate_id}, ":zero": {"N": "0"}},
            ProjectionExpression="#v",
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        found = response.get("Items", [])
        return int(found[0]["version"]["N"]) if found else 0

    def read_all(
        self, after_position: int = 0, limit: int = 1000, tenant_id: str | None = None
    ) -> list[StoredEvent]:
        check_limit(limit)
        after = max(after_position, 0)
        if tenant_id is None:
            index, key, value = BY_POSITION, "#l", LOG_PARTITION
        elif not tenant_id:
            return []  # an empty key value is invalid in DynamoDB and matches no tenant
        else:
            index, key, value = BY_TENANT, "#t", tenant_id
        items = self._query(
            IndexName=index,
            KeyConditionExpression=f"{key} = :k AND #p > :after",
            ExpressionAttributeNames={key: _NAMES[key], "#p": "position"},
            ExpressionAttributeValues={":k": {"S": value}, ":after": {"N": str(after)}},
            limit=limit,
        )
        result: list[StoredEvent] = []
        expected = after + 1
        for item in items:
            position = int(item["position"]["N"])
            if tenant_id is None and position != expected:
                break  # a committed event not yet in the index: stop before the gap
            expected = position + 1
            result.append(StoredEvent(position, self._serializer.deserialize(_from_item(item))))
        return result

    def _query(self, *, limit: int | None = None, **params: Any) -> Iterator[dict[str, Any]]:
        """All items of a Query, following ``LastEvaluatedKey``; at most ``limit``."""
        returned = 0
        start_key: Mapping[str, Any] | None = None
        while True:
            page_params = dict(params, TableName=self._table)
            if limit is not None:
                page_params["Limit"] = limit - returned
            if start_key is not None:
                page_params["ExclusiveStartKey"] = start_key
            response: Mapping[str, Any] = self._client.query(**page_params)
            for item in response.get("Items", []):
                yield item
                returned += 1
            start_key = response.get("LastEvaluatedKey")
            if start_key is None or (limit is not None and returned >= limit):
                return


def _cancellation_reasons(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons")
    if reasons is None:  # older botocore/moto: parse "[None, ConditionalCheckFailed]"
        message = error.response.get("Error", {}).get("Message", "")
        inside = message[message.find("[") + 1 : message.rfind("]")]
        return [part.strip() for part in inside.split(",") if part.strip()]
    return [str(reason.get("Code", "None")) for reason in reasons]


def _to_item(record: SerializedEvent, position: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "aggregate_id": {"S": record.aggregate_id},
        "version": {"N": str(record.version)},
        "position": {"N": str(position)},
        "log": {"S": LOG_PARTITION},
        "tenant_id": {"S": record.tenant_id},
        "event_type": {"S": record.event_type},
        "schema_version": {"N": str(record.schema_version)},
        "occurred_at": {"S": record.occurred_at},
        "actor": {"S": record.actor},
        "data": {"S": record.data},
    }
    if not record.tenant_id:  # an index key cannot be empty: keep it out of by_tenant
        del item["tenant_id"]
    return item


def _from_item(item: Mapping[str, Any]) -> SerializedEvent:
    return SerializedEvent(
        aggregate_id=item["aggregate_id"]["S"],
        version=int(item["version"]["N"]),
        tenant_id=item.get("tenant_id", {}).get("S", ""),
        event_type=item["event_type"]["S"],
        schema_version=int(item["schema_version"]["N"]),
        occurred_at=item["occurred_at"]["S"],
        actor=item["actor"]["S"],
        data=item["data"]["S"],
    )
