"""``smdh simulate``: the CLI side of the simulator (device file, options, progress).

The publisher (paho, aiohttp) is imported only when the command runs: ``smdh`` starts fast.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smdh.entrypoints.simulator import DEFAULT_MQTT_URL
from smdh.entrypoints.simulator.models import MODEL_TYPES

if TYPE_CHECKING:
    from smdh.entrypoints.simulator.publisher import SimDevice, Stats


@dataclass(frozen=True)
class DeviceFile:
    devices: tuple[SimDevice, ...]
    mqtt: str | None = None
    http: str | None = None
    ca_file: str | None = None  # "tls": {"ca_file"}: what to trust for mqtts:// and https://


def utc_offset(timezone: str | None, at: float) -> float:
    """The offset of an IANA zone at epoch seconds ``at``; ValueError for an unknown zone."""
    if not timezone:
        return 0.0
    try:
        offset = datetime.fromtimestamp(at, ZoneInfo(timezone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {timezone!r}") from None
    return offset.total_seconds() if offset is not None else 0.0


def load_device_file(path: Path, default_timezone: str | None = None) -> DeviceFile:
    """The devices of a ``demo.json``-shaped file: ``{"mqtt", "http", "devices": [{"device_id",
    "sensor_type", "username", "password", "site_id", optional "timezone"}], optional "tls":
    {"ca_file"}}`` (a relative ``ca_file`` is relative to the file's folder)."""
    from smdh.entrypoints.simulator.publisher import SimDevice  # noqa: PLC0415 - see above

    try:
        content = json.loads(path.read_text())
        now, devices = time.time(), []
        for entry in content["devices"]:
            zone = entry.get("timezone") or default_timezone
            device = SimDevice(
                device_id=str(entry["device_id"]),
                sensor_type=str(entry["sensor_type"]),
                username=str(entry["username"]),
                password=str(entry["password"]),
                site_id=str(entry.get("site_id") or "site"),
                utc_offset_s=utc_offset(zone, now),
            )
            devices.append(device)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(
            f'{path}: expected {{"devices": [{{"device_id", "sensor_type", "username", '
            f'"password", "site_id"}}, ...]}} ({type(exc).__name__}: {exc})'
        ) from None
    tls = content.get("tls")
    ca_file = tls.get("ca_file") if isinstance(tls, dict) else None
    if ca_file is not None:
        ca_file = str(path.parent / str(ca_file))  # an absolute ca_file stays as it is
    return DeviceFile(
        tuple(devices), mqtt=content.get("mqtt"), http=content.get("http"), ca_file=ca_file
    )


def local_url(url: str) -> str:
    """``url`` with a wildcard bind address (0.0.0.0, [::]), as a hub on every address
    writes it into demo.json, replaced by loopback: somewhere to connect to, and a name a
    certificate holds (``smdh tls-cert`` always puts 127.0.0.1 and ::1 in)."""
    parts = urlsplit(url)
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(parts.hostname or "")  # noqa: S104
    if host is None:
        return url
    return urlunsplit(parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host))


def parse_start(text: str) -> float:
    """Epoch seconds, or an ISO 8601 date-time (UTC when it has no offset)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not epoch seconds or ISO 8601: {text!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def add_simulate_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Adds ``simulate`` to the ``smdh`` subcommands; its action is ``simulate``."""
    p = subparsers.add_parser(
        "simulate",
        help="run simulated devices (machines, meters, air quality, scanners) against a hub",
        description="Simulated devices publish realistic telemetry and scans with their own "
        "credentials. Simulated time never runs ahead of the clock: at --speed > 1 the run "
        "starts in the past (by duration x (speed - 1), or one day) and catches up.",
    )
    p.add_argument("--devices", required=True, type=Path, metavar="FILE", help="e.g. demo.json")
    p.add_argument("--seed", type=int, help="random seed (default: a random one, printed)")
    p.add_argument("--speed", type=_positive, default=1.0, help="simulated seconds per second")
    p.add_argument("--duration", type=_positive, metavar="SECONDS", help="default: until Ctrl-C")
    p.add_argument("--transport", choices=("mqtt", "http"), default="mqtt")
    p.add_argument(
        "--batch-seconds",
        type=_positive,
        default=1.0,
        metavar="N",
        help="send each device's telemetry every N seconds, batched (default 1)",
    )
    p.add_argument(
        "--mqtt", metavar="URL", help=f"broker (default: the file's, or {DEFAULT_MQTT_URL})"
    )
    p.add_argument("--http", metavar="URL", help="hub for --transport http (default: the file's)")
    p.add_argument(
        "--tls-ca",
        metavar="FILE",
        help="CA certificate(s) to trust for mqtts:// and https:// URLs, e.g. the hub's "
        "self-signed cert.pem (default: the file's tls.ca_file, else the system's CAs)",
    )
    p.add_argument("--start", type=parse_start, help="simulated start: epoch seconds or ISO 8601")
    p.add_argument("--timezone", help="IANA zone for devices without one (work hours; default UTC)")
    p.add_argument("--type", action="append", dest="types", choices=MODEL_TYPES, metavar="TYPE")
    p.add_argument("--progress-seconds", type=_positive, default=5.0, metavar="N")
    p.set_defaults(action=simulate)
    return p


def _progress_line(stats: Stats) -> str:
    return (
        f"[{stats.elapsed_s:6.0f}s] sim {_iso(stats.sim_time)}  {stats.rate:7.1f} msg/s  "
        f"sent {stats.sent}  published {stats.published}  failed {stats.failed}  "
        f"connected {stats.connected}/{stats.devices}"
    )


def _fail(message: str) -> SystemExit:
    print(f"error: {message}", file=sys.stderr)
    return SystemExit(2)


def simulate(args: argparse.Namespace, _container: object = None) -> dict[str, object]:
    from smdh.entrypoints.simulator.publisher import Simulation  # noqa: PLC0415 - see above

    try:
        device_file = load_device_file(args.devices, args.timezone)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    wanted = set(args.types or MODEL_TYPES)
    skipped = sorted({d.sensor_type for d in device_file.devices} - set(MODEL_TYPES))
    if skipped:
        print(f"warning: no simulator model for {', '.join(skipped)}; skipped", file=sys.stderr)
    devices = [d for d in device_file.devices if d.sensor_type in wanted]
    if not devices:
        raise _fail(f"no devices to simulate in {args.devices}")
    seed = args.seed if args.seed is not None else secrets.randbelow(1_000_000)
    mqtt_url = local_url(args.mqtt or device_file.mqtt or DEFAULT_MQTT_URL)
    http_url = local_url(args.http or device_file.http or "") or None
    if args.transport == "http" and not http_url:
        raise _fail('--transport http needs --http URL (or "http" in the device file)')
    tls_ca = args.tls_ca or device_file.ca_file
    if tls_ca is not None and not Path(tls_ca).is_file():
        raise _fail(f"--tls-ca {tls_ca}: no such file")
    target = http_url if args.transport == "http" else mqtt_url
    if args.tls_ca and not str(target).startswith(("https://", "mqtts://", "ssl://")):
        print(f"warning: --tls-ca is not used: {target} is not TLS", file=sys.stderr)
    try:
        simulation = Simulation(
            devices,
            mqtt_url,
            seed=seed,
            speed=args.speed,
            batch_seconds=args.batch_seconds,
            duration_s=args.duration,
            on_progress=lambda stats: print(_progress_line(stats), file=sys.stderr, flush=True),
            transport=args.transport,
            http_url=http_url,
            start=args.start,
            progress_interval_s=args.progress_seconds,
            tls_ca=tls_ca,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    start = simulation.start_time(time.time())  # (at speed 1: once devices are connected)
    print(
        f"simulating {len(devices)} devices -> {target}  seed {seed}  speed {args.speed:g}  "
        f"from {_iso(start)}  (Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    try:
        stats = simulation.run(handle_signals=True)
    except ValueError as exc:  # a malformed broker URL
        raise _fail(str(exc)) from None
    print(_progress_line(stats), file=sys.stderr)
    if stats.sent and not stats.published:
        print(
            f"warning: nothing was acknowledged; is {target} up and are the devices registered?",
            file=sys.stderr,
        )
    return {
        "devices": stats.devices,
        "seed": seed,
        "seconds": round(stats.elapsed_s, 1),
        "simulated_until": _iso(stats.sim_time),
        "sent": stats.sent,
        "published": stats.published,
        "failed": stats.failed,
        "samples": stats.samples,
        "reconnects": stats.reconnects,
        "messages_per_s": round(stats.published / max(stats.elapsed_s, 1e-9), 1),
    }
