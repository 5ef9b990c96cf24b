"""The aiohttp application factory: the v1 route table served with middlewares.

``create_app(container)`` is what ``smdh serve`` runs. ``verifier`` replaces the local token
authority (e.g. a ``CognitoTokenVerifier`` in AWS mode; the local token endpoint is then
off), ``settings`` the limits and timeouts.

The container's ingest worker is started on the app's event loop (``on_startup``) and
stopped, after flushing what was submitted, on cleanup; open live streams end on shutdown.
Alerting (evaluation on every stored batch, the 1 s tick, notification dispatch) starts and
stops with the app too (``alerting=False`` leaves it out).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from smdh.application.ports import TokenVerifier
from smdh.entrypoints.alerting_runtime import start_alerting
from smdh.entrypoints.container import Container
from smdh.entrypoints.http.aiohttp_adapter import RouteDispatcher
from smdh.entrypoints.http.core import Route, Services
from smdh.entrypoints.http.middlewares import Authenticator, problems, request_id_and_log
from smdh.entrypoints.http.ratelimit import TokenBuckets
from smdh.entrypoints.http.routes import all_routes
from smdh.entrypoints.http.settings import HttpSettings

CONTAINER_KEY = web.AppKey("container", Container)
SERVICES_KEY = web.AppKey("services", Services)
ROUTES_KEY = web.AppKey("routes", tuple[Route, ...])

MAX_LINE_SIZE = 16_384  # bytes of the request line (method, path, query, version)


def services_from(
    container: Container, *, local_tokens: bool = True, settings: HttpSettings | None = None
) -> Services:
    application = container.application()
    event_store = container.event_store()
    return Services(
        application=application,
        queries=container.queries(),
        identity=container.identity(),
        tokens=container.token_authority() if local_tokens else None,
        events=event_store,
        readiness=lambda: event_store.current_version("readiness-probe") and None,
        clock=container.clock(),
        telemetry=container.telemetry_store(),
        dead_letters=container.dead_letters(),
        ingest=container.ingest_worker(),
        live=container.live_feed(),
        metrics=container.ingest_metrics(),
        stream_heartbeat_s=(settings or HttpSettings()).stream_heartbeat_s,
        alerting=container.alerting_service(),
        deliveries=container.delivery_log(),
        rollups=container.rollup_store(),
        erasure=container.erasure_service(),
    )


def create_app(
    container: Container,
    verifier: TokenVerifier | None = None,
    settings: HttpSettings | None = None,
    *,
    alerting: bool = True,
) -> web.Application:
    local = verifier is None
    settings = settings or HttpSettings()
    check_membership = local if settings.check_membership is None else settings.check_membership
    services = services_from(container, local_tokens=local, settings=settings)
    executor = ThreadPoolExecutor(settings.executor_workers, thread_name_prefix="smdh-http")
    authenticator = Authenticator(
        verifier if verifier is not None else container.token_authority(),
        services.application.directory,
        TokenBuckets(settings.rate_limit),
        check_membership=check_membership,
        devices=container.device_authenticator(),
    )
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[request_id_and_log, problems, authenticator.middleware()],
        # aiohttp's default request-line limit is 8,190 bytes; allow long query strings
        handler_args={"max_line_size": MAX_LINE_SIZE},
    )
    app[CONTAINER_KEY] = container
    app[SERVICES_KEY] = services
    routes = all_routes()
    app[ROUTES_KEY] = routes
    dispatcher = RouteDispatcher(services, executor, settings, authenticator)
    for route in routes:
        app.router.add_route(route.method, route.path, dispatcher.handler(route))

    async def start_ingest(_app: web.Application) -> None:
        if services.ingest is not None:
            await services.ingest.start()

    async def end_streams(_app: web.Application) -> None:
        services.stopping.set()

    async def shutdown(_app: web.Application) -> None:
        if services.ingest is not None:
            await services.ingest.stop()
        executor.shutdown(wait=False, cancel_futures=True)

    app.on_startup.append(start_ingest)
    app.on_shutdown.append(end_streams)
    app.on_cleanup.append(shutdown)
    container.rollup_hook()  # rollup maintenance follows every stored batch (once per container)
    if alerting:  # evaluation hook, 1 s tick and the notification dispatcher (app's loop)
        start_alerting(container, app)
    return app
