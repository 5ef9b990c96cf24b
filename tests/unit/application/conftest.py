"""Shared fixtures for application tests: an Application on memory adapters, seeded.

``app`` holds two tenants so isolation can be tested both ways:

* ``acme``: alice (admin), bob (editor), carol (viewer); site ``plant-1`` (Europe/Berlin)
* ``globex``: gina (admin); site ``g-plant``

``with_device`` adds machine ``m-1`` at acme's ``plant-1``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from returns.result import Failure, Result, Success

from smdh.adapters.identity.passwords import ScryptHasher
from smdh.application import commands as c
from smdh.application.principals import Principal
from smdh.application.queries import Queries
from smdh.application.system import Application
from smdh.domain.shared.errors import DomainError
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId, UserId
from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.container import Container, build_container

ACME = TenantId("acme")
GLOBEX = TenantId("globex")
PLANT = SiteId("plant-1")
G_PLANT = SiteId("g-plant")
M1 = DeviceId("m-1")


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    built = build_container("memory", tmp_path)
    # scrypt at production cost takes tens of ms per hash; unit tests need the logic only
    built.password_hasher.override(providers.Singleton(ScryptHasher, n=2**4, r=1, p=1))
    yield built
    built.password_hasher.reset_override()


@pytest.fixture
def operator() -> Principal:
    return Principal.operator("root")


@pytest.fixture
def admin() -> Principal:
    return Principal.user(ACME, "alice", Role.ADMIN)


@pytest.fixture
def editor() -> Principal:
    return Principal.user(ACME, "bob", Role.EDITOR)


@pytest.fixture
def viewer() -> Principal:
    return Principal.user(ACME, "carol", Role.VIEWER)


@pytest.fixture
def other_admin() -> Principal:
    """The admin of globex: a stranger to everything of acme."""
    return Principal.user(GLOBEX, "gina", Role.ADMIN)


@pytest.fixture
def device_principal() -> Principal:
    return Principal.device(ACME, M1)


def _seed_tenant(
    app: Application,
    operator: Principal,
    tenant: TenantId,
    site: SiteId,
    members: list[tuple[str, Role]],
) -> None:
    app.execute(c.RegisterTenant(principal=operator, tenant_id=tenant, name=f"{tenant} Corp"))
    for user, role in members:
        app.execute(
            c.InviteUser(
                principal=operator,
                tenant_id=tenant,
                user_id=UserId(user),
                email=f"{user}@{tenant}.example",
                role=role,
            )
        )
    first_admin = Principal.user(tenant, members[0][0], Role.ADMIN)
    app.execute(
        c.RegisterSite(
            principal=first_admin,
            tenant_id=tenant,
            site_id=site,
            name=f"{site} plant",
            timezone="Europe/Berlin",
        )
    )


@pytest.fixture
def app(container: Container, operator: Principal) -> Application:
    application: Application = container.application()
    _seed_tenant(
        application,
        operator,
        ACME,
        PLANT,
        [("alice", Role.ADMIN), ("bob", Role.EDITOR), ("carol", Role.VIEWER)],
    )
    _seed_tenant(application, operator, GLOBEX, G_PLANT, [("gina", Role.ADMIN)])
    return application


@pytest.fixture
def queries(container: Container, app: Application) -> Queries:
    built: Queries = container.queries()
    return built


@pytest.fixture
def register_device(app: Application, editor: Principal) -> Callable[..., Result[Any, Any]]:
    """``register_device("m-2", site_id=..., sensor_type=..., principal=...)`` -> Result."""

    def register(device_id: str = "m-1", **overrides: Any) -> Result[Any, Any]:
        fields: dict[str, Any] = {
            "principal": editor,
            "tenant_id": ACME,
            "device_id": DeviceId(device_id),
            "site_id": PLANT,
            "sensor_type": "machine",
            "name": f"Press {device_id}",
        }
        fields.update(overrides)
        return app.handle(c.RegisterDevice(**fields))

    return register


@pytest.fixture
def with_device(app: Application, register_device: Callable[..., Result[Any, Any]]) -> Any:
    """acme's machine ``m-1`` at ``plant-1``; returns its one-time credentials."""
    result = register_device("m-1")
    assert isinstance(result, Success), result
    return result.unwrap()


@pytest.fixture
def failure() -> Callable[..., DomainError]:
    """``failure(result, ErrorClass, "part of message")`` asserts and returns the error."""

    def check(result: object, error_class: type[DomainError], match: str = "") -> DomainError:
        assert isinstance(result, Failure), f"expected a {error_class.__name__}, got {result}"
        error = result.failure()
        assert type(error) is error_class, f"{type(error).__name__}: {error}"
        assert match in error.message, error.message
        return error

    return check
