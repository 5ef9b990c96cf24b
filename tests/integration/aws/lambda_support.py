"""Lambda test helpers: a LambdaContext stand-in and the aws-profile world the handlers use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from smdh.entrypoints.container import Container
from smdh.entrypoints.lambdas import runtime

EVENTS = Path(__file__).parents[2] / "fixtures" / "aws_events"


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


@attrs.frozen
class FakeContext:
    function_name: str = "smdh-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-central-1:123456789012:function:smdh-test"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name: str = "/aws/lambda/smdh-test"
    log_stream_name: str = "2026/01/05/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def installed() -> Iterator[list[Container]]:
    """Install containers into the Lambda runtime; forgotten after the test."""
    holder: list[Container] = []
    yield holder
    runtime.use(None)


def install(holder: list[Container], container: Container) -> None:
    runtime.use(container)
    holder.append(container)
