"""``smdh erase`` on a data directory: nothing without --yes; a device, then a tenant."""

from __future__ import annotations

from pathlib import Path

import pytest

from smdh.domain.telemetry import DeviceSample
from smdh.entrypoints.cli import main
from smdh.entrypoints.container import build_container
from tests.integration.analytics.conftest import seed

pytestmark = pytest.mark.integration


def _prepare(path: Path) -> None:
    container = build_container("local", path)
    container.application().refresh()
    seed(container, "keeper", {"kp-lathe-3": "machine", "kp-mill-9": "machine"})
    seed(container, "other", {"ot-press-1": "machine"})
    container.telemetry_store().write(
        [DeviceSample(t, f"{t}-site", d, "machine", 1e9 + k, {"power_watts": 5.0})
         for t, d in (("keeper", "kp-lathe-3"), ("keeper", "kp-mill-9"), ("other", "ot-press-1"))
         for k in range(10)]
    )  # fmt: skip
    container.telemetry_store().close()
    container.event_store().close()


def _rows(path: Path, tenant: str, device: str) -> int:
    container = build_container("local", path)
    store = container.telemetry_store()
    try:
        return len(store.query_range(tenant, device, 0, 2e9))
    finally:
        store.close()


def test_erase_needs_yes_then_erases_a_device_then_a_tenant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _prepare(tmp_path)
    base = ["--data-dir", str(tmp_path), "--json", "erase", "--tenant", "keeper"]

    assert main([*base, "--device", "kp-mill-9"]) == 1
    assert "erasure-not-confirmed" in capsys.readouterr().err
    assert _rows(tmp_path, "keeper", "kp-mill-9") == 10

    assert main([*base, "--device", "kp-mill-9", "--yes"]) == 0
    assert '"device_id": "kp-mill-9"' in capsys.readouterr().out
    assert _rows(tmp_path, "keeper", "kp-mill-9") == 0
    assert _rows(tmp_path, "keeper", "kp-lathe-3") == 10

    assert main(base) == 1  # the whole tenant: still needs --yes
    assert main([*base, "--yes"]) == 0
    assert _rows(tmp_path, "keeper", "kp-lathe-3") == 0
    assert _rows(tmp_path, "other", "ot-press-1") == 10
    assert main([*base, "--yes"]) == 1  # gone: not found
    assert "not-found" in capsys.readouterr().err
