"""GDPR erasure as a use case, for the HTTP API and the CLI: who may erase what, the
confirmation, and the order of the steps. The work itself is ``lifecycle.Eraser``'s.

**A tenant** (platform operator only): ``RequestTenantErasure`` records
``TenantErasureRequested`` through the bus, so from then on the tenant accepts no change and
its users are refused (their tenant is no longer active); then the ``Eraser`` removes every
row, file and event of the tenant, and the in-process read models apply
``TenantErasureCompleted`` (not stored: a stored event would have to name the tenant). A
tenant left in ``erasure_requested`` by a failure is erased by asking again.

**A device** (an admin of its tenant, or the operator): the device leaves the registry first,
so no new reading of it is accepted while its data is removed (it comes back if the erasure
fails), then the ``Eraser`` removes its readings, rollups, archived rows, dead letters and
events. The device then no longer exists; its id may be registered again.

Both ask for a confirmation that repeats the id being erased, so a stray call cannot do it.
"""

from __future__ import annotations

from smdh.application import commands as c
from smdh.application.alert_board import AlertBoard
from smdh.application.authorization import authorize_operator, authorize_tenant
from smdh.application.lifecycle import Eraser, ErasureReport
from smdh.application.principals import Principal
from smdh.application.system import Application
from smdh.domain.alerts.evaluation_state import EvaluationState
from smdh.domain.shared.errors import NotFound, ValidationError
from smdh.domain.shared.ids import DeviceId, TenantId
from smdh.domain.tenancy.roles import Role
from smdh.domain.tenancy.tenant import TenantStatus


class ErasureNotConfirmed(ValidationError):
    code = "erasure-not-confirmed"


def _confirm(confirm: str | None, target: str, what: str) -> None:
    if confirm != target:
        raise ErasureNotConfirmed(
            f"erasing {what} {target} cannot be undone: confirm it by repeating its id"
            f' ("confirm": "{target}")'
        )


class ErasureService:
    def __init__(self, *, application: Application, eraser: Eraser) -> None:
        self._app = application
        self._eraser = eraser

    def erase_tenant(
        self, principal: Principal, tenant_id: str, *, confirm: str | None
    ) -> ErasureReport:
        tenant = TenantId(tenant_id)
        authorize_operator(principal)
        self._app.refresh()
        entry = self._app.directory.tenant(tenant)
        if entry is None or entry.status is TenantStatus.ERASED:
            raise NotFound(f"tenant {tenant} not found")
        _confirm(confirm, tenant, "tenant")
        if entry.status is not TenantStatus.ERASURE_REQUESTED:
            self._app.execute(c.RequestTenantErasure(principal=principal, tenant_id=tenant))
        return self._eraser.erase_tenant(tenant)

    def erase_device(
        self, principal: Principal, tenant_id: str, device_id: str, *, confirm: str | None
    ) -> ErasureReport:
        tenant, device = TenantId(tenant_id), DeviceId(device_id)
        authorize_tenant(principal, tenant, Role.VIEWER)  # another tenant: NotFound
        self._app.refresh()
        devices = self._app.devices
        if devices.lookup(tenant, device) is None:
            raise NotFound(f"device {device} not found")
        authorize_tenant(principal, tenant, Role.ADMIN)
        _confirm(confirm, device, "device")
        entry = devices.forget(tenant, device)
        try:
            return self._eraser.erase_device(tenant, device)
        except BaseException:
            if entry is not None:
                devices.restore(entry)
            raise


class EvaluationStatePurger:
    """Erasure of what the running alert evaluator keeps in memory about a tenant or a
    device (rule states, last-seen times, per-device caches), so none of it is saved to
    the state store again; the store's own rows are purged by the file's purger."""

    def __init__(self, state: EvaluationState) -> None:
        self._state = state

    def purge(self, tenant_id: str, device_id: str | None = None) -> int:
        with self._state.lock:
            return self._state.forget_tenant(tenant_id, device_id)


class AlertBoardPurger:
    """Erasure of the in-memory alert board's entries of a tenant or a device, so the
    running hub stops listing alerts whose events the event store's purger deleted
    (without it they stayed on ``GET /v1/alerts`` until a restart)."""

    def __init__(self, board: AlertBoard) -> None:
        self._board = board

    def purge(self, tenant_id: str, device_id: str | None = None) -> int:
        return self._board.forget(tenant_id, device_id)
