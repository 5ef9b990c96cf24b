"""deploy/template.yaml: cfn-lint clean, and the properties the design depends on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

TEMPLATE = Path(__file__).parents[3] / "deploy" / "template.yaml"


class _Loader(yaml.SafeLoader):
    """Reads CloudFormation short forms (!Ref, !Sub, ...) as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_Loader)  # noqa: S506
    return loaded


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_cfn_lint_is_clean() -> None:
    lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or "cfn-lint"
    done = subprocess.run(  # noqa: S603
        [lint, str(TEMPLATE)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_kinesis_mapping_reports_item_failures_bisects_and_bounds_retries(
    template: dict[str, Any],
) -> None:
    function = template["Resources"]["KinesisIngestFunction"]["Properties"]
    stream = function["Events"]["Stream"]["Properties"]
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream["BisectBatchOnFunctionError"] is True
    assert 0 < stream["MaximumRetryAttempts"] <= 10
    assert stream["DestinationConfig"]["OnFailure"]["Destination"]
    assert function["Handler"] == "smdh.entrypoints.lambdas.kinesis_ingest.handler"


def test_iot_rules_use_sql_2016_and_a_basic_ingest_variant_exists(template: dict[str, Any]) -> None:
    rules = resources(template, "AWS::IoT::TopicRule")
    assert {r["Properties"]["TopicRulePayload"]["AwsIotSqlVersion"] for r in rules.values()} == {
        "2016-03-23"
    }
    names = {r["Properties"].get("RuleName") for r in rules.values()}
    assert "smdh_basic_ingest" in names  # devices publish to $aws/rules/smdh_basic_ingest/...


def test_timestream_retention_is_a_parameter_defaulting_below_the_seeds_90_days(
    template: dict[str, Any],
) -> None:
    assert template["Parameters"]["MemoryStoreRetentionHours"]["Default"] < 90 * 24
    tables = resources(template, "AWS::Timestream::Table")
    assert {t["Properties"]["TableName"] for t in tables.values()} >= {
        "machine_telemetry",
        "energy_monitoring",
        "air_quality",
        "job_scan_events",
        "aggregated_metrics",
    }


def _statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in function["Properties"].get("Policies", []) for s in policy["Statement"]]


ALLOWED_ON_STAR = {"timestream:DescribeEndpoints", "timestream:SelectValues", "sns:Publish"}


def test_each_function_has_its_own_least_privilege_policy(template: dict[str, Any]) -> None:
    functions = resources(template, "AWS::Serverless::Function")
    assert len(functions) >= 5
    for name, function in functions.items():
        statements = _statements(function)
        assert statements, f"{name} has no policy of its own"
        for statement in statements:
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            assert all("*" not in action for action in actions), (name, actions)
            if statement["Resource"] == "*":
                assert set(actions) <= ALLOWED_ON_STAR, (name, actions)
