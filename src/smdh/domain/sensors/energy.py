"""Energy meters: voltage, current, power factor and the cumulative energy counter.

Typically every 15 s over Modbus TCP or MQTT. SMDH derives the active power:

- single phase: ``P = V * I * PF``
- balanced three phase, ``voltage`` being the line-to-line voltage: ``P = sqrt(3) * V * I * PF``

``phases`` defaults to 1 when absent; power is derived only when voltage, current and power
factor are all in the sample. A negative power factor (power exported) gives negative power.
"""

from __future__ import annotations

import math

from smdh.domain.sensors.base import (
    DashboardPanel,
    DashboardSpec,
    DefaultRule,
    MeasureSpec,
    MeasureValue,
    SensorType,
)

_SQRT3 = math.sqrt(3.0)


def derive_power(values: dict[str, MeasureValue]) -> dict[str, MeasureValue]:
    voltage = values.get("voltage")
    current = values.get("current")
    power_factor = values.get("power_factor")
    if voltage is None or current is None or power_factor is None:
        return {}
    scale = _SQRT3 if values.get("phases", 1) == 3 else 1.0
    return {"power_watts": scale * float(voltage) * float(current) * float(power_factor)}


SENSOR_TYPE = SensorType(
    name="energy",
    description="Energy meter: voltage, current, power factor, cumulative kWh",
    topic_kind="telemetry",
    measures=(
        MeasureSpec(
            "voltage",
            unit="V",
            minimum=0,
            maximum=1000,
            description="RMS voltage; line-to-line on three-phase meters",
        ),
        MeasureSpec("current", unit="A", minimum=0, maximum=10_000, description="RMS current"),
        MeasureSpec("power_factor", minimum=-1, maximum=1, description="Power factor"),
        MeasureSpec(
            "phases", kind="int", choices=(1, 3), description="1 or 3 (balanced three-phase)"
        ),
        MeasureSpec(
            "kwh_cumulative",
            unit="kWh",
            minimum=0,
            maximum=1e12,
            description="Energy counter (cumulative)",
        ),
        MeasureSpec(
            "power_watts",
            unit="W",
            derived=True,
            description="Active power derived from voltage, current, power factor and phases",
        ),
    ),
    default_rules=(
        DefaultRule(
            name="low-power-factor",
            measure="power_factor",
            comparison="lt",
            threshold=0.85,
            duration_s=900,
            severity="warning",
            description="Power factor below 0.85 for 15 minutes (utility penalties likely)",
        ),
    ),
    dashboard=DashboardSpec(
        title="Energy",
        panels=(
            DashboardPanel("Power", ("power_watts",), "timeseries", "W"),
            DashboardPanel("Energy", ("kwh_cumulative",), "stat", "kWh"),
            DashboardPanel("Voltage and current", ("voltage", "current"), "timeseries"),
            DashboardPanel("Power factor", ("power_factor",), "gauge"),
        ),
    ),
    derive=derive_power,
)
