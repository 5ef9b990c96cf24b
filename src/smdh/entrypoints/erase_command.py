"""``smdh erase``: GDPR erasure of a tenant, or of one device of it, on the local stores.

    smdh erase --tenant acme --yes                 # the whole tenant
    smdh erase --tenant acme --device press-01 --yes

The same use case as ``POST /v1/tenants/{tenant_id}/erasure`` and
``POST /v1/devices/{device_id}/erasure`` (``smdh.application.erasure``), acting as the local
operator. Without ``--yes`` nothing is erased. Run it while the hub is stopped, or use the
HTTP routes of the running hub: a hub in another process keeps what it holds in memory (its
read models) until it restarts.
"""

from __future__ import annotations

import argparse
from typing import Any

from smdh.application.erasure import ErasureNotConfirmed, ErasureService
from smdh.application.lifecycle import ErasureReport
from smdh.application.principals import Principal

LOCAL_OPERATOR = Principal.operator("local-admin")


def run_erase(args: argparse.Namespace, container: Any) -> ErasureReport:
    service = container.erasure_service()
    if not isinstance(service, ErasureService):  # pragma: no cover - the CLI is local
        raise RuntimeError("erasure needs the local profile")
    target = args.device or args.tenant
    if not args.yes:
        name = f"device {args.device} of tenant {args.tenant}" if args.device else None
        name = name or f"tenant {args.tenant} and all its data"
        raise ErasureNotConfirmed(f"erasing {name} cannot be undone: add --yes to confirm")
    if args.device:
        return service.erase_device(LOCAL_OPERATOR, args.tenant, args.device, confirm=target)
    return service.erase_tenant(LOCAL_OPERATOR, args.tenant, confirm=target)


def add_erase_parser(sub: Any) -> None:
    """``smdh erase ...`` on the main parser's subcommands."""
    p = sub.add_parser("erase", help="erase a tenant or one device and all its data (GDPR)")
    p.add_argument("--tenant", required=True, help="the tenant (erased whole without --device)")
    p.add_argument("--device", help="erase only this device of the tenant")
    p.add_argument("--yes", action="store_true", help="confirm: erasure cannot be undone")
    p.set_defaults(action=run_erase)
