"""Machine utilization sensors: power draw, operating state, temperature and counters.

Typically 1 Hz over MQTT or LoRaWAN. ``state`` drives availability (OEE); the counters
drive performance and quality.
"""

from __future__ import annotations

from smdh.domain.sensors.base import (
    DashboardPanel,
    DashboardSpec,
    DefaultRule,
    MeasureSpec,
    MeasureValue,
    SensorType,
    json_type,
)

MACHINE_STATES = ("running", "idle", "offline")
_ERROR_CODE_MAX = 64


def _error_code(raw: object) -> MeasureValue:
    """PLCs often report numeric fault codes: keep them, as text, like the string ones."""
    if type(raw) is int:
        if not -(10**_ERROR_CODE_MAX) < raw < 10**_ERROR_CODE_MAX:
            raise ValueError(f"error_code is longer than {_ERROR_CODE_MAX} digits")
        return str(raw)
    if type(raw) is str:
        return raw
    raise ValueError(f"error_code must be a string or an integer, got {json_type(raw)}")


SENSOR_TYPE = SensorType(
    name="machine",
    description="Machine utilization: power draw, operating state, temperature, counters",
    topic_kind="telemetry",
    measures=(
        MeasureSpec(
            "power_watts", unit="W", minimum=0, maximum=5_000_000, description="Active power"
        ),
        MeasureSpec("state", kind="enum", choices=MACHINE_STATES, description="Operating state"),
        MeasureSpec("temperature_c", unit="°C", minimum=-50, maximum=500),
        MeasureSpec(
            "cycle_count", kind="int", minimum=0, description="Cycles completed (cumulative)"
        ),
        MeasureSpec(
            "scrap_count", kind="int", minimum=0, description="Rejected parts (cumulative)"
        ),
        MeasureSpec(
            "error_code",
            kind="str",
            max_length=_ERROR_CODE_MAX,
            convert=_error_code,
            description="Controller fault code; integers are stored as text",
        ),
    ),
    default_rules=(
        DefaultRule(
            name="machine-offline",
            measure="state",
            comparison="eq",
            threshold="offline",
            duration_s=900,
            severity="warning",
            description="Machine offline for more than 15 minutes",
        ),
        DefaultRule(
            name="machine-overheating",
            measure="temperature_c",
            comparison="gt",
            threshold=90.0,
            severity="warning",
            description="Machine temperature above 90 °C",
        ),
    ),
    dashboard=DashboardSpec(
        title="Machine",
        panels=(
            DashboardPanel("State", ("state",), "state-timeline"),
            DashboardPanel("Power", ("power_watts",), "timeseries", "W"),
            DashboardPanel("Cycle count", ("cycle_count",), "timeseries"),
            DashboardPanel("Temperature", ("temperature_c",), "timeseries", "°C"),
        ),
    ),
)
