"""The real clock and id generator."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    def new_id(self, prefix: str = "") -> str:
        return f"{prefix}{uuid.uuid4().hex}"

    def new_secret(self) -> str:
        return secrets.token_urlsafe(32)
