"""Principal shapes, roles and the permission checks handlers rely on."""

from __future__ import annotations

import pytest

from smdh.application.principals import AuthenticationFailed, Principal, PrincipalKind
from smdh.domain.shared.errors import PermissionDenied, ValidationError
from smdh.domain.tenancy.roles import Role


def test_roles_are_ordered_by_privilege_not_alphabet() -> None:
    assert Role.ADMIN.at_least(Role.EDITOR)
    assert Role.ADMIN.at_least(Role.VIEWER)
    assert Role.EDITOR.at_least(Role.EDITOR)
    assert Role.EDITOR.at_least(Role.VIEWER)
    assert not Role.VIEWER.at_least(Role.EDITOR)
    assert not Role.EDITOR.at_least(Role.ADMIN)


def test_highest_role_ignores_unknown_names() -> None:
    assert Role.highest(["viewer", "admin", "other"]) is Role.ADMIN
    assert Role.highest(["editor", "viewer"]) is Role.EDITOR
    assert Role.highest(["staff", 3]) is None
    assert Role.highest("admin") is None  # a bare string is not a list of groups


def test_actor_strings() -> None:
    assert Principal.user("acme", "alice", Role.ADMIN).actor == "user:acme/alice"
    assert Principal.operator("root").actor == "operator:root"
    assert Principal.device("acme", "m-001").actor == "device:acme/m-001"


def test_user_passes_role_checks_up_to_its_own_role() -> None:
    editor = Principal.user("acme", "bob", "editor")
    assert editor.kind is PrincipalKind.USER
    assert editor.role is Role.EDITOR
    assert editor.require_tenant() == "acme"
    assert editor.require_role(Role.VIEWER) == "acme"
    assert editor.require_role(Role.EDITOR) == "acme"
    with pytest.raises(PermissionDenied):
        editor.require_role(Role.ADMIN)
    with pytest.raises(PermissionDenied):
        editor.require_operator()
    assert not editor.is_operator


def test_operator_has_no_tenant_and_no_role() -> None:
    operator = Principal.operator("root")
    assert operator.is_operator
    operator.require_operator()
    with pytest.raises(PermissionDenied):
        operator.require_tenant()
    with pytest.raises(PermissionDenied):
        operator.require_role(Role.VIEWER)


def test_device_has_a_tenant_but_no_role() -> None:
    device = Principal.device("acme", "m-001")
    assert device.require_tenant() == "acme"
    with pytest.raises(PermissionDenied):
        device.require_role(Role.VIEWER)
    with pytest.raises(PermissionDenied):
        device.require_operator()


@pytest.mark.parametrize(
    ("kind", "subject", "tenant", "role"),
    [
        (PrincipalKind.OPERATOR, "root", "acme", None),
        (PrincipalKind.OPERATOR, "root", None, Role.ADMIN),
        (PrincipalKind.USER, "alice", None, Role.ADMIN),
        (PrincipalKind.USER, "alice", "acme", None),
        (PrincipalKind.DEVICE, "m-001", None, None),
        (PrincipalKind.DEVICE, "m-001", "acme", Role.VIEWER),
        (PrincipalKind.USER, "alice", "Not A Tenant", Role.ADMIN),
        (PrincipalKind.USER, "../etc", "acme", Role.ADMIN),
        (PrincipalKind.DEVICE, "m 001", "acme", None),
    ],
)
def test_impossible_principals_are_refused(
    kind: PrincipalKind, subject: str, tenant: str | None, role: Role | None
) -> None:
    with pytest.raises(ValidationError):
        Principal(kind, subject, tenant, role)


def test_principals_are_immutable_values() -> None:
    alice = Principal.user("acme", "alice", Role.VIEWER)
    assert alice == Principal.user("acme", "alice", "viewer")
    assert hash(alice) == hash(Principal.user("acme", "alice", "viewer"))
    with pytest.raises(AttributeError):
        alice.role = Role.ADMIN  # type: ignore[misc]


def test_authentication_failed_maps_to_unauthenticated() -> None:
    assert AuthenticationFailed.code == "unauthenticated"
    assert str(AuthenticationFailed("token expired")) == "token expired"
