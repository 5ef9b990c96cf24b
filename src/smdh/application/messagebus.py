"""The message bus: runs a command's handler in a unit of work, then publishes its events.

Command handlers are plain functions ``handler(command, uow, **dependencies)``; the bus is
built by ``bootstrap`` (see ``handlers/__init__.py``), which binds the dependencies each
handler names. Event handlers (projections, later notifications) run after the commit; a
failing event handler is logged and does not undo the committed command.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from returns.result import Failure, Result, Success

from smdh.application.commands import Command
from smdh.application.unit_of_work import UnitOfWork, UnitOfWorkFactory
from smdh.domain.shared.errors import ConcurrencyConflict, DomainError, PreconditionFailed
from smdh.domain.shared.events import DomainEvent

log = logging.getLogger(__name__)

CommandHandler = Callable[[Any, UnitOfWork], Any]
EventHandler = Callable[[DomainEvent], None]

# A lost race on an aggregate nobody pinned (no If-Match) is retried on fresh state: the
# retry sees the winner's events and either succeeds or fails with a clear domain error.
MAX_ATTEMPTS = 3


class MessageBus:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        command_handlers: Mapping[type[Command], CommandHandler],
        event_handlers: Sequence[tuple[type[DomainEvent], EventHandler]] = (),
    ) -> None:
        self._uow_factory = uow_factory
        self._command_handlers = dict(command_handlers)
        self._event_handlers = list(event_handlers)

    def subscribe(self, event_type: type[DomainEvent], handler: EventHandler) -> None:
        self._event_handlers.append((event_type, handler))

    def handle(self, command: Command) -> Result[Any, DomainError]:
        handler = self._command_handlers.get(type(command))
        if handler is None:
            raise LookupError(f"no handler for {type(command).__name__}")
        for attempt in range(1, MAX_ATTEMPTS + 1):
            uow = self._uow_factory()
            try:
                with uow:
                    result = handler(command, uow)
            except PreconditionFailed as error:
                return Failure(error)
            except ConcurrencyConflict as error:
                if attempt == MAX_ATTEMPTS or getattr(command, "expected_version", None):
                    return Failure(error)
                log.info("retrying %s after %s", type(command).__name__, error)
                continue
            except DomainError as error:
                return Failure(error)
            self.publish(uow.collect_new_events())
            return Success(result)
        raise AssertionError("unreachable")

    def publish(self, events: Sequence[DomainEvent]) -> None:
        for event in events:
            for event_type, handler in self._event_handlers:
                if isinstance(event, event_type):
                    try:
                        handler(event)
                    except Exception:
                        log.exception(
                            "event handler %s failed on %s",
                            getattr(handler, "__qualname__", handler),
                            event.type_name(),
                        )
