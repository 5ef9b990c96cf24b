"""Sensor types: one module per type, collected by the registry.

A sensor type module declares ``SENSOR_TYPE = SensorType(...)``; see ``base`` for the
vocabulary and the shared payload parser, ``registry`` for discovery.
"""

from smdh.domain.sensors.base import (
    DashboardPanel,
    DashboardSpec,
    DefaultRule,
    MeasureSpec,
    MeasureValue,
    Reading,
    SensorType,
)
from smdh.domain.sensors.registry import SensorRegistry, default_registry

__all__ = [
    "DashboardPanel",
    "DashboardSpec",
    "DefaultRule",
    "MeasureSpec",
    "MeasureValue",
    "Reading",
    "SensorRegistry",
    "SensorType",
    "default_registry",
]
