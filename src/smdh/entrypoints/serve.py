"""``smdh serve``: run the hub's long-lived parts until Ctrl-C, then shut down cleanly.

Start order: read models, HTTP (whose start-up starts the ingest worker), MQTT. Stop order
is the reverse, so every message a source accepted is flushed to the store before the
worker stops, and every file is closed.

With ``HubOptions.tls`` both listeners speak TLS only (HTTPS, MQTT over TLS) with the same
certificate; without it, a listener on an address other than loopback gets one warning at
start-up: device passwords and access tokens would cross the network in clear text.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
from collections.abc import Awaitable, Callable

import attrs
from aiohttp import web

from smdh.entrypoints import gc_tuning
from smdh.entrypoints.container import Container
from smdh.entrypoints.http.app import create_app
from smdh.entrypoints.mqtt_ingress import MqttIngress
from smdh.entrypoints.tls import TlsFiles, server_ssl_context

log = logging.getLogger("smdh.serve")

# Read models follow the store on a timer too, so changes made by another process (the CLI
# while the hub runs) reach the API and the ingest path within a second.
REFRESH_INTERVAL_S = 1.0


def parse_host_port(value: str, default_port: int) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, default_port
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"bad port in {value!r}; expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


@attrs.frozen
class HubOptions:
    http: tuple[str, int] = ("127.0.0.1", 8080)
    mqtt_listen: tuple[str, int] = ("127.0.0.1", 1883)
    mqtt_url: str | None = None  # an external broker instead of the embedded one
    # process-wide garbage-collector settings (see gc_tuning): for the ``smdh serve``
    # process, not for a hub embedded in another program such as a test session
    tune_gc: bool = False
    # HTTPS and MQTT over TLS on the hub's own listeners (checked by tls.load_tls_files)
    tls: TlsFiles | None = None


@attrs.frozen
class HubEndpoints:
    http_url: str  # https:// with TLS
    mqtt_url: str  # mqtts:// with TLS on the embedded broker


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (a name other than localhost: no)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cleartext_warning(options: HubOptions) -> str | None:
    """The start-up warning for listeners others can reach without TLS, or None."""
    if options.tls is not None:
        return None
    exposed = [("HTTP", options.http)]
    if options.mqtt_url is None:  # the embedded broker listens; an external one is not ours
        exposed.append(("MQTT", options.mqtt_listen))
    names = [f"{kind} on {host}:{port}" for kind, (host, port) in exposed if not is_loopback(host)]
    if not names:
        return None
    return (
        f"{' and '.join(names)} without TLS: device passwords and access tokens cross the "
        "network in clear text. Start with --tls-cert CERT.pem --tls-key KEY.pem for HTTPS "
        "and MQTT over TLS (a self-signed pair for trials: smdh tls-cert --out DIR --host "
        "THIS-HOST), or bind to 127.0.0.1."
    )


def warn_if_cleartext(options: HubOptions) -> None:
    message = cleartext_warning(options)
    if message is not None:
        log.warning("%s", message)


StartedCallback = Callable[[HubEndpoints], Awaitable[None] | None]


RETENTION_EVERY_S = 24 * 3600.0
RETENTION_FIRST_AFTER_S = 60.0


async def _retention_daily(container: Container) -> None:
    """Each tenant's retention policy, once a day (archive first, then delete)."""
    await asyncio.sleep(RETENTION_FIRST_AFTER_S)
    while True:
        try:
            reports = await asyncio.to_thread(container.retention_job().run)
            log.info("retention: %s", reports)
        except Exception:
            log.exception("the retention job failed; it runs again tomorrow")
        await asyncio.sleep(RETENTION_EVERY_S)


async def _refresh_forever(container: Container) -> None:
    application = container.application()
    while True:
        await asyncio.sleep(REFRESH_INTERVAL_S)
        try:
            application.refresh()
        except Exception:
            log.exception("refreshing read models failed")


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def run_hub(
    container: Container,
    options: HubOptions,
    on_started: StartedCallback | None = None,
    stop: asyncio.Event | None = None,
    on_stopping: Callable[[], Awaitable[None]] | None = None,
) -> None:
    warn_if_cleartext(options)
    ssl_context = server_ssl_context(options.tls) if options.tls is not None else None
    container.application().refresh()
    # our own JSON access log replaces aiohttp's (access_log=None)
    runner = web.AppRunner(create_app(container), access_log=None)
    await runner.setup()
    mqtt = MqttIngress(
        container, listen=options.mqtt_listen, external_url=options.mqtt_url, tls=options.tls
    )
    refresher: asyncio.Task[None] | None = None
    retention: asyncio.Task[None] | None = None
    freezer: asyncio.Task[None] | None = None
    stop = stop or _stop_event()
    try:
        site = web.TCPSite(runner, *options.http, ssl_context=ssl_context)
        await site.start()
        await mqtt.start()
        refresher = asyncio.create_task(_refresh_forever(container))
        retention = (
            asyncio.create_task(_retention_daily(container))
            if container.config.profile() == "local"
            else None
        )
        if options.tune_gc:
            gc_tuning.tune_for_server()
            freezer = asyncio.create_task(gc_tuning.keep_frozen())
        scheme = "https" if options.tls is not None else "http"
        endpoints = HubEndpoints(f"{scheme}://{options.http[0]}:{options.http[1]}", mqtt.url)
        if on_started is not None:
            maybe = on_started(endpoints)
            if maybe is not None:
                await maybe
        await stop.wait()
    finally:
        log.info("shutting down: flushing what the sources accepted")
        if on_stopping is not None:
            await on_stopping()
        for task in (refresher, retention, freezer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await mqtt.stop()
        await runner.cleanup()  # stops the ingest worker after it drained its queue
        _close_stores(container)


def _close_stores(container: Container) -> None:
    for provider in (
        container.rollup_store,  # flushes its marks into the telemetry file first
        container.event_store,
        container.telemetry_store,
        container.dead_letters,
        container.credentials,
    ):
        store = provider()
        close = getattr(store, "close", None)
        if close is not None:
            close()
