"""The Lambda runtime's composition: one ``aws`` container per cold start, built on first use.

Importing a handler module creates no client and reads no table; the first invocation
builds the container (``build_container("aws")``, names from the environment) and every
later invocation of the same execution environment reuses it, clients and caches included.

The device registry and tenant directory are projections of the event store held in memory.
``refreshed()`` brings them up to date at most every ``SMDH_REGISTRY_TTL_S`` seconds (one
DynamoDB Query for the new events, usually empty), so a warm ingest function does no
DynamoDB read per reading; a device registered a moment ago is seen within the TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from smdh.entrypoints.container import Container, build_container

_lock = threading.Lock()
_container: Container | None = None
_refreshed_at = float("-inf")


def container() -> Container:
    global _container  # noqa: PLW0603  (one container per execution environment)
    with _lock:
        if _container is None:
            _container = build_container("aws")
            attach_alerting(_container)
        return _container


def attach_alerting(built: Container) -> None:
    """Alert evaluation as the pipeline's after-store hook (the same evaluator as the hub)."""
    hook = getattr(built, "alerting_hook", None)
    if callable(hook):
        hook()


def refreshed(monotonic: Callable[[], float] = time.monotonic) -> Container:
    """The container, its projections caught up if they are older than the TTL."""
    global _refreshed_at  # noqa: PLW0603
    built = container()
    ttl = built.aws_resources().registry_ttl_s
    now = monotonic()
    if now - _refreshed_at >= ttl:
        built.application().refresh()
        _refreshed_at = now
    return built


def use(replacement: Container | None) -> None:
    """Install a container (tests, benchmarks) or forget it (None): the next call rebuilds."""
    global _container, _refreshed_at  # noqa: PLW0603
    if replacement is not None:
        attach_alerting(replacement)
    with _lock:
        _container = replacement
        _refreshed_at = float("-inf")
