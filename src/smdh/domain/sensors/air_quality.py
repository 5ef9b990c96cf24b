"""Indoor air-quality sensors: CO2, VOC, particulate matter, temperature, humidity, pressure.

Typically one sample a minute. SMDH derives ``aqi_instant``, the US EPA AQI (2024 PM2.5
breakpoints, see ``smdh.domain.metrics.aqi``) applied to this one sample: the larger of the
PM2.5 and PM10 sub-indices present, absent when neither is. EPA defines the AQI on 24-hour
averages (hourly: the NowCast), so this is an instantaneous indication.
"""

from __future__ import annotations

from smdh.domain.metrics.aqi import instant_aqi
from smdh.domain.sensors.base import (
    DashboardPanel,
    DashboardSpec,
    DefaultRule,
    MeasureSpec,
    MeasureValue,
    SensorType,
)

_UG = "µg/m³"


def derive_aqi(values: dict[str, MeasureValue]) -> dict[str, MeasureValue]:
    pm25 = values.get("pm25_ugm3")
    pm10 = values.get("pm10_ugm3")
    aqi = instant_aqi(
        pm25=None if pm25 is None else float(pm25),
        pm10=None if pm10 is None else float(pm10),
    )
    return {} if aqi is None else {"aqi_instant": aqi}


SENSOR_TYPE = SensorType(
    name="air_quality",
    description="Air quality: CO2, VOC, PM1/2.5/4/10, temperature, humidity, pressure",
    topic_kind="telemetry",
    measures=(
        MeasureSpec("co2_ppm", unit="ppm", minimum=0, maximum=40_000, description="CO2"),
        MeasureSpec("voc_ppb", unit="ppb", minimum=0, maximum=60_000, description="Total VOC"),
        MeasureSpec("pm1_ugm3", unit=_UG, minimum=0, maximum=1000, description="PM1.0"),
        MeasureSpec("pm25_ugm3", unit=_UG, minimum=0, maximum=1000, description="PM2.5"),
        MeasureSpec("pm4_ugm3", unit=_UG, minimum=0, maximum=1000, description="PM4.0"),
        MeasureSpec("pm10_ugm3", unit=_UG, minimum=0, maximum=2000, description="PM10"),
        MeasureSpec("temperature_c", unit="°C", minimum=-40, maximum=85),
        MeasureSpec("humidity_pct", unit="%", minimum=0, maximum=100, description="Relative"),
        MeasureSpec("pressure_hpa", unit="hPa", minimum=300, maximum=1100),
        MeasureSpec(
            "aqi_instant",
            kind="int",
            minimum=0,
            maximum=500,
            derived=True,
            description="US EPA AQI (2024) of this sample's PM2.5 and PM10",
        ),
    ),
    default_rules=(
        DefaultRule(
            name="co2-high",
            measure="co2_ppm",
            comparison="gt",
            threshold=2000.0,
            duration_s=600,  # a person breathing next to the sensor is not a ventilation fault
            severity="warning",
            description="CO2 above 2000 ppm for 10 minutes: ventilation is insufficient",
        ),
        DefaultRule(
            name="co2-dangerous",
            measure="co2_ppm",
            comparison="ge",
            threshold=5000.0,
            severity="critical",
            description="CO2 at or above 5000 ppm, the 8-hour occupational exposure limit",
        ),
        DefaultRule(
            name="aqi-unhealthy-for-sensitive-groups",
            measure="aqi_instant",
            comparison="ge",
            threshold=101.0,
            duration_s=900,  # single-sample AQI is noisy; a NowCast-based rule comes later
            severity="warning",
            description="Particulate AQI 101 or above for 15 minutes",
        ),
        DefaultRule(
            name="humidity-out-of-range",
            measure="humidity_pct",
            comparison="outside",
            threshold=20.0,
            threshold_high=70.0,
            duration_s=1800,
            severity="info",
            description="Relative humidity outside 20-70 % for 30 minutes",
        ),
    ),
    dashboard=DashboardSpec(
        title="Air quality",
        panels=(
            DashboardPanel("AQI (instant)", ("aqi_instant",), "gauge"),
            DashboardPanel("CO2", ("co2_ppm",), "timeseries", "ppm"),
            DashboardPanel(
                "Particulate matter",
                ("pm1_ugm3", "pm25_ugm3", "pm4_ugm3", "pm10_ugm3"),
                "timeseries",
                _UG,
            ),
            DashboardPanel("VOC", ("voc_ppb",), "timeseries", "ppb"),
            DashboardPanel("Temperature", ("temperature_c",), "timeseries", "°C"),
            DashboardPanel("Humidity", ("humidity_pct",), "timeseries", "%"),
            DashboardPanel("Pressure", ("pressure_hpa",), "timeseries", "hPa"),
        ),
    ),
    derive=derive_aqi,
)
