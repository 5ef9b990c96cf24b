"""In-memory ``EvaluationStateStore``: the snapshot lives as long as the object."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any

from smdh.application.alerting import StateSnapshot


class InMemoryEvaluationStateStore:
    def __init__(self) -> None:
        self._rules: dict[str, Mapping[str, Any]] = {}
        self._seen: dict[str, list[Any]] = {}
        self._saved_at: float | None = None
        self._lock = threading.Lock()
        self.saves = 0

    def load(self) -> StateSnapshot:
        with self._lock:
            return StateSnapshot(
                copy.deepcopy(self._rules), copy.deepcopy(self._seen), self._saved_at
            )

    def save(
        self,
        rules: Mapping[str, Mapping[str, Any] | None],
        last_seen: Mapping[str, list[Any]],
        saved_at: float,
    ) -> None:
        with self._lock:
            for key, data in rules.items():
                if data is None:
                    self._rules.pop(key, None)
                else:
                    self._rules[key] = data
            self._seen.update(last_seen)
            self._saved_at = saved_at
            self.saves += 1
