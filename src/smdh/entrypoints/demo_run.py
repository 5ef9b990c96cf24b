"""``smdh serve --demo``: the demo tenant, its credentials file, the simulator and the hub."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from pathlib import Path
from typing import Any

from smdh import __version__
from smdh.entrypoints.container import Container
from smdh.entrypoints.demo import DEMO_ADMIN, DEMO_TENANT, ensure_demo, write_demo_file
from smdh.entrypoints.serve import HubEndpoints, HubOptions, run_hub
from smdh.entrypoints.summary import print_summary_forever
from smdh.entrypoints.tls import TlsFiles

# Demo tokens live longer than API tokens so the file stays useful for a working session.
DEMO_TOKEN_TTL_S = 12 * 3600


def prepare_demo(
    container: Container, endpoints: HubEndpoints, tls: TlsFiles | None = None
) -> tuple[Path, dict[str, Any]]:
    application = container.application()
    application.refresh()
    data_dir = Path(container.config.data_dir())
    demo_file = data_dir / "demo.json"
    content = ensure_demo(application, demo_file)
    admin = content.get("admin") or {}
    password = admin.get("password") or secrets.token_urlsafe(12)
    principal = container.identity().set_user_password(DEMO_TENANT, DEMO_ADMIN, password)
    token = container.token_authority().issue(principal, DEMO_TOKEN_TTL_S)
    content.update(
        http=endpoints.http_url,
        mqtt=endpoints.mqtt_url,
        admin={
            "tenant": DEMO_TENANT,
            "username": DEMO_ADMIN,
            "password": password,
            "token": token.access_token,
        },
    )
    if tls is not None:  # what scripts trust: right for a self-signed certificate
        content["tls"] = {"ca_file": str(tls.cert.absolute())}
    else:
        content.pop("tls", None)
    write_demo_file(demo_file, content)
    return demo_file, content


async def run_demo(
    container: Container, options: HubOptions, *, seed: int = 42, simulate: bool = True
) -> None:
    background: list[asyncio.Task[Any]] = []
    simulations: list[Any] = []

    async def started(endpoints: HubEndpoints) -> None:
        demo_file, content = prepare_demo(container, endpoints, options.tls)
        print(f"SMDH {__version__} demo running")
        print(
            f"  HTTP API:       {endpoints.http_url}   (try {endpoints.http_url}/v1/openapi.json)"
        )
        print(f"  MQTT broker:    {endpoints.mqtt_url}")
        print(f"  data directory: {container.config.data_dir()}")
        print(f"  credentials:    {demo_file}  (admin token, device passwords)")
        if options.tls is not None:
            print(f"  TLS:            clients trust {options.tls.cert}  (curl --cacert)")
        print(f"  tenant {DEMO_TENANT}: {len(content['devices'])} devices")
        print("Ctrl-C to stop.", flush=True)
        if simulate:
            simulation = _simulation(demo_file, endpoints, seed)
            simulations.append(simulation)
            # paho's TLS handshake blocks its caller: on this loop it would wait for the
            # broker on this same loop, so with TLS the simulator gets a thread of its own
            run = (
                asyncio.to_thread(simulation.run)
                if endpoints.mqtt_url.startswith("mqtts:")
                else simulation.run_async()
            )
            background.append(asyncio.create_task(run, name="simulator"))
        background.append(
            asyncio.create_task(
                print_summary_forever(
                    container.ingest_totals(),
                    container.ingest_worker(),
                    open_alerts=lambda: len(container.alerting_service().board.open_alerts()),
                )
            )
        )

    async def stopping() -> None:
        # The simulator stops first (and finishes its sends), so the hub flushes everything.
        for simulation in simulations:
            simulation.stop()
        for task in background:
            if task.get_name() == "simulator":
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(task), 5.0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        print()

    await run_hub(container, options, on_started=started, on_stopping=stopping)


def _simulation(demo_file: Path, endpoints: HubEndpoints, seed: int) -> Any:
    from smdh.entrypoints.simulator.command import load_device_file, local_url  # noqa: PLC0415
    from smdh.entrypoints.simulator.publisher import Simulation  # noqa: PLC0415

    device_file = load_device_file(demo_file)
    url = local_url(endpoints.mqtt_url)
    return Simulation(device_file.devices, url, seed=seed, tls_ca=device_file.ca_file)
