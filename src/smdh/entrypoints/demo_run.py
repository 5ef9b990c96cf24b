"""``smdh serve --demo``: the demo tenant, its credentials file and the running hub."""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path
from typing import Any

from smdh import __version__
from smdh.entrypoints.container import Container
from smdh.entrypoints.demo import DEMO_ADMIN, DEMO_TENANT, ensure_demo, write_demo_file
from smdh.entrypoints.serve import run_hub

# Demo tokens live longer than API tokens so the file stays useful for a working session.
DEMO_TOKEN_TTL_S = 12 * 3600


def prepare_demo(container: Container, base_url: str) -> tuple[Path, dict[str, Any]]:
    application = container.application()
    application.refresh()
    data_dir = Path(container.config.data_dir())
    demo_file = data_dir / "demo.json"
    content = ensure_demo(application, demo_file)
    admin = content.get("admin") or {}
    password = admin.get("password") or secrets.token_urlsafe(12)
    identity = container.identity()
    principal = identity.set_user_password(DEMO_TENANT, DEMO_ADMIN, password)
    token = container.token_authority().issue(principal, DEMO_TOKEN_TTL_S)
    content.update(
        http=base_url,
        admin={
            "tenant": DEMO_TENANT,
            "username": DEMO_ADMIN,
            "password": password,
            "token": token.access_token,
        },
    )
    write_demo_file(demo_file, content)
    return demo_file, content


async def run_demo(container: Container, host: str, port: int, args: argparse.Namespace) -> None:
    async def started(base_url: str) -> None:
        demo_file, content = prepare_demo(container, base_url)
        print(f"SMDH {__version__} demo running at {base_url}")
        print(f"  data directory: {container.config.data_dir()}")
        print(f"  credentials:    {demo_file}")
        print(f"  devices:        {len(content['devices'])}  tenant: {DEMO_TENANT}")
        print(
            "  try: curl -H \"Authorization: Bearer $(python3 -c 'import json;print(json.load("
            f'open("{demo_file}"))["admin"]["token"])\')" {base_url}/v1/devices'
        )
        print("Ctrl-C to stop.", flush=True)

    await run_hub(container, host, port, on_started=started)
