"""The ``smdh`` command.

argparse (standard library) rather than click/typer: the command set is small, and the
``smdh`` entry point then costs no dependency and starts fast. Admin commands call the
same application handlers as the HTTP API, acting as the local platform operator: whoever
can run them already holds the data directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from smdh import __version__
from smdh.adapters.serialization import converter
from smdh.application import commands as c
from smdh.application.principals import Principal
from smdh.domain.shared.errors import DomainError
from smdh.domain.shared.ids import DeviceId, SiteId, TenantId, UserId
from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.container import Container, build_container
from smdh.entrypoints.erase_command import add_erase_parser
from smdh.entrypoints.export_command import add_export_parser
from smdh.entrypoints.simulator.command import add_simulate_parser
from smdh.entrypoints.tls import TlsSetupError, load_tls_files
from smdh.entrypoints.tls_command import add_tls_cert_parser

OPERATOR = Principal.operator("local-admin")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

Action = Callable[[argparse.Namespace, Container], Any]


class UsageError(Exception):
    pass


def _key_values(pairs: Sequence[str]) -> dict[str, object]:
    result: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise UsageError(f"expected KEY=VALUE, got {pair!r}")
        try:
            value: object = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        result[key] = value
    return result


def _app(container: Container) -> Any:
    application = container.application()
    application.refresh()
    return application


# --- actions -------------------------------------------------------------------------------


def tenant_create(args: argparse.Namespace, container: Container) -> Any:
    version = _app(container).execute(
        c.RegisterTenant(
            principal=OPERATOR,
            tenant_id=TenantId(args.tenant),
            name=args.name,
            max_devices=args.max_devices,
            max_readings_per_second=args.max_readings_per_second,
        )
    )
    return {"tenant_id": args.tenant, "version": version}


def tenant_list(_args: argparse.Namespace, container: Container) -> Any:
    _app(container)
    return container.queries().list_tenants(OPERATOR)


def tenant_suspend(args: argparse.Namespace, container: Container) -> Any:
    command = c.SuspendTenant(
        principal=OPERATOR, tenant_id=TenantId(args.tenant), reason=args.reason
    )
    return {"tenant_id": args.tenant, "version": _app(container).execute(command)}


def tenant_reactivate(args: argparse.Namespace, container: Container) -> Any:
    command = c.ReactivateTenant(principal=OPERATOR, tenant_id=TenantId(args.tenant))
    return {"tenant_id": args.tenant, "version": _app(container).execute(command)}


def site_create(args: argparse.Namespace, container: Container) -> Any:
    command = c.RegisterSite(
        principal=OPERATOR,
        tenant_id=TenantId(args.tenant),
        site_id=SiteId(args.site),
        name=args.name,
        timezone=args.timezone,
        address=args.address,
        tariff_ref=args.tariff,
    )
    return {"site_id": args.site, "version": _app(container).execute(command)}


def site_list(args: argparse.Namespace, container: Container) -> Any:
    _app(container)
    return container.queries().list_sites(OPERATOR, TenantId(args.tenant))


def user_invite(args: argparse.Namespace, container: Container) -> Any:
    application = _app(container)
    tenant_id, user_id = TenantId(args.tenant), UserId(args.user)
    application.execute(
        c.InviteUser(
            principal=OPERATOR,
            tenant_id=tenant_id,
            user_id=user_id,
            email=args.email,
            role=Role(args.role),
        )
    )
    if args.password:
        container.identity().set_user_password(tenant_id, user_id, args.password)
    return {"tenant_id": tenant_id, "user_id": user_id, "role": args.role}


def user_list(args: argparse.Namespace, container: Container) -> Any:
    _app(container)
    return container.queries().list_users(OPERATOR, TenantId(args.tenant))


def user_password(args: argparse.Namespace, container: Container) -> Any:
    _app(container)
    principal = container.identity().set_user_password(
        TenantId(args.tenant), UserId(args.user), args.password
    )
    return {"user": principal.actor, "password": "set"}


def device_register(args: argparse.Namespace, container: Container) -> Any:
    credentials = _app(container).execute(
        c.RegisterDevice(
            principal=OPERATOR,
            tenant_id=TenantId(args.tenant),
            device_id=DeviceId(args.device),
            site_id=SiteId(args.site),
            sensor_type=args.type,
            name=args.name or args.device,
            metadata=_key_values(args.meta),
            ideal_cycle_time_s=args.ideal_cycle_time,
        )
    )
    return credentials


def device_list(args: argparse.Namespace, container: Container) -> Any:
    _app(container)
    entries = container.queries().list_devices(
        OPERATOR, TenantId(args.tenant), site_id=args.site, sensor_type=args.type
    )
    return [
        {k: v for k, v in converter.unstructure(e).items() if k != "credential_hash"}
        for e in entries
    ]


def operator_create(args: argparse.Namespace, container: Container) -> Any:
    principal = container.identity().set_operator_password(args.name, args.password)
    token = container.token_authority().issue(principal)
    return {"operator": principal.subject, "access_token": token.access_token}


def token_issue(args: argparse.Namespace, container: Container) -> Any:
    _app(container)
    principal = container.identity().authenticate(args.tenant, args.username, args.password)
    return container.token_authority().issue(principal)


def _log_to_file(container: Container) -> None:
    path = Path(container.config.data_dir()) / "smdh.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in ("amqtt", "transitions"):  # chatty per-connection state machines
        logging.getLogger(name).setLevel(logging.WARNING)
    for existing in root.handlers:
        if existing is not handler:
            existing.setLevel(logging.WARNING)


def serve(args: argparse.Namespace, container: Container) -> Any:
    from smdh.entrypoints.serve import HubOptions, parse_host_port, run_hub  # noqa: PLC0415

    try:  # every option is checked before anything starts (TlsSetupError is a ValueError)
        options = HubOptions(
            http=parse_host_port(args.http, 8080),
            mqtt_listen=parse_host_port(args.mqtt_listen, 1883),
            mqtt_url=args.mqtt,
            tune_gc=True,
            tls=load_tls_files(args.tls_cert, args.tls_key),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _log_to_file(container)
    if args.demo:
        from smdh.entrypoints.demo_run import run_demo  # noqa: PLC0415

        asyncio.run(run_demo(container, options, seed=args.seed, simulate=not args.no_simulator))
        return None

    def started(endpoints: Any) -> None:
        print(f"SMDH {__version__} serving {endpoints.http_url}, MQTT {endpoints.mqtt_url}")
        print(f"data in {container.config.data_dir()}; Ctrl-C to stop.", flush=True)

    asyncio.run(run_hub(container, options, on_started=started))
    return None


# --- parser --------------------------------------------------------------------------------


Groups = dict[str, "argparse._SubParsersAction[argparse.ArgumentParser]"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smdh", description="Smart Manufacturing Data Hub")
    parser.add_argument("--version", action="version", version=f"smdh {__version__}")
    parser.add_argument("--data-dir", help="data directory (default $SMDH_DATA_DIR or ./smdh-data)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")

    p = sub.add_parser("serve", help="run the hub (HTTP API; --demo adds a demo tenant)")
    p.add_argument("--http", default="127.0.0.1:8080", help="HOST:PORT to serve HTTP on")
    p.add_argument("--demo", action="store_true", help="create and run the demo tenant")
    p.add_argument("--mqtt-listen", default="127.0.0.1:1883", help="embedded broker HOST:PORT")
    p.add_argument("--mqtt", default=None, help="external broker URL instead of the embedded one")
    p.add_argument("--seed", type=int, default=42, help="simulator seed (with --demo)")
    p.add_argument("--no-simulator", action="store_true", help="--demo without simulated devices")
    p.add_argument(
        "--tls-cert",
        metavar="CERT.pem",
        help="serve HTTPS and MQTT over TLS with this certificate (PEM, chain after it)",
    )
    p.add_argument("--tls-key", metavar="KEY.pem", help="the certificate's private key (PEM)")
    p.set_defaults(action=serve)
    add_simulate_parser(sub)
    add_tls_cert_parser(sub)
    add_export_parser(sub)
    add_erase_parser(sub)

    groups: Groups = {}
    for name, text in (
        ("tenant", "manage tenants"),
        ("site", "manage a tenant's sites"),
        ("user", "manage a tenant's users"),
        ("device", "manage a tenant's devices"),
        ("operator", "manage platform operators"),
        ("token", "get access tokens"),
    ):
        group = sub.add_parser(name, help=text)
        groups[name] = group.add_subparsers(dest="verb", metavar="ACTION", required=True)
    _tenant_commands(groups)
    _site_and_user_commands(groups)
    _device_commands(groups)
    _identity_commands(groups)
    return parser


def _tenant_commands(groups: Groups) -> None:
    p = groups["tenant"].add_parser("create", help="register a tenant")
    p.add_argument("tenant", help="tenant id: lowercase slug, e.g. acme")
    p.add_argument("--name", required=True)
    p.add_argument("--max-devices", type=int)
    p.add_argument("--max-readings-per-second", type=int)
    p.set_defaults(action=tenant_create)
    p = groups["tenant"].add_parser("list", help="list tenants")
    p.set_defaults(action=tenant_list)
    p = groups["tenant"].add_parser("suspend", help="suspend a tenant")
    p.add_argument("tenant")
    p.add_argument("--reason", required=True)
    p.set_defaults(action=tenant_suspend)
    p = groups["tenant"].add_parser("reactivate", help="reactivate a suspended tenant")
    p.add_argument("tenant")
    p.set_defaults(action=tenant_reactivate)


def _site_and_user_commands(groups: Groups) -> None:
    p = groups["site"].add_parser("create", help="register a site")
    p.add_argument("--tenant", required=True)
    p.add_argument("site")
    p.add_argument("--name", required=True)
    p.add_argument("--timezone", required=True, help="IANA zone, e.g. Europe/Berlin")
    p.add_argument("--address", default="")
    p.add_argument("--tariff", default=None, help="electricity tariff reference")
    p.set_defaults(action=site_create)
    p = groups["site"].add_parser("list", help="list sites")
    p.add_argument("--tenant", required=True)
    p.set_defaults(action=site_list)

    p = groups["user"].add_parser("invite", help="invite a user with a role")
    p.add_argument("--tenant", required=True)
    p.add_argument("user")
    p.add_argument("--email", required=True)
    p.add_argument("--role", choices=[r.value for r in Role], required=True)
    p.add_argument("--password", help="set a local sign-in password at once")
    p.set_defaults(action=user_invite)
    p = groups["user"].add_parser("list", help="list users")
    p.add_argument("--tenant", required=True)
    p.set_defaults(action=user_list)
    p = groups["user"].add_parser("password", help="set a user's local sign-in password")
    p.add_argument("--tenant", required=True)
    p.add_argument("user")
    p.add_argument("--password", required=True)
    p.set_defaults(action=user_password)


def _device_commands(groups: Groups) -> None:
    p = groups["device"].add_parser("register", help="register a device (prints its secret once)")
    p.add_argument("--tenant", required=True)
    p.add_argument("device")
    p.add_argument("--site", required=True)
    p.add_argument("--type", required=True, help="sensor type, e.g. machine, energy")
    p.add_argument("--name")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--ideal-cycle-time", type=float, help="seconds per part (machines)")
    p.set_defaults(action=device_register)
    p = groups["device"].add_parser("list", help="list devices")
    p.add_argument("--tenant", required=True)
    p.add_argument("--site")
    p.add_argument("--type")
    p.set_defaults(action=device_list)


def _identity_commands(groups: Groups) -> None:
    p = groups["operator"].add_parser("create", help="create a platform operator, print a token")
    p.add_argument("name")
    p.add_argument("--password", required=True)
    p.set_defaults(action=operator_create)

    p = groups["token"].add_parser("issue", help="sign in and print an access token")
    p.add_argument("--tenant", help="tenant id (omit for an operator)")
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.set_defaults(action=token_issue)


def _print(result: Any, as_json: bool) -> None:
    if result is None:
        return
    data = converter.unstructure(result) if attrs.has(type(result)) else result
    if isinstance(data, list):
        data = [converter.unstructure(x) if attrs.has(type(x)) else x for x in data]
    if as_json or not isinstance(data, dict | list):
        print(json.dumps(data, indent=2, default=str))
        return
    rows = data if isinstance(data, list) else [data]
    if not rows:
        print("(none)")
    for row in rows:
        print("  ".join(f"{k}={v}" for k, v in row.items()) if isinstance(row, dict) else row)


def main(argv: Sequence[str] | None = None) -> int:
    # The terminal gets warnings only (the live summary stays readable); everything from
    # INFO up goes to <data-dir>/smdh.log for long-running commands.
    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "action", None) is None:
        parser.print_help()
        return 2
    try:
        container = build_container("local", args.data_dir)
        _print(args.action(args, container), args.json)
    except DomainError as error:
        print(f"error: {error.code}: {error}", file=sys.stderr)
        return 1
    except (UsageError, TlsSetupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
