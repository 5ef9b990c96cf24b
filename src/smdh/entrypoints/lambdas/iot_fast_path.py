"""Optional IoT fast path: an IoT rule sends critical messages straight to this Lambda.

The seed's "critical alert processor" re-implemented thresholds inside the rule. Here the
rule only selects messages worth hurrying (its SQL ``WHERE``) and this function runs them
through the *same* ingest pipeline as Kinesis, so the same parser, store write and
after-store alert evaluation apply: there is one evaluator. Because Timestream writes are
idempotent (deterministic versions), the same message arriving later through Kinesis stores
nothing new. The rule builds the stream envelope (see ``deploy/template.yaml``).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from smdh.adapters.aws.kinesis_publisher import decode_record
from smdh.application.ingest import IngestPipeline
from smdh.entrypoints.lambdas import runtime

logger = Logger(service="smdh-iot-fast-path")


def fast_path(event: dict[str, Any], pipeline: IngestPipeline) -> dict[str, int]:
    """The rule's output is the stream envelope itself (a JSON object)."""
    record = decode_record(json.dumps(event).encode("utf-8"))
    result = pipeline.process([record])
    return {"stored": len(result.stored), "dead_letters": result.dead_letters}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    return fast_path(event, runtime.refreshed().ingest_pipeline())
