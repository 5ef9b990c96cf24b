"""An embedded data directory with every store, two tenants and helpers to fill it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from smdh.adapters.embedded.archive import LocalArchiveStore
from smdh.adapters.embedded.rollups import SqliteRollupStore
from smdh.adapters.embedded.telemetry_lifecycle import (
    SqliteTelemetryLifecycle,
)
from smdh.application import commands as c
from smdh.application.lifecycle import Eraser, RetentionJob
from smdh.application.principals import Principal
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId, UserId
from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.container import Container, build_container, erasure_purgers

ROOT = Principal.operator("root")


@attrs.define
class DataDir:
    path: Path
    container: Container
    rollups: SqliteRollupStore
    lifecycle: SqliteTelemetryLifecycle
    archive: LocalArchiveStore

    def retention(self) -> RetentionJob:
        app = self.container.application()
        return RetentionJob(
            directory=app.directory, telemetry=self.container.telemetry_store(),
            lifecycle=self.lifecycle, archive=self.archive, sensors=app.sensors,
            clock=self.container.clock(),
        )  # fmt: skip

    def eraser(self) -> Eraser:
        app = self.container.application()
        # the hub's own list: every SQLite file, and the alert evaluator's memory
        purgers = erasure_purgers(str(self.path), self.container.alerting_service())
        return Eraser(
            directory=app.directory, devices=app.devices, lifecycle=self.lifecycle,
            archive=self.archive, credentials=self.container.credentials(), purgers=purgers,
            clock=self.container.clock(),
        )  # fmt: skip

    def close(self) -> None:
        self.rollups.close()
        self.container.telemetry_store().close()
        self.container.dead_letters().close()
        self.container.event_store().close()


def seed(container: Container, tenant: str, devices: dict[str, str], tz: str = "UTC") -> None:
    app = container.application()
    tid = TenantId(tenant)
    app.execute(c.RegisterTenant(principal=ROOT, tenant_id=tid, name=f"{tenant} GmbH"))
    app.execute(c.InviteUser(principal=ROOT, tenant_id=tid, user_id=UserId(f"{tenant}-boss"),
                             email=f"boss@{tenant}.example", role=Role.ADMIN))  # fmt: skip
    container.credentials().set_password_hash(tid, f"{tenant}-boss", f"hash-of-{tenant}")
    site = SiteId(f"{tenant}-site")
    app.execute(c.RegisterSite(principal=ROOT, tenant_id=tid, site_id=site, name="Plant",
                               timezone=tz, tariff_ref="tou-standard"))  # fmt: skip
    for device, sensor_type in devices.items():
        app.execute(c.RegisterDevice(principal=ROOT, tenant_id=tid, device_id=DeviceId(device),
                                     site_id=site, sensor_type=sensor_type, name=device,
                                     ideal_cycle_time_s=2.0))  # fmt: skip


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[DataDir]:
    container = build_container("local", tmp_path)
    container.application().refresh()
    telemetry = container.telemetry_store()
    rollups = SqliteRollupStore(telemetry.path, container.sensors())
    made = DataDir(
        path=tmp_path,
        container=container,
        rollups=rollups,
        lifecycle=SqliteTelemetryLifecycle(telemetry, rollups),
        archive=LocalArchiveStore(tmp_path / "archive"),
    )
    yield made
    made.close()
