"""The TelemetryStore contract on the in-memory adapter."""

from __future__ import annotations

from tests.contract.telemetry_store_contract import TelemetryStoreContract

from smdh.adapters.memory.telemetry_store import InMemoryTelemetryStore
from smdh.application.ports import TelemetryStore
from smdh.domain.sensors import SensorRegistry


class TestInMemoryTelemetryStore(TelemetryStoreContract):
    def make_store(self, registry: SensorRegistry) -> TelemetryStore:
        return InMemoryTelemetryStore(registry)
