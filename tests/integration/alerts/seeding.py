"""Test helper: give a tenant a rule and an open alert of it, directly through the domain."""

from __future__ import annotations

from smdh.application import commands as c
from smdh.application.principals import Principal
from smdh.application.unit_of_work import UnitOfWork
from smdh.domain.alerts.alert import Alert, alert_aggregate_id
from smdh.domain.alerts.rules import RuleScope, Severity, rule_aggregate_id
from smdh.domain.shared.events import EventContext
from smdh.domain.shared.ids import DeviceId, RuleId, TenantId
from smdh.entrypoints.container import Container

ROOT = Principal.operator("root")


def seed_rule_and_alert(container: Container, tenant: str, rule_id: str, device_id: str) -> str:
    """Idempotent; returns the alert's API id ``{rule}:{device}:1``."""
    app = container.application()
    events = container.event_store()
    tid, rid, did = TenantId(tenant), RuleId(rule_id), DeviceId(device_id)
    if events.current_version(rule_aggregate_id(tid, rid)) == 0:
        app.execute(
            c.DefineAlertRule(
                principal=ROOT, tenant_id=tid, rule_id=rid, name="Hot press",
                scope=RuleScope(device_id=did), measure="temperature_c", comparison="gt",
                threshold=90.0, severity="critical",
            )
        )  # fmt: skip
    if events.current_version(alert_aggregate_id(tid, rid, did, 1)) == 0:
        now = container.clock().now()
        alert = Alert.raise_(
            tenant_id=tid, rule_id=rid, device_id=did, episode=1, site_id=None,
            sensor_type="machine", severity=Severity.CRITICAL, measure="temperature_c",
            value=120.0, threshold=90.0, message=f"{tenant} press overheating", latched=False,
            raised_at=now, ctx=EventContext(occurred_at=now, actor="system:alerting"),
        )  # fmt: skip
        with UnitOfWork(events) as uow:
            uow.add(alert)
            uow.commit()
    return f"{rule_id}:{device_id}:1"
