"""The message bus: retries of lost races, event handler failures, unknown commands."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pytest
from returns.result import Success

from smdh.adapters.identity.passwords import Sha256SecretHasher
from smdh.adapters.memory.clock import FixedClock, SequentialIds
from smdh.application import commands as c
from smdh.application.handlers import COMMAND_HANDLERS
from smdh.application.messagebus import MAX_ATTEMPTS
from smdh.application.ports import EventStore, StoredEvent
from smdh.application.principals import Principal
from smdh.application.system import Application
from smdh.domain.sensors.registry import default_registry
from smdh.domain.shared.errors import ConcurrencyConflict, DomainError, NotFound
from smdh.domain.shared.events import DomainEvent
from smdh.domain.shared.ids import TenantId, UserId
from smdh.domain.tenancy.roles import Role
from smdh.domain.tenancy.tenant import TenantRegistered, TenantRenamed

ACME = TenantId("acme")
Fail = Callable[..., DomainError]


class FlakyStore:
    """Delegates to a real store; the next ``fail_next`` appends lose a race first.

    ``before_conflict`` runs just before a failing append (to let a rival really write).
    """

    def __init__(self, inner: EventStore) -> None:
        self.inner = inner
        self.fail_next = 0
        self.append_calls = 0
        self.before_conflict: Callable[[], None] | None = None

    def append(self, events: Sequence[DomainEvent]) -> None:
        self.append_calls += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            if self.before_conflict is not None:
                self.before_conflict()
                self.before_conflict = None
                self.inner.append(events)  # the real store now raises the conflict
            raise ConcurrencyConflict("someone else appended first")
        self.inner.append(events)

    def load(self, aggregate_id: str, after_version: int = 0) -> list[DomainEvent]:
        return self.inner.load(aggregate_id, after_version)

    def current_version(self, aggregate_id: str) -> int:
        return self.inner.current_version(aggregate_id)

    def read_all(
        self, after_position: int = 0, limit: int = 1000, tenant_id: str | None = None
    ) -> list[StoredEvent]:
        return self.inner.read_all(after_position, limit, tenant_id)


def make_app(events: Any) -> Application:
    return Application(
        events=events,
        clock=FixedClock(),
        ids=SequentialIds(),
        device_secret_hasher=Sha256SecretHasher(),
        sensors=default_registry(),
    )


@pytest.fixture
def flaky(app: Application) -> FlakyStore:
    return FlakyStore(app.events)


@pytest.fixture
def flaky_app(flaky: FlakyStore) -> Application:
    other = make_app(flaky)
    other.refresh()
    return other


def invite(principal: Principal, user: str, **kw: Any) -> c.InviteUser:
    return c.InviteUser(
        principal=principal,
        tenant_id=ACME,
        user_id=UserId(user),
        email=f"{user}@acme.example",
        role=Role.VIEWER,
        **kw,
    )


def test_a_lost_race_without_if_match_is_retried(
    flaky_app: Application, flaky: FlakyStore, admin: Principal
) -> None:
    flaky.fail_next = 1
    assert isinstance(flaky_app.handle(invite(admin, "dave")), Success)
    assert flaky.append_calls == 2
    assert flaky_app.directory.user("acme", "dave") is not None
    invited = [e for e in flaky.inner.load("tenant:acme") if getattr(e, "user_id", "") == "dave"]
    assert len(invited) == 1


def test_the_retry_sees_the_winners_events(
    app: Application, flaky_app: Application, flaky: FlakyStore, admin: Principal
) -> None:
    # A real race: another process invites erin between our load and our append.
    flaky.fail_next = 1
    flaky.before_conflict = lambda: app.execute(invite(admin, "erin"))
    flaky_app.execute(invite(admin, "dave"))
    flaky_app.refresh()
    users = {u.user_id for u in flaky_app.directory.list_users("acme")}
    assert {"dave", "erin"} <= users
    versions = [e.version for e in flaky.inner.load("tenant:acme")]
    assert versions == list(range(1, len(versions) + 1))


def test_retries_stop_after_max_attempts(
    flaky_app: Application, flaky: FlakyStore, admin: Principal, failure: Fail
) -> None:
    flaky.fail_next = MAX_ATTEMPTS + 5
    failure(flaky_app.handle(invite(admin, "dave")), ConcurrencyConflict)
    assert flaky.append_calls == MAX_ATTEMPTS
    assert flaky_app.directory.user("acme", "dave") is None


def test_a_pinned_command_is_not_retried(
    app: Application, flaky_app: Application, flaky: FlakyStore, admin: Principal, failure: Fail
) -> None:
    version = app.events.current_version("tenant:acme")
    flaky.fail_next = 1
    result = flaky_app.handle(invite(admin, "dave", expected_version=version))
    failure(result, ConcurrencyConflict)
    assert flaky.append_calls == 1
    assert app.events.current_version("tenant:acme") == version


def test_a_failing_event_handler_is_logged_and_does_not_fail_the_command(
    app: Application, operator: Principal, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[DomainEvent] = []

    def boom(event: DomainEvent) -> None:
        raise RuntimeError("projection exploded")

    app.bus.subscribe(DomainEvent, boom)
    app.bus.subscribe(TenantRegistered, seen.append)
    with caplog.at_level(logging.ERROR, logger="smdh.application.messagebus"):
        result = app.handle(
            c.RegisterTenant(principal=operator, tenant_id=TenantId("initech"), name="Initech")
        )
    assert result == Success(1)
    assert app.events.current_version("tenant:initech") == 1
    assert [e.tenant_id for e in seen] == ["initech"]  # later handlers still ran
    [record] = [r for r in caplog.records if "event handler" in r.getMessage()]
    assert "TenantRegistered" in record.getMessage()
    assert record.exc_info is not None


def test_event_handlers_get_only_committed_events_matching_their_type(
    app: Application, admin: Principal, other_admin: Principal
) -> None:
    renamed: list[DomainEvent] = []
    app.bus.subscribe(TenantRenamed, renamed.append)
    app.handle(c.RenameTenant(principal=other_admin, tenant_id=ACME, name="Nope"))  # fails
    app.handle(invite(admin, "dave"))  # not a rename
    app.handle(c.RenameTenant(principal=admin, tenant_id=ACME, name="ACME AG"))
    assert [(type(e), e.version) for e in renamed] == [
        (TenantRenamed, app.events.current_version("tenant:acme"))
    ]


def test_domain_errors_are_returned_and_execute_raises_them(
    app: Application, operator: Principal, failure: Fail
) -> None:
    command = c.RenameTenant(principal=operator, tenant_id=TenantId("ghost"), name="X")
    failure(app.handle(command), NotFound, "tenant ghost not found")
    with pytest.raises(NotFound, match="tenant ghost not found"):
        app.execute(command)


@attrs.frozen(kw_only=True)
class Frobnicate(c.Command):
    pass


def test_unknown_command_raises_lookup_error(app: Application, operator: Principal) -> None:
    with pytest.raises(LookupError, match="no handler for Frobnicate"):
        app.handle(Frobnicate(principal=operator))


def test_every_command_class_has_a_handler(app: Application) -> None:
    def concrete(cls: type[c.Command]) -> list[type[c.Command]]:
        found: list[type[c.Command]] = []
        for sub in cls.__subclasses__():
            if sub.__module__ == c.__name__:
                found.append(sub)
            found.extend(concrete(sub))
        return found

    missing = {
        cls.__name__
        for cls in concrete(c.Command)
        if cls not in COMMAND_HANDLERS and cls is not c.TenantCommand
    }
    assert missing == set()
