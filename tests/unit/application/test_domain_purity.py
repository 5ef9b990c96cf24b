"""The domain is pure: no I/O libraries, no reading of the clock (checked on the source)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import smdh.domain

DOMAIN = Path(smdh.domain.__file__).parent

FORBIDDEN_MODULES = frozenset(
    {
        "boto3",
        "botocore",
        "aiohttp",
        "sqlite3",
        "duckdb",
        "requests",
        "httpx",
        "paho",
        "aiomqtt",
        "amqtt",
        "socket",
        "urllib3",
        "asyncio",
        "subprocess",
    }
)
# (owner, attribute) pairs that read the clock
CLOCK_READS = frozenset(
    {
        ("datetime", "now"),
        ("datetime", "utcnow"),
        ("datetime", "today"),
        ("date", "today"),
        ("time", "time"),
        ("time", "time_ns"),
        ("time", "monotonic"),
        ("time", "perf_counter"),
    }
)
CLOCK_FUNCTIONS_FROM_TIME = frozenset({"time", "time_ns", "monotonic", "perf_counter"})


def _owner_name(node: ast.expr) -> str | None:
    """'datetime' for ``datetime.now`` and ``dt.datetime.now``; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _import_violations(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [
            f"imports {alias.name}"
            for alias in node.names
            if alias.name.split(".")[0] in FORBIDDEN_MODULES
        ]
    if not node.module or node.level != 0:
        return []  # relative imports stay inside the domain
    found = []
    if node.module.split(".")[0] in FORBIDDEN_MODULES:
        found.append(f"imports from {node.module}")
    if node.module == "time":
        found += [
            f"imports time.{alias.name}"
            for alias in node.names
            if alias.name in CLOCK_FUNCTIONS_FROM_TIME
        ]
    return found


def _call_violations(node: ast.Call) -> list[str]:
    func = node.func
    if isinstance(func, ast.Name) and func.id == "__import__":
        return ["calls __import__"]
    if isinstance(func, ast.Attribute):
        owner = _owner_name(func.value)
        if owner is not None and (owner, func.attr) in CLOCK_READS:
            return [f"reads the clock: {owner}.{func.attr}()"]
    return []


def violations(source: str, filename: str = "<src>") -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            problems = _import_violations(node)
        elif isinstance(node, ast.Call):
            problems = _call_violations(node)
        else:
            continue
        found += [f"{filename}:{node.lineno} {problem}" for problem in problems]
    return found


def domain_modules() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def test_the_domain_package_is_where_we_think() -> None:
    modules = {p.relative_to(DOMAIN).as_posix() for p in domain_modules()}
    assert {"shared/ids.py", "tenancy/tenant.py", "assets/device.py", "alerts/rules.py"} <= modules


@pytest.mark.parametrize("path", domain_modules(), ids=lambda p: p.relative_to(DOMAIN).as_posix())
def test_domain_module_is_pure(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), str(path.relative_to(DOMAIN))) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import boto3",
        "import botocore.session",
        "import sqlite3 as db",
        "from aiohttp import web",
        "from duckdb import connect",
        "import requests",
        "import httpx",
        "from paho.mqtt import client",
        "import aiomqtt",
        "from amqtt.broker import Broker",
        "import socket",
        "from datetime import datetime\nx = datetime.now()",
        "import datetime\nx = datetime.datetime.utcnow()",
        "from datetime import UTC, datetime\nx = datetime.now(tz=UTC)",
        "import time\nx = time.time()",
        "from time import time",
        "from datetime import date\nx = date.today()",
    ],
)
def test_the_checker_catches_impurity(snippet: str) -> None:
    assert violations(snippet) != []


@pytest.mark.parametrize(
    "snippet",
    [
        "from datetime import datetime, timedelta\nx = datetime(2026, 1, 1) + timedelta(1)",
        "from datetime import datetime\nx = datetime.fromisoformat('2026-01-01T00:00:00+00:00')",
        "from zoneinfo import ZoneInfo\nz = ZoneInfo('UTC')",
        "from smdh.domain.shared.events import EventContext\nEventContext.now",
        "import re\nre.compile('x')",
        "from . import sibling",
    ],
)
def test_the_checker_allows_pure_code(snippet: str) -> None:
    assert violations(snippet) == []
