"""What the Timestream writer knows it has written: the basis of measure-level upserts.

Timestream identifies a record by (dimensions, measure name, time) and an upsert with a
higher ``Version`` **replaces the whole multi-measure record**: "Timestream for
LiveAnalytics does not support updating partial measure values in a record" (EventBridge
Pipes API reference, ``PipeTargetTimestreamParameters.VersionValue``). A rewrite that
carries only some measures would therefore erase the others. The ``TelemetryStore`` port
promises the opposite (a rewrite replaces only the measures it carries), so the writer
sends the *merged* record whenever it knows what is stored:

* a point it has not seen is sent as it is with ``Version`` 1. Timestream accepts it when
  the point is new or holds exactly these values (a redelivery), and rejects it with the
  ``ExistingVersion`` when it holds something else - it never silently replaces anything;
* a point it has written (``KnownRecords``, an LRU of the last ``capacity`` records this
  process wrote) is sent merged with the known values, at the known version when nothing
  changed (a byte-identical no-op) or one above it. If another writer changed the record
  in between, Timestream rejects the merge (its version is not higher) and the point is
  forgotten: optimistic concurrency on ``Version``, as the event store does on
  (aggregate, version).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

FIRST_VERSION = 1

Measure = tuple[str, str, str]  # (name, Timestream type, value text)
RecordKey = tuple[str, tuple[tuple[str, str], ...], str, int]  # table, dims, name, time ms


@attrs.frozen
class KnownRecord:
    """A record as Timestream holds it after one of our writes was accepted."""

    version: int
    measures: tuple[Measure, ...]  # sorted by name


def measures_of(record: Mapping[str, Any]) -> tuple[Measure, ...]:
    return tuple(
        sorted((str(m["Name"]), str(m["Type"]), str(m["Value"])) for m in record["MeasureValues"])
    )


def merged(known: KnownRecord | None, measures: Sequence[Measure]) -> tuple[int, list[Measure]]:
    """(version, measures) to send for a sample's ``measures`` given what is known."""
    if known is None:
        return FIRST_VERSION, sorted(measures)
    by_name = {m[0]: m for m in known.measures}
    by_name.update((m[0], m) for m in measures)
    result = sorted(by_name.values())
    if tuple(result) == known.measures:
        return known.version, result  # nothing new: the same record, accepted as a no-op
    return known.version + 1, result


class KnownRecords:
    """A bounded, thread-safe LRU of the records this writer had accepted."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("capacity must not be negative")
        self.capacity = capacity
        self._records: OrderedDict[RecordKey, KnownRecord] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def get(self, key: RecordKey) -> KnownRecord | None:
        with self._lock:
            found = self._records.get(key)
            if found is not None:
                self._records.move_to_end(key)
            return found

    def put(self, key: RecordKey, record: KnownRecord) -> None:
        if self.capacity == 0:
            return
        with self._lock:
            self._records[key] = record
            self._records.move_to_end(key)
            while len(self._records) > self.capacity:
                self._records.popitem(last=False)

    def forget(self, key: RecordKey) -> None:
        with self._lock:
            self._records.pop(key, None)
