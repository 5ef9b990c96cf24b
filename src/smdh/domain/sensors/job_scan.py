"""RFID and barcode scans: a job seen at a location.

Event-driven (hundreds to thousands a day per facility). ``job_id`` and ``location_id`` must
be valid identifiers, since they become keys of the job-location projection. ``metadata`` is
an optional JSON object of scalars, stored as compact JSON text with sorted keys, so the same
content is always the same string.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

from smdh.domain.sensors.base import (
    DashboardPanel,
    DashboardSpec,
    MeasureSpec,
    MeasureValue,
    SensorType,
    describe,
    json_type,
)
from smdh.domain.shared.ids import Identifier, JobId, LocationId

SCAN_TYPES = ("rfid", "barcode")
METADATA_MAX_KEYS = 20
METADATA_MAX_CHARS = 1024
_INT64 = 2**63


def _identifier(name: str, kind: type[Identifier]) -> Callable[[object], MeasureValue]:
    def convert(raw: object) -> MeasureValue:
        if type(raw) is not str:
            raise ValueError(f"{name} must be a string, got {json_type(raw)}")
        if not kind.is_valid(raw):
            raise ValueError(f"{name} {describe(raw)} is not a valid {kind.kind}: {kind.rule}")
        return raw

    return convert


def _metadata(raw: object) -> MeasureValue:
    if type(raw) is not dict:
        raise ValueError(f"metadata must be a JSON object, got {json_type(raw)}")
    if len(raw) > METADATA_MAX_KEYS:
        raise ValueError(f"metadata has {len(raw)} keys; the limit is {METADATA_MAX_KEYS}")
    for key, value in raw.items():
        if value is None or type(value) is str or type(value) is bool:
            continue
        if type(value) is int and -_INT64 <= value < _INT64:
            continue
        if type(value) is float and math.isfinite(value):
            continue
        raise ValueError(
            f"metadata key {describe(key)}: the value must be a string, a finite number, "
            f"a 64-bit integer, true/false or null, got {describe(value)}"
        )
    return json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


SENSOR_TYPE = SensorType(
    name="job_scan",
    description="RFID/barcode scans of jobs at locations",
    topic_kind="scan",
    measures=(
        MeasureSpec(
            "job_id",
            kind="str",
            required=True,
            convert=_identifier("job_id", JobId),
            description="The job (work order, lot) scanned",
        ),
        MeasureSpec(
            "location_id",
            kind="str",
            required=True,
            convert=_identifier("location_id", LocationId),
            description="Where it was scanned",
        ),
        MeasureSpec("scan_type", kind="enum", choices=SCAN_TYPES),
        MeasureSpec("scanner_id", kind="str", max_length=128),
        MeasureSpec(
            "metadata",
            kind="str",
            max_length=METADATA_MAX_CHARS,
            convert=_metadata,
            example={"operator": "op-7", "quantity": 12},
            description="Extra scalars, stored as compact JSON with sorted keys",
        ),
    ),
    dashboard=DashboardSpec(
        title="Job scans",
        panels=(
            DashboardPanel(
                "Recent scans",
                ("job_id", "location_id", "scan_type", "scanner_id", "metadata"),
                "table",
            ),
        ),
    ),
)
