"""boto3 clients from settings: region, endpoint override (moto in tests), retries.

Nothing happens at import time. ``AwsClientFactory`` owns one ``boto3.session.Session``
(sessions are not thread-safe, clients are) and caches one client per service, so the
composition root can hand the same client to several adapters.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import boto3
from botocore.config import Config

RetryMode = Literal["legacy", "standard", "adaptive"]


@attrs.frozen(kw_only=True)
class AwsSettings:
    region: str = "eu-central-1"
    endpoint_url: str | None = None  # e.g. a moto server; None = the real AWS endpoints
    max_attempts: int = 5  # botocore's own retries of throttling and 5xx, per call
    retry_mode: RetryMode = "standard"
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    profile: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AwsSettings:
        """``SMDH_AWS_REGION`` (or ``AWS_REGION``), ``SMDH_AWS_ENDPOINT_URL``,
        ``SMDH_AWS_MAX_ATTEMPTS``, ``SMDH_AWS_PROFILE``."""
        values = os.environ if env is None else env
        region = values.get("SMDH_AWS_REGION") or values.get("AWS_REGION") or cls().region
        return cls(
            region=region,
            endpoint_url=values.get("SMDH_AWS_ENDPOINT_URL") or None,
            max_attempts=int(values.get("SMDH_AWS_MAX_ATTEMPTS", "5")),
            profile=values.get("SMDH_AWS_PROFILE") or None,
        )


class AwsClientFactory:
    """``factory.client("dynamodb")``: one cached, thread-safe client per service name."""

    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[str, Any] = {}

    def client(self, service_name: str) -> Any:
        with self._lock:
            if service_name not in self._clients:
                self._clients[service_name] = self._create(service_name)
            return self._clients[service_name]

    def _create(self, service_name: str) -> Any:
        settings = self.settings
        if self._session is None:
            self._session = boto3.session.Session(
                profile_name=settings.profile, region_name=settings.region
            )
        config = Config(
            region_name=settings.region,
            retries={"max_attempts": settings.max_attempts, "mode": settings.retry_mode},
            connect_timeout=settings.connect_timeout_s,
            read_timeout=settings.read_timeout_s,
        )
        return self._session.client(service_name, endpoint_url=settings.endpoint_url, config=config)
