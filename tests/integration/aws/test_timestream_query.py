"""The Timestream query side with recorded response pages injected into moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from smdh.adapters.aws.timestream_query import (
    TimestreamReader,
    aggregate_sql,
    latest_sql,
    parse_page,
    quote_identifier,
    quote_literal,
    range_sql,
)
from smdh.domain.telemetry import Bucket, MeasurePoint
from tests.integration.aws.conftest import REGION
from tests.integration.aws.timestream_support import DATABASE, NOW, make_store

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).parents[2] / "fixtures" / "timestream"
START = NOW.timestamp() - 3600


def pages(name: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((FIXTURES / name).read_text())["pages"]
    return loaded


def inject(moto_server: str, sql: str | None, results: list[dict[str, Any]]) -> None:
    body = {"account_id": "123456789012", "region": REGION, "results": {sql or "null": results}}
    response = requests.post(
        f"{moto_server}/moto-api/static/timestream/query-results", json=body, timeout=10
    )
    response.raise_for_status()


@pytest.fixture
def store(aws_clients: Callable[[str], Any]) -> Any:
    built, _recorder, _letters, _clock = make_store(aws_clients)
    return built


def test_pagination_follows_next_token_through_empty_pages(
    store: Any, moto_server: str, aws_clients: Callable[[str], Any]
) -> None:
    sql = range_sql(DATABASE, "machine_telemetry", "tenant-a", "m1", START, NOW.timestamp())
    inject(moto_server, sql, pages("range_pages.json"))
    calls: list[dict[str, Any]] = []
    reader = TimestreamReader(aws_clients("timestream-query"))
    reader.client.meta.events.register(
        "provide-client-params.timestream-query.Query", lambda params, **_: calls.append(params)
    )
    rows = reader.query(sql)
    assert reader.calls == 4 and len(rows) == 3
    assert [c.get("NextToken") for c in calls] == [None, "AYABeEmpty1", "AYABeMore2", "AYABeEmpty3"]
    assert rows[1]["time"] == pytest.approx(NOW.timestamp() - 600 + 1.25)
    assert rows[1]["power_watts"] is None and rows[0]["cycle_count"] == 7


def test_query_range_builds_samples_from_pages(store: Any, moto_server: str) -> None:
    sql = range_sql(DATABASE, "machine_telemetry", "tenant-a", "m1", START, NOW.timestamp())
    inject(moto_server, sql, pages("range_pages.json"))
    got = store.query_range("tenant-a", "m1", START, NOW.timestamp())
    assert [s.timestamp for s in got] == [
        NOW.timestamp() - 600,
        NOW.timestamp() - 598.75,
        NOW.timestamp() - 598,
    ]
    assert got[0].values == {
        "cycle_count": 7,
        "power_watts": 100.0,
        "state": "running",
        "temperature_c": 40.5,
    }
    assert got[1].values == {"cycle_count": 8, "state": "idle"}
    assert type(got[2].values["power_watts"]) is float
    assert (got[0].tenant_id, got[0].site_id, got[0].sensor_type) == (
        "tenant-a",
        "site-1",
        "machine",
    )


def test_latest_takes_each_measures_newest_value(store: Any, moto_server: str) -> None:
    since = NOW.timestamp() - 720 * 3600
    sql = latest_sql(DATABASE, "machine_telemetry", "tenant-a", "m1", since)
    inject(moto_server, sql, pages("range_pages.json"))
    latest = {p.measure: p for p in store.latest("tenant-a", "m1")}
    assert latest["state"] == MeasurePoint("state", NOW.timestamp() - 598.75, "idle")
    assert latest["power_watts"] == MeasurePoint("power_watts", NOW.timestamp() - 598, 250.0)
    assert latest["cycle_count"].value == 8


def test_aggregate_parses_buckets(store: Any, moto_server: str) -> None:
    end = NOW.timestamp()
    sql = aggregate_sql(
        DATABASE, "machine_telemetry", "tenant-a", "m1", "power_watts", START, end, 60
    )
    inject(moto_server, sql, pages("aggregate_pages.json"))
    got = store.aggregate("tenant-a", "m1", "power_watts", START, end, 60)
    assert got[0] == Bucket(NOW.timestamp() - 600, 3, 1.0, 5.0, 9.0, 1.0, 3.0)
    assert len(got) == 2
    assert "bin(time, 60s)" in sql and '"power_watts" IS NOT NULL' in sql
    with pytest.raises(ValueError, match="not numeric"):
        store.aggregate("tenant-a", "m1", "state", START, end, 60)
    with pytest.raises(ValueError, match="bucket_seconds"):
        store.aggregate("tenant-a", "m1", "power_watts", START, end, 0)


def test_every_datum_kind_is_parsed() -> None:
    (row,) = parse_page(pages("datum_kinds.json")[0])
    assert row["device_id"] == "m1"
    assert row["readings"] == [1.5, 2.5, None]
    assert row["summary"] == {"count": 3, "healthy": True, "last": NOW.timestamp() - 599.5}
    assert row["series"] == [(NOW.timestamp() - 600, 1.0), (NOW.timestamp() - 599, 2.0)]
    assert row["missing"] is None
    assert row["nested"] == [{"k": "a", "v": 1}]


INJECTION = "m1' OR 1=1 --"


def test_injection_in_a_device_id_is_refused_before_any_sql(store: Any) -> None:
    calls: list[Any] = []
    store.reader.client.meta.events.register(
        "provide-client-params.timestream-query.Query", lambda params, **_: calls.append(params)
    )
    for query in (
        lambda: store.query_range("tenant-a", INJECTION, START, NOW.timestamp()),
        lambda: store.latest("tenant-a", INJECTION),
        lambda: store.aggregate("tenant-a", INJECTION, "power_watts", START, NOW.timestamp(), 60),
        lambda: store.latest("tenant-a' OR '1'='1", "m1"),
    ):
        with pytest.raises(ValueError, match="invalid"):
            query()
    assert calls == []


def test_and_were_it_to_get_through_it_would_be_one_escaped_literal() -> None:
    assert quote_literal(INJECTION) == "'m1'' OR 1=1 --'"
    sql = range_sql(DATABASE, "machine_telemetry", "tenant-a", "m'1", 0.0, 1.0)
    assert "\"device_id\" = 'm''1'" in sql
    for bad in ('a"b', "a b", "x;DROP", ""):
        with pytest.raises(ValueError):
            quote_identifier(bad)
    with pytest.raises(ValueError):
        quote_literal("a\x00b")


def test_nan_bounds_and_unknown_measures_are_refused(store: Any) -> None:
    with pytest.raises(ValueError, match="start and end"):
        store.query_range("tenant-a", "m1", float("nan"), 1.0)
    with pytest.raises(ValueError, match="no_such_measure"):
        store.query_range("tenant-a", "m1", 0.0, 1.0, measures=["no_such_measure"])
    assert store.query_range("tenant-a", "m1", 5.0, 5.0) == []
