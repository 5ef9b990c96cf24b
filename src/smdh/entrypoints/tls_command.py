"""``smdh tls-cert``: a self-signed certificate and key for trying TLS.

    smdh tls-cert --out certs --host plant-hub.local
    smdh serve --tls-cert certs/cert.pem --tls-key certs/key.pem

Clients trust ``cert.pem`` itself (it is its own CA). For production, use a certificate from
the plant's CA or a public one. The work is ``smdh.entrypoints.tls.write_self_signed``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from smdh.entrypoints.tls import write_self_signed


def run_tls_cert(args: argparse.Namespace, _container: Any) -> dict[str, str]:
    made = write_self_signed(
        args.out, args.hosts, key_type="rsa" if args.rsa else "ec", days=args.days,
        force=args.force,
    )  # fmt: skip
    print(
        f"serve with: smdh serve --tls-cert {made.cert} --tls-key {made.key}\n"
        f"clients trust {made.cert} (self-signed: it is its own CA)",
        file=sys.stderr,
    )
    return {
        "cert": str(made.cert),
        "key": str(made.key),
        "names": ",".join(made.names),
        "not_after": made.not_after.isoformat(timespec="seconds"),
    }


def _positive_days(text: str) -> int:
    days = int(text)
    if not 1 <= days <= 3650:
        raise argparse.ArgumentTypeError(f"between 1 and 3650 days, got {text}")
    return days


def add_tls_cert_parser(sub: Any) -> None:
    """``smdh tls-cert ...`` on the main parser's subcommands."""
    p = sub.add_parser(
        "tls-cert",
        help="write a self-signed certificate and key for trying TLS (serve --tls-cert)",
        description="Writes DIR/cert.pem and DIR/key.pem (the key with mode 0600): a self-signed "
        "server certificate for each --host plus localhost, 127.0.0.1 and ::1. Clients trust "
        "cert.pem itself. For trials; in production use a certificate from your CA.",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR")
    p.add_argument(
        "--host",
        action="append",
        default=[],
        dest="hosts",
        metavar="NAME",
        help="a DNS name or IP address clients use to reach the hub (repeatable)",
    )
    p.add_argument("--rsa", action="store_true", help="RSA 2048 instead of EC P-256")
    p.add_argument("--days", type=_positive_days, default=365, help="validity (default 365)")
    p.add_argument("--force", action="store_true", help="replace existing files")
    p.set_defaults(action=run_tls_cert)
