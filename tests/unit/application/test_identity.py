"""Local sign-in: passwords, membership from the directory, suspended tenants, operators."""

from __future__ import annotations

import pytest

from smdh.application import commands as c
from smdh.application.identity import MIN_PASSWORD_LENGTH, IdentityService
from smdh.application.principals import AuthenticationFailed, Principal, PrincipalKind
from smdh.application.system import Application
from smdh.domain.shared.errors import NotFound, ValidationError
from smdh.domain.shared.ids import TenantId, UserId
from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.container import Container

ACME = TenantId("acme")
PASSWORD = "correct horse battery"
SAME_MESSAGE = "unknown user or wrong password"


@pytest.fixture
def identity(container: Container, app: Application) -> IdentityService:
    service: IdentityService = container.identity()
    service.set_user_password(ACME, UserId("alice"), PASSWORD)
    service.set_user_password(ACME, UserId("carol"), "carol's own passphrase")
    return service


def test_right_password_signs_in_with_the_role_from_the_directory(
    identity: IdentityService,
) -> None:
    alice = identity.authenticate("acme", "alice", PASSWORD)
    assert alice == Principal.user("acme", "alice", Role.ADMIN)
    carol = identity.authenticate("acme", "carol", "carol's own passphrase")
    assert carol.role is Role.VIEWER


def test_set_password_returns_the_principal(container: Container, app: Application) -> None:
    service: IdentityService = container.identity()
    principal = service.set_user_password(ACME, UserId("bob"), "x" * MIN_PASSWORD_LENGTH)
    assert principal == Principal.user("acme", "bob", Role.EDITOR)


@pytest.mark.parametrize("password", ["", "short", "x" * (MIN_PASSWORD_LENGTH - 1), "y" * 1025])
def test_password_length_is_enforced(identity: IdentityService, password: str) -> None:
    with pytest.raises(ValidationError, match="password"):
        identity.set_user_password(ACME, UserId("bob"), password)
    with pytest.raises(AuthenticationFailed):
        identity.authenticate("acme", "bob", password)


def test_password_is_never_stored_in_clear(container: Container, identity: IdentityService) -> None:
    stored = container.credentials().password_hash("acme", "alice")
    assert stored is not None
    assert PASSWORD not in stored
    assert stored.startswith("scrypt$")


def test_set_password_for_a_non_member_is_not_found(identity: IdentityService) -> None:
    with pytest.raises(NotFound):
        identity.set_user_password(ACME, UserId("mallory"), PASSWORD)
    with pytest.raises(NotFound):  # gina is a member of globex, not acme
        identity.set_user_password(ACME, UserId("gina"), PASSWORD)


@pytest.mark.parametrize(
    ("tenant", "user", "password"),
    [
        ("acme", "alice", "wrong password!"),
        ("acme", "alice", PASSWORD.upper()),
        ("acme", "nobody", PASSWORD),
        ("globex", "alice", PASSWORD),
        ("nope", "alice", PASSWORD),
        ("acme", "' OR 1=1 --", PASSWORD),
        ("../etc", "alice", PASSWORD),
        (None, "alice", PASSWORD),
        ("acme", "", ""),
    ],
)
def test_every_failure_has_the_same_message(
    identity: IdentityService, tenant: str | None, user: str, password: str
) -> None:
    with pytest.raises(AuthenticationFailed) as info:
        identity.authenticate(tenant, user, password)
    assert info.value.message == SAME_MESSAGE


def test_a_removed_member_can_no_longer_sign_in(
    app: Application, identity: IdentityService, admin: Principal
) -> None:
    identity.authenticate("acme", "carol", "carol's own passphrase")
    app.execute(c.RemoveUser(principal=admin, tenant_id=ACME, user_id=UserId("carol")))
    with pytest.raises(AuthenticationFailed, match=SAME_MESSAGE):
        identity.authenticate("acme", "carol", "carol's own passphrase")


def test_a_role_change_shows_at_the_next_sign_in(
    app: Application, identity: IdentityService, admin: Principal
) -> None:
    app.execute(
        c.ChangeUserRole(principal=admin, tenant_id=ACME, user_id=UserId("carol"), role=Role.ADMIN)
    )
    assert identity.authenticate("acme", "carol", "carol's own passphrase").role is Role.ADMIN


def test_a_suspended_tenants_users_cannot_sign_in(
    app: Application, identity: IdentityService, operator: Principal
) -> None:
    app.execute(c.SuspendTenant(principal=operator, tenant_id=ACME, reason="unpaid"))
    with pytest.raises(AuthenticationFailed, match=SAME_MESSAGE):
        identity.authenticate("acme", "alice", PASSWORD)
    app.execute(c.ReactivateTenant(principal=operator, tenant_id=ACME))
    assert identity.authenticate("acme", "alice", PASSWORD).role is Role.ADMIN


def test_operator_signs_in_without_a_tenant(identity: IdentityService) -> None:
    created = identity.set_operator_password("root", "operator passphrase")
    assert created == Principal.operator("root")
    signed_in = identity.authenticate(None, "root", "operator passphrase")
    assert signed_in.kind is PrincipalKind.OPERATOR
    assert signed_in.tenant_id is None
    assert signed_in.role is None
    # an operator's password opens no tenant, and a user's opens no operator account
    with pytest.raises(AuthenticationFailed):
        identity.authenticate("acme", "root", "operator passphrase")
    with pytest.raises(AuthenticationFailed):
        identity.authenticate(None, "alice", PASSWORD)


def test_operator_password_rules(identity: IdentityService) -> None:
    with pytest.raises(ValidationError):
        identity.set_operator_password("root", "short")
    with pytest.raises(ValidationError):
        identity.set_operator_password("../root", "long enough passphrase")


def test_a_removed_members_password_hash_is_deleted(
    container: Container, app: Application, identity: IdentityService, admin: Principal
) -> None:
    credentials = container.credentials()
    assert credentials.password_hash("acme", "carol") is not None
    app.execute(c.RemoveUser(principal=admin, tenant_id=ACME, user_id=UserId("carol")))
    assert identity.forget_removed_user(ACME, UserId("carol"))
    assert credentials.password_hash("acme", "carol") is None
    assert credentials.password_hash("acme", "alice") is not None  # the others keep theirs
    # invited back, carol has no password until one is set: the old one opens nothing
    app.execute(c.InviteUser(principal=admin, tenant_id=ACME, user_id=UserId("carol"),
                             email="carol@acme.example", role=Role.VIEWER))  # fmt: skip
    with pytest.raises(AuthenticationFailed, match=SAME_MESSAGE):
        identity.authenticate("acme", "carol", "carol's own passphrase")


def test_a_member_keeps_its_password_hash(container: Container, identity: IdentityService) -> None:
    assert not identity.forget_removed_user(ACME, UserId("alice"))
    assert container.credentials().password_hash("acme", "alice") is not None
    assert identity.authenticate("acme", "alice", PASSWORD).role is Role.ADMIN


def test_a_member_of_another_tenant_keeps_its_password_there(
    container: Container,
    app: Application,
    identity: IdentityService,
    admin: Principal,
    other_admin: Principal,
) -> None:
    app.execute(c.InviteUser(principal=other_admin, tenant_id=TenantId("globex"),
                             user_id=UserId("carol"), email="carol@globex.example",
                             role=Role.EDITOR))  # fmt: skip
    identity.set_user_password(TenantId("globex"), UserId("carol"), "carol at globex pass")
    app.execute(c.RemoveUser(principal=admin, tenant_id=ACME, user_id=UserId("carol")))
    assert identity.forget_removed_user(ACME, UserId("carol"))
    assert container.credentials().password_hash("acme", "carol") is None
    assert container.credentials().password_hash("globex", "carol") is not None
    carol = identity.authenticate("globex", "carol", "carol at globex pass")
    assert carol == Principal.user("globex", "carol", Role.EDITOR)
