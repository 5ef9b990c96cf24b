"""In-memory ``ArchiveStore``: archived files as bytes in a dict, under each tenant's prefix.

Names are checked as the local folder store checks them (``check_name``): relative paths of
``[A-Za-z0-9._-]`` segments, no ``..``, at most 512 characters.
"""

from __future__ import annotations

import re
import threading

from smdh.domain.shared.errors import NotFound, ValidationError
from smdh.domain.shared.ids import TenantId

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_tenant(tenant_id: str) -> str:
    if not TenantId.is_valid(tenant_id):
        raise ValidationError(f"{tenant_id!r} is not a tenant id")
    return tenant_id


def check_name(name: str) -> str:
    """A relative archive name like ``raw/machine/2026-01-05.parquet``."""
    parts = name.split("/")
    if len(name) > 512 or not all(_SEGMENT.fullmatch(p) and ".." not in p for p in parts):
        raise ValidationError(f"{name!r} is not a valid archive name")
    return name


class InMemoryArchiveStore:
    def __init__(self) -> None:
        self._files: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def put(self, tenant_id: str, name: str, data: bytes) -> str:
        key = (check_tenant(tenant_id), check_name(name))
        with self._lock:
            self._files[key] = bytes(data)
        return f"memory://tenants/{key[0]}/{key[1]}"

    def get(self, tenant_id: str, name: str) -> bytes:
        with self._lock:
            found = self._files.get((check_tenant(tenant_id), check_name(name)))
        if found is None:
            raise NotFound(f"archive {name} not found")
        return found

    def list(self, tenant_id: str, prefix: str = "") -> list[str]:
        check_tenant(tenant_id)
        with self._lock:
            return sorted(n for t, n in self._files if t == tenant_id and n.startswith(prefix))

    def delete_tenant(self, tenant_id: str) -> int:
        check_tenant(tenant_id)
        with self._lock:
            keys = [k for k in self._files if k[0] == tenant_id]
            for key in keys:
                del self._files[key]
        return len(keys)
