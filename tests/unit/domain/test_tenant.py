"""The Tenant aggregate: events recorded per command, the fold, and membership invariants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from smdh.domain.shared.errors import (
    AlreadyExists,
    InvariantViolation,
    NotFound,
    TenantIsSuspended,
    ValidationError,
)
from smdh.domain.shared.events import DomainEvent, EventContext
from smdh.domain.shared.ids import TenantId, UserId
from smdh.domain.tenancy import tenant as t
from smdh.domain.tenancy.roles import Role

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
REGISTERED = EventContext(T0, "operator:root")
LATER = EventContext(datetime(2026, 2, 1, 12, 30, tzinfo=UTC), "user:acme/alice")


def state(tenant: t.Tenant) -> dict[str, Any]:
    return {k: v for k, v in vars(tenant).items() if k != "_pending"}


def status_of(tenant: t.Tenant) -> t.TenantStatus:
    return tenant.status  # read through a call: mypy keeps no narrowed status across commands


def new_tenant() -> t.Tenant:
    tenant = t.Tenant.register(TenantId("acme"), "  ACME GmbH  ", REGISTERED)
    tenant.invite_user(UserId("alice"), "alice@acme.example", Role.ADMIN, REGISTERED)
    tenant.invite_user(UserId("bob"), "bob@acme.example", Role.EDITOR, REGISTERED)
    return tenant


def test_register_records_tenant_registered_with_envelope_from_context() -> None:
    tenant = t.Tenant.register(TenantId("acme"), "  ACME GmbH  ", REGISTERED)
    [event] = tenant.pending_events()
    assert isinstance(event, t.TenantRegistered)
    assert event.aggregate_id == "tenant:acme" == tenant.id
    assert event.version == 1 == tenant.version
    assert event.tenant_id == "acme" == tenant.tenant_id
    assert event.actor == "operator:root"
    assert event.occurred_at == T0
    assert event.name == "ACME GmbH"
    assert tenant.name == "ACME GmbH"
    assert tenant.is_active
    assert tenant.quotas == t.TenantQuotas()
    assert tenant.is_new


def test_register_rejects_a_blank_name() -> None:
    with pytest.raises(ValidationError, match="name must not be empty"):
        t.Tenant.register(TenantId("acme"), "   ", REGISTERED)


COMMANDS: list[tuple[str, Callable[[t.Tenant], None], type[DomainEvent]]] = [
    ("rename", lambda x: x.rename("Acme AG", LATER), t.TenantRenamed),
    (
        "branding",
        lambda x: x.set_branding(t.Branding.create("Acme", primary_colour="#aabbcc"), LATER),
        t.TenantBrandingSet,
    ),
    (
        "retention",
        lambda x: x.set_retention(t.RetentionPolicy(30, 365), LATER),
        t.TenantRetentionSet,
    ),
    ("quotas", lambda x: x.set_quotas(t.TenantQuotas(5, 10), LATER), t.TenantQuotasSet),
    ("suspend", lambda x: x.suspend("unpaid invoice", LATER), t.TenantSuspended),
    ("request_erasure", lambda x: x.request_erasure(LATER), t.TenantErasureRequested),
    (
        "invite",
        lambda x: x.invite_user(UserId("carol"), "carol@acme.example", Role.VIEWER, LATER),
        t.UserInvited,
    ),
    ("change_role", lambda x: x.change_role(UserId("bob"), Role.VIEWER, LATER), t.UserRoleChanged),
    ("remove", lambda x: x.remove_user(UserId("bob"), LATER), t.UserRemoved),
]


@pytest.mark.parametrize(
    ("command", "expected"), [(c[1], c[2]) for c in COMMANDS], ids=[c[0] for c in COMMANDS]
)
def test_each_command_records_one_past_tense_event(
    command: Callable[[t.Tenant], None], expected: type[DomainEvent]
) -> None:
    tenant = new_tenant()
    before = tenant.version
    tenant.mark_committed()
    command(tenant)
    [event] = tenant.pending_events()
    assert type(event) is expected
    assert event.version == before + 1 == tenant.version
    assert event.actor == LATER.actor
    assert event.occurred_at == LATER.occurred_at
    assert event.tenant_id == "acme"
    assert event.aggregate_id == "tenant:acme"
    assert not tenant.is_new


def test_reactivate_and_complete_erasure_record_their_events() -> None:
    tenant = new_tenant()
    tenant.suspend("audit", REGISTERED)
    tenant.reactivate(LATER)
    assert isinstance(tenant.pending_events()[-1], t.TenantReactivated)
    assert tenant.status is t.TenantStatus.ACTIVE
    tenant.request_erasure(LATER)
    tenant.complete_erasure(LATER)
    assert isinstance(tenant.pending_events()[-1], t.TenantErasureCompleted)
    assert status_of(tenant) is t.TenantStatus.ERASED
    assert tenant.members == {}


@pytest.mark.parametrize(
    "command",
    [
        lambda x: x.rename("  ACME GmbH ", LATER),
        lambda x: x.set_retention(t.RetentionPolicy(), LATER),
        lambda x: x.set_quotas(t.TenantQuotas(), LATER),
        lambda x: x.change_role(UserId("bob"), Role.EDITOR, LATER),
    ],
    ids=["same-name", "same-retention", "same-quotas", "same-role"],
)
def test_commands_that_change_nothing_record_nothing(command: Callable[[t.Tenant], None]) -> None:
    tenant = new_tenant()
    tenant.mark_committed()
    version = tenant.version
    command(tenant)
    assert tenant.pending_events() == []
    assert tenant.version == version


def test_state_is_the_fold_of_its_events() -> None:
    tenant = new_tenant()
    tenant.rename("Acme AG", LATER)
    tenant.set_branding(t.Branding.create("Acme", "https://cdn.example/logo.png"), LATER)
    tenant.set_retention(t.RetentionPolicy(30, 400), LATER)
    tenant.set_quotas(t.TenantQuotas(7, 70), LATER)
    tenant.invite_user(UserId("carol"), "carol@acme.example", Role.VIEWER, LATER)
    tenant.change_role(UserId("carol"), Role.ADMIN, LATER)
    tenant.remove_user(UserId("bob"), LATER)
    tenant.suspend("unpaid", LATER)

    rebuilt = t.Tenant.rehydrate(tenant.pending_events())
    assert rebuilt is not None
    assert state(rebuilt) == state(tenant)
    assert rebuilt.version == 11  # registered, 2 invites, 8 changes
    assert rebuilt.pending_events() == []
    assert set(rebuilt.members) == {"alice", "carol"}
    assert rebuilt.members[UserId("carol")].role is Role.ADMIN
    assert rebuilt.status is t.TenantStatus.SUSPENDED


def test_rehydrate_of_an_empty_stream_is_none() -> None:
    assert t.Tenant.rehydrate([]) is None


def test_the_last_admin_cannot_be_removed() -> None:
    tenant = new_tenant()
    with pytest.raises(InvariantViolation, match="last admin"):
        tenant.remove_user(UserId("alice"), LATER)
    assert UserId("alice") in tenant.members


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_the_last_admin_cannot_be_demoted(role: Role) -> None:
    tenant = new_tenant()
    with pytest.raises(InvariantViolation, match="last admin"):
        tenant.change_role(UserId("alice"), role, LATER)
    assert tenant.members[UserId("alice")].role is Role.ADMIN


def test_an_admin_can_go_when_another_admin_remains() -> None:
    tenant = new_tenant()
    tenant.change_role(UserId("bob"), Role.ADMIN, LATER)
    tenant.change_role(UserId("alice"), Role.VIEWER, LATER)
    # bob is now the only admin, so he is protected in turn
    with pytest.raises(InvariantViolation):
        tenant.remove_user(UserId("bob"), LATER)
    tenant.remove_user(UserId("alice"), LATER)
    assert set(tenant.members) == {"bob"}


def test_a_non_admin_can_be_removed_with_a_single_admin() -> None:
    tenant = new_tenant()
    tenant.remove_user(UserId("bob"), LATER)
    assert UserId("bob") not in tenant.members


def test_membership_errors() -> None:
    tenant = new_tenant()
    with pytest.raises(AlreadyExists):
        tenant.invite_user(UserId("bob"), "bob2@acme.example", Role.VIEWER, LATER)
    with pytest.raises(NotFound):
        tenant.change_role(UserId("nobody"), Role.VIEWER, LATER)
    with pytest.raises(NotFound):
        tenant.remove_user(UserId("nobody"), LATER)
    for bad in ("not-an-email", "a@b", "@acme.example", "a b@acme.example", ""):
        with pytest.raises(ValidationError):
            tenant.invite_user(UserId("dave"), bad, Role.VIEWER, LATER)


def test_suspend_and_reactivate_rules() -> None:
    tenant = new_tenant()
    with pytest.raises(InvariantViolation, match="not suspended"):
        tenant.reactivate(LATER)
    tenant.suspend("unpaid", LATER)
    with pytest.raises(TenantIsSuspended):
        tenant.ensure_active()
    with pytest.raises(InvariantViolation, match="already suspended"):
        tenant.suspend("again", LATER)
    tenant.reactivate(LATER)
    tenant.ensure_active()
    with pytest.raises(ValidationError):
        tenant.suspend("", LATER)


def test_erasure_freezes_the_tenant() -> None:
    tenant = new_tenant()
    with pytest.raises(InvariantViolation, match="requested"):
        tenant.complete_erasure(LATER)
    tenant.request_erasure(LATER)
    with pytest.raises(InvariantViolation) as info:
        tenant.ensure_active()
    assert not isinstance(info.value, TenantIsSuspended)
    with pytest.raises(InvariantViolation):
        tenant.rename("New", LATER)
    with pytest.raises(InvariantViolation):
        tenant.invite_user(UserId("eve"), "eve@acme.example", Role.VIEWER, LATER)
    with pytest.raises(InvariantViolation):
        tenant.reactivate(LATER)


def test_branding_validation() -> None:
    branding = t.Branding.create("Acme", "https://x.example/l.png", "#a1b2c3", "#FFFFFF")
    assert branding.primary_colour == "#A1B2C3"
    with pytest.raises(ValidationError, match="colour"):
        t.Branding.create("Acme", primary_colour="red")
    for bad_url in ("javascript:alert(1)", "https://x.example/a b", 'https://x"onerror'):
        with pytest.raises(ValidationError, match="URL"):
            t.Branding.create("Acme", logo_url=bad_url)
    with pytest.raises(ValidationError):
        t.Branding.create("x" * 101)


@pytest.mark.parametrize(("raw", "rollup"), [(0, 730), (3651, 3651), (100, 99), (90, 10951)])
def test_retention_bounds(raw: int, rollup: int) -> None:
    with pytest.raises(ValidationError):
        t.RetentionPolicy(raw, rollup)


def test_quotas_may_be_zero_but_not_negative() -> None:
    assert t.TenantQuotas(0, 0).max_devices == 0
    with pytest.raises(ValidationError):
        t.TenantQuotas(-1, 10)
    with pytest.raises(ValidationError):
        t.TenantQuotas(1, -10)
