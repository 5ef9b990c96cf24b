"""``smdh serve``: run the hub's long-lived parts until Ctrl-C, then shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web

from smdh.entrypoints.container import Container
from smdh.entrypoints.http.app import create_app

log = logging.getLogger("smdh.serve")

# Read models follow the store on a timer too, so changes made by another process (the CLI
# while the hub runs) reach the API within a second.
REFRESH_INTERVAL_S = 1.0


def parse_host_port(value: str, default_port: int) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, default_port
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"bad port in {value!r}; expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


async def _refresh_forever(container: Container) -> None:
    application = container.application()
    while True:
        await asyncio.sleep(REFRESH_INTERVAL_S)
        try:
            application.refresh()
        except Exception:
            log.exception("refreshing read models failed")


async def run_hub(
    container: Container,
    host: str,
    port: int,
    on_started: Callable[[str], Awaitable[None] | None] | None = None,
) -> None:
    application = container.application()
    application.refresh()
    runner = web.AppRunner(create_app(container), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    base_url = f"http://{host}:{port}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    refresher = asyncio.create_task(_refresh_forever(container))
    try:
        if on_started is not None:
            maybe = on_started(base_url)
            if maybe is not None:
                await maybe
        await stop.wait()
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        await runner.cleanup()
        container.event_store().close()
