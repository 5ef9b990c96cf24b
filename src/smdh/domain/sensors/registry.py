"""The sensor-type registry: every module of this package that declares ``SENSOR_TYPE``.

Adding a sensor type is adding one module here; ingestion, storage schemas, the API, the
simulator and dashboard generation read the registry, never a hard-coded list.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Self

from smdh.domain.sensors.base import SensorType
from smdh.domain.shared.errors import UnknownSensorType

SENSORS_PACKAGE = __name__.rpartition(".")[0]
_NOT_SENSOR_MODULES = frozenset({"base", "registry"})


class SensorRegistry:
    """Sensor types by name, iterated in name order."""

    __slots__ = ("_types",)

    def __init__(self, sensor_types: Iterable[SensorType]) -> None:
        by_name: dict[str, SensorType] = {}
        for sensor_type in sorted(sensor_types, key=lambda t: t.name):
            if sensor_type.name in by_name:
                raise ValueError(f"two sensor types are named {sensor_type.name!r}")
            by_name[sensor_type.name] = sensor_type
        self._types = by_name

    @classmethod
    def discover(cls, package: str = SENSORS_PACKAGE) -> Self:
        """Import every module of ``package`` (but base, registry and _private ones) and
        collect their ``SENSOR_TYPE``; modules without one are helpers and are skipped."""
        root = importlib.import_module(package)
        found: list[SensorType] = []
        for module_info in pkgutil.iter_modules(root.__path__):
            name = module_info.name
            if module_info.ispkg or name in _NOT_SENSOR_MODULES or name.startswith("_"):
                continue
            module = importlib.import_module(f"{package}.{name}")
            declared = getattr(module, "SENSOR_TYPE", None)
            if declared is None:
                continue
            if not isinstance(declared, SensorType):
                raise TypeError(
                    f"{package}.{name}.SENSOR_TYPE is a {type(declared).__name__}, not a SensorType"
                )
            found.append(declared)
        return cls(found)

    def get(self, name: str) -> SensorType:
        sensor_type = self._types.get(name)
        if sensor_type is None:
            raise UnknownSensorType(
                f"unknown sensor type {name!r}; known types: {', '.join(self._types)}"
            )
        return sensor_type

    def find(self, name: str) -> SensorType | None:
        return self._types.get(name)

    def names(self) -> tuple[str, ...]:
        return tuple(self._types)

    def __iter__(self) -> Iterator[SensorType]:
        return iter(self._types.values())

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __len__(self) -> int:
        return len(self._types)

    def __repr__(self) -> str:
        return f"SensorRegistry({', '.join(self._types)})"


@cache
def default_registry() -> SensorRegistry:
    """The registry of this package's sensor types, discovered once per process."""
    return SensorRegistry.discover()
