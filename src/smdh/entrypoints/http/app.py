"""The aiohttp application factory (grows into the full v1 API)."""

from __future__ import annotations

from aiohttp import web

from smdh import __version__
from smdh.entrypoints.container import Container

CONTAINER_KEY = web.AppKey("container", Container)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


async def readyz(request: web.Request) -> web.Response:
    container = request.app[CONTAINER_KEY]
    container.event_store().current_version("readiness-probe")
    return web.json_response({"status": "ready"})


def create_app(container: Container) -> web.Application:
    app = web.Application()
    app[CONTAINER_KEY] = container
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
