"""Commands of the alerting work (kept out of ``commands.py``, which other work owns).

Routed by ``handlers/alerts.py``; the lead adds them to ``COMMAND_HANDLERS``.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from smdh.application.commands import DefineAlertRule, TenantCommand


@attrs.frozen(kw_only=True)
class AcknowledgeAlert(TenantCommand):
    alert_id: str
    note: str = ""


@attrs.frozen(kw_only=True)
class SnoozeAlert(TenantCommand):
    alert_id: str
    until: datetime


@attrs.frozen(kw_only=True)
class EnableDefaultRules(TenantCommand):
    """Define (or re-enable) the default rules of one sensor type, or of every type."""

    sensor_type: str | None = None


@attrs.frozen(kw_only=True)
class DefineAlertRuleOfKind(DefineAlertRule):
    """``DefineAlertRule`` with the rule kinds and lifecycle options of the alerting work."""

    kind: str = "threshold"
    clear_threshold: float | None = None
    latched: bool = False
    escalate_after_s: int = 0
    remind_every_s: int = 0
    window_s: int = 0
    window: int = 0
    warmup: int = 30
    z_threshold: float = 3.0
