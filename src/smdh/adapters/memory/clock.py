"""Deterministic clock and ids for tests and offline runs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        self._now = moment


class SequentialIds:
    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def new_id(self, prefix: str = "") -> str:
        return f"{prefix}{next(self._counter):08d}"

    def new_secret(self) -> str:
        return f"secret-{next(self._counter):08d}-{'x' * 24}"
