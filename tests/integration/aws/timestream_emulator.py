"""Timestream's documented write semantics inside the test session's moto server.

moto's ``timestream-write`` backend appends every record it receives to ``table.records``;
it never rejects one and has no query engine. The moto server runs in this process
(``ThreadedMotoServer``), so ``emulate_timestream_writes`` patches its tables to apply the
rules AWS documents for ``WriteRecords``, and the real writer meets them over HTTP:

* a record is identified by (dimensions, measure name, time); ``Version`` defaults to 1
  (API reference, WriteRecords, "Upserts"; Record);
* a higher ``Version`` replaces the stored record's measure values along with its version,
  also when the values are the same; for a multi-measure record that means **all** its
  values: "Timestream for LiveAnalytics does not support updating partial measure values
  in a record" (EventBridge Pipes API reference, PipeTargetTimestreamParameters);
* different measure values with a version that is not higher are rejected:
  ``RejectedRecordsException`` listing ``RecordIndex``, ``Reason`` and ``ExistingVersion``
  (API reference, RejectedRecord); the other records of the call are written;
* a record with the same values is not one of the documented rejection causes: accepted,
  nothing changes (what makes a redelivery free).

``TableRows`` holds the reconstruction; ``timestream_sql`` answers the adapter's queries
from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import pytest
from moto.core.exceptions import JsonRESTError
from moto.timestreamwrite.models import TimestreamTable

DIMENSION_TYPE = "VARCHAR"
_NS_PER_UNIT = {"MILLISECONDS": 10**6, "SECONDS": 10**9, "MICROSECONDS": 10**3, "NANOSECONDS": 1}

Identity = tuple[tuple[tuple[str, str], ...], str, int]  # dimensions, measure name, time ns
Values = tuple[tuple[str, str, str], ...]  # (name, type, text), sorted by name


@attrs.frozen
class StoredRecord:
    dimensions: tuple[tuple[str, str], ...]
    measure_name: str
    time_ns: int
    version: int
    values: Values


def identity_and_values(record: dict[str, Any]) -> tuple[Identity, int, Values]:
    dimensions = tuple(sorted((d["Name"], d["Value"]) for d in record.get("Dimensions", [])))
    time_ns = int(record["Time"]) * _NS_PER_UNIT[record.get("TimeUnit", "MILLISECONDS")]
    name = record["MeasureName"]
    if record.get("MeasureValueType") == "MULTI":
        values: Values = tuple(
            sorted((m["Name"], m["Type"], m["Value"]) for m in record["MeasureValues"])
        )
    else:
        values = ((name, record.get("MeasureValueType", "DOUBLE"), record["MeasureValue"]),)
    return (dimensions, name, time_ns), int(record.get("Version", 1)), values


class TableRows:
    """One Timestream table as the service would hold it after the writes it accepted."""

    def __init__(self) -> None:
        self.rows: dict[Identity, StoredRecord] = {}
        self.columns: dict[str, str] = {}  # every measure column ever written -> its type
        self.dimension_names: set[str] = set()

    def write(self, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Applies one WriteRecords call; returns its ``RejectedRecords`` (maybe none)."""
        rejected: list[dict[str, Any]] = []
        for index, record in enumerate(records):
            key, version, values = identity_and_values(record)
            held = self.rows.get(key)
            if held is not None and version <= held.version:
                if values != held.values:
                    rejected.append(
                        {
                            "RecordIndex": index,
                            "Reason": "A record with the same dimensions, time and measure "
                            "name exists with other measure values and a version not lower "
                            "than this one.",
                            "ExistingVersion": held.version,
                        }
                    )
                continue  # identical values: accepted, nothing changes
            self.rows[key] = StoredRecord(*key, version, values)  # the whole record
            self.columns.update((name, kind) for name, kind, _ in values)
            self.dimension_names.update(name for name, _ in key[0])
        return rejected

    def __iter__(self) -> Iterator[StoredRecord]:
        return iter(self.rows.values())


class RejectedRecordsError(JsonRESTError):
    """What the service answers when some records of a call were rejected."""

    code = 419  # the status the API reference gives RejectedRecordsException

    def __init__(self, rejected: list[dict[str, Any]]) -> None:
        error_type = "com.amazonaws.timestream.v20181101#RejectedRecordsException"
        message = "One or more records have been rejected. See RejectedRecords for details."
        super().__init__(error_type, message)
        self.description = json.dumps(
            {"__type": error_type, "message": message, "RejectedRecords": rejected}
        )


def rows_of(table: TimestreamTable) -> TableRows:
    rows = table.__dict__.get("smdh_rows")
    if rows is None:
        rows = table.__dict__["smdh_rows"] = TableRows()
    return rows  # type: ignore[no-any-return]


def install_write_semantics(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's Timestream tables apply the documented upsert rules until the test ends."""
    moto_write = TimestreamTable.write_records

    def write_records(self: TimestreamTable, records: list[dict[str, Any]]) -> None:
        rejected = rows_of(self).write(records)
        refused = {r["RecordIndex"] for r in rejected}
        moto_write(self, [r for i, r in enumerate(records) if i not in refused])
        if rejected:
            raise RejectedRecordsError(rejected)

    monkeypatch.setattr(TimestreamTable, "write_records", write_records)
