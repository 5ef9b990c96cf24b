"""Tunables of the HTTP API (limits, timeouts), with production defaults."""

from __future__ import annotations

import attrs

from smdh.entrypoints.http.ratelimit import RateLimit

MIB = 1024 * 1024
DEFAULT_RATE_LIMIT = RateLimit(rate=50.0, burst=200)
DEFAULT_LOGIN_LIMIT = RateLimit(rate=0.5, burst=20)


@attrs.frozen(kw_only=True)
class HttpSettings:
    max_body_bytes: int = MIB  # larger bodies get 413
    rate_limit: RateLimit = DEFAULT_RATE_LIMIT  # per principal (or client address)
    login_limit: RateLimit = DEFAULT_LOGIN_LIMIT  # per client address, token route
    handler_timeout_s: float = 10.0  # 503 when an application call takes longer
    body_timeout_s: float = 10.0  # 408 when the body does not arrive in time
    executor_workers: int = 4  # threads running the (synchronous) application calls
    stream_heartbeat_s: float = 15.0  # comment lines on idle server-sent event streams
    # Local mode: a user's tenant must exist and be active, and they must still be a member
    # (their current role applies). Off for external identity providers (Cognito), whose
    # users are not in the tenant directory. None: on exactly when the local authority verifies.
    check_membership: bool | None = None
