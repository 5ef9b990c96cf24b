"""Per-tenant readings-per-second quotas: a token bucket per tenant.

The rate comes from the tenant's profile (``TenantQuotas.max_readings_per_second``); the
bucket holds one second of burst. Over-quota readings are rejected with a reason and
counted, never dropped silently.
"""

from __future__ import annotations

import threading

from smdh.application.projections import TenantDirectory


class RateLimiter:
    def __init__(self, directory: TenantDirectory, burst_seconds: float = 1.0) -> None:
        self._directory = directory
        self._burst_seconds = burst_seconds
        self._buckets: dict[str, tuple[float, float]] = {}  # tenant -> (tokens, last time)
        self._lock = threading.Lock()

    def grant(self, tenant_id: str, wanted: int, now: float) -> int:
        """How many of ``wanted`` readings the tenant may store now (0..wanted)."""
        tenant = self._directory.tenant(tenant_id)
        if tenant is None:
            return 0
        rate = float(tenant.quotas.max_readings_per_second)
        if rate <= 0:
            return 0
        capacity = rate * self._burst_seconds
        with self._lock:
            tokens, last = self._buckets.get(tenant_id, (capacity, now))
            tokens = min(capacity, tokens + max(0.0, now - last) * rate)
            granted = min(wanted, int(tokens))
            self._buckets[tenant_id] = (tokens - granted, now)
        return granted
