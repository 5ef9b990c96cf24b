"""The demo tenant: created on the first ``smdh serve --demo``, reused on every later start.

Alerting in the demo: the default rules of every sensor type, alerts in-app (the portal's
``GET /v1/stream``), and, with ``SMDH_DEMO_WEBHOOK=http://host:port/path`` in the
environment, signed webhook deliveries of every alert transition to that URL (the signing
secret is written to the demo file under ``alerting.webhook``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from smdh.application import commands as c
from smdh.application.alert_commands import EnableDefaultRules
from smdh.application.channel_commands import ConfigureNotificationChannels, WebhookSpec
from smdh.application.principals import Principal
from smdh.application.system import Application
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId, UserId
from smdh.domain.tenancy.roles import Role
from smdh.domain.tenancy.site import Shift

log = logging.getLogger(__name__)

DEMO_TENANT = TenantId("demo")
DEMO_ADMIN = UserId("admin")
OPERATOR = Principal.operator("local-admin")

WEEKDAYS = (0, 1, 2, 3, 4)
SITES: tuple[tuple[str, str, str], ...] = (
    ("plant-berlin", "Berlin Plant", "Europe/Berlin"),
    ("plant-chicago", "Chicago Plant", "America/Chicago"),
)
# (sensor type, id prefix, count) per the issue: 30 machines, 10 meters, 10 air, 4 scanners.
DEVICE_SET: tuple[tuple[str, str, int], ...] = (
    ("machine", "machine", 30),
    ("energy", "meter", 10),
    ("air_quality", "air", 10),
    ("job_scan", "scanner", 4),
)


def ensure_demo(application: Application, demo_file: Path) -> dict[str, Any]:
    """Create what is missing of the demo set; return the credentials file's content."""
    existing = _read(demo_file)
    if application.directory.tenant(DEMO_TENANT) is None:
        application.execute(
            c.RegisterTenant(principal=OPERATOR, tenant_id=DEMO_TENANT, name="Demo Manufacturing")
        )
        application.execute(
            c.InviteUser(
                principal=OPERATOR,
                tenant_id=DEMO_TENANT,
                user_id=DEMO_ADMIN,
                email="admin@demo.example",
                role=Role.ADMIN,
            )
        )
    for site_id, name, tz in SITES:
        if application.directory.site(DEMO_TENANT, site_id) is None:
            shifts = (
                Shift.create("early", WEEKDAYS, "06:00", "14:00"),
                Shift.create("late", WEEKDAYS, "14:00", "22:00"),
            )
            application.execute(
                c.RegisterSite(
                    principal=OPERATOR,
                    tenant_id=DEMO_TENANT,
                    site_id=SiteId(site_id),
                    name=name,
                    timezone=tz,
                    tariff_ref="tou-standard",
                    shifts=shifts,
                )
            )
    known = {d["device_id"]: d for d in existing.get("devices", [])}
    devices: list[dict[str, Any]] = []
    for sensor_type, prefix, count in DEVICE_SET:
        for n in range(1, count + 1):
            device_id = DeviceId(f"{prefix}-{n:03d}")
            site_id = SiteId(SITES[(n - 1) % len(SITES)][0])
            entry = application.devices.lookup(DEMO_TENANT, device_id)
            if entry is not None and device_id in known:
                devices.append({**known[device_id], "timezone": _zone(site_id)})
                continue
            if entry is None:
                credentials = application.execute(
                    c.RegisterDevice(
                        principal=OPERATOR,
                        tenant_id=DEMO_TENANT,
                        device_id=device_id,
                        site_id=site_id,
                        sensor_type=sensor_type,
                        name=f"{sensor_type.replace('_', ' ').title()} {n}",
                        metadata=_metadata(sensor_type, n),
                        ideal_cycle_time_s=30.0 if sensor_type == "machine" else None,
                    )
                )
            else:  # the file was lost: new credentials are the only way to hand them out again
                credentials = application.execute(
                    c.RotateDeviceCredentials(
                        principal=OPERATOR, tenant_id=DEMO_TENANT, device_id=device_id
                    )
                )
            devices.append(
                {
                    "device_id": device_id,
                    "sensor_type": sensor_type,
                    "site_id": site_id,
                    "timezone": _zone(site_id),
                    "username": credentials.username,
                    "password": credentials.secret,
                }
            )
    alerting = ensure_demo_alerting(application, existing.get("alerting"))
    return {**existing, "tenant": DEMO_TENANT, "devices": devices, "alerting": alerting}


def ensure_demo_alerting(application: Application, known: object) -> dict[str, Any]:
    """Default rules of every sensor type (switched on once: a rule disabled later stays
    off), in-app alerts always, and a signed webhook to ``SMDH_DEMO_WEBHOOK`` when set (its
    secret is generated once and kept in the demo file with the other credentials)."""
    state: dict[str, Any] = dict(known) if isinstance(known, dict) else {}
    try:
        if not state.get("default_rules"):
            application.execute(EnableDefaultRules(principal=OPERATOR, tenant_id=DEMO_TENANT))
            state["default_rules"] = True
        url = os.environ.get("SMDH_DEMO_WEBHOOK") or None
        if url is None or (state.get("webhook") or {}).get("url") == url:
            return state  # channels the admin set through the API stay as they are
        result = application.execute(
            ConfigureNotificationChannels(
                principal=OPERATOR,
                tenant_id=DEMO_TENANT,
                webhooks=(WebhookSpec(url),),
                default_channels=("webhook",),
            )
        )
    except LookupError:  # the alerting handlers are not in COMMAND_HANDLERS (yet)
        log.warning("alerting commands are not wired: demo rules and channels skipped")
        return state
    state["webhook"] = {"url": url, "secret": result.new_secrets.get(url)}
    return state


def _zone(site_id: str) -> str:
    return next(tz for sid, _, tz in SITES if sid == site_id)


def _metadata(sensor_type: str, n: int) -> dict[str, object]:
    if sensor_type == "machine":
        return {"machine_type": ("cnc", "press", "injection_molder")[n % 3], "line": f"L{n % 4}"}
    if sensor_type == "energy":
        return {"circuit": f"MCC-{n}", "phases": 3}
    if sensor_type == "air_quality":
        return {"location": ("assembly", "paint shop", "warehouse")[n % 3]}
    return {"location": f"station-{n}"}


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        loaded = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def write_demo_file(path: Path, content: dict[str, Any]) -> None:
    """Written atomically with owner-only permissions: it holds passwords."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(content, handle, indent=2)
    os.replace(tmp, path)
