"""Anomaly scoring: the port for a model endpoint and the built-in on-line z-score.

An ``anomaly`` rule asks a model how unusual a value is for its device. The built-in
``ZScoreModel`` answers from the device's own running mean and variance (kept in the
rule's ``RuleDeviceState``: Welford's algorithm, or exponentially weighted with the rule's
``window``), and gives no verdict before ``warmup`` samples. An adapter for an external
endpoint (the seed's SageMaker model) implements ``AnomalyModel`` and returns a z-like score;
it runs on the hot path, so it should answer from a local cache or a batch call.
"""

from __future__ import annotations

from typing import Protocol

from smdh.domain.alerts.evaluation_state import RuleDeviceState
from smdh.domain.alerts.rules import RuleDefinition


class AnomalyModel(Protocol):
    """Scores a value against a device's behaviour; ``None`` = no verdict yet (warm-up).

    The built-in ``ZScoreModel`` uses the on-line statistics kept in ``stats``; an adapter
    for an external endpoint (the seed's SageMaker model) implements the same method.
    """

    def score(
        self,
        definition: RuleDefinition,
        tenant_id: str,
        device_id: str,
        value: float,
        at: float,
        stats: RuleDeviceState,
    ) -> float | None: ...


class ZScoreModel:
    def score(
        self,
        definition: RuleDefinition,
        tenant_id: str,
        device_id: str,
        value: float,
        at: float,
        stats: RuleDeviceState,
    ) -> float | None:
        if stats.count < definition.warmup:
            return None
        return stats.z_score(value, definition.window)


DEFAULT_MODEL = ZScoreModel()
