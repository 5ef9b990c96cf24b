"""The running application: bus, projections and the dependencies handlers need.

Built by the composition root (``entrypoints/container.py``) from adapters; this module only
wires application pieces together and never creates a connection itself.
"""

from __future__ import annotations

from typing import Any

import attrs
from returns.result import Failure, Result, Success

from smdh.application.commands import Command
from smdh.application.egress import EgressPolicy
from smdh.application.handlers import bind_handlers
from smdh.application.messagebus import MessageBus
from smdh.application.ports import Clock, EventStore, IdGenerator, SecretHasher
from smdh.application.projections import DeviceRegistry, TenantDirectory
from smdh.application.unit_of_work import UnitOfWork
from smdh.domain.sensors.registry import SensorRegistry
from smdh.domain.shared.errors import DomainError


@attrs.define
class Application:
    events: EventStore
    clock: Clock
    ids: IdGenerator
    device_secret_hasher: SecretHasher
    sensors: SensorRegistry
    devices: DeviceRegistry = attrs.field(factory=DeviceRegistry)
    directory: TenantDirectory = attrs.field(factory=TenantDirectory)
    egress: EgressPolicy = attrs.field(factory=EgressPolicy)  # where notifications may go
    bus: MessageBus = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        dependencies: dict[str, object] = {
            "clock": self.clock,
            "ids": self.ids,
            "device_secret_hasher": self.device_secret_hasher,
            "sensors": self.sensors,
            "devices": self.devices,
            "directory": self.directory,
            "egress": self.egress,
        }
        self.bus = MessageBus(
            uow_factory=lambda: UnitOfWork(self.events),
            command_handlers=bind_handlers(dependencies),
        )

    def refresh(self) -> int:
        """Bring the read models up to date with the store; returns events applied."""
        return self.devices.catch_up(self.events) + self.directory.catch_up(self.events)

    def handle(self, command: Command) -> Result[Any, DomainError]:
        # Read models first catch up with writes of other processes (the CLI next to a
        # running hub), so checks such as the device quota see them.
        self.refresh()
        result = self.bus.handle(command)
        self.refresh()
        return result

    def execute(self, command: Command) -> Any:
        """Like ``handle`` but raises the DomainError: for scripts, the CLI and tests."""
        match self.handle(command):
            case Success(value):
                return value
            case Failure(error):
                raise error
        raise AssertionError("unreachable")
