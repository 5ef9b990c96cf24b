"""``LocalArchiveStore``: archived files in a local folder, ``<root>/tenants/<tenant>/<name>``.

The local stand-in for S3. Tenant ids and names are validated (``check_tenant``,
``check_name``: no ``..``, no absolute paths, plain segments), so a name can never leave the
tenant's folder. Writes go to a temporary file that is renamed into place (a reader never
sees half a file); ``delete_tenant`` removes the tenant's whole folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from smdh.adapters.memory.archive import check_name, check_tenant
from smdh.domain.shared.errors import NotFound


class LocalArchiveStore:
    def __init__(self, root: Path) -> None:
        self._root = Path(root)

    @property
    def root(self) -> Path:
        return self._root

    def _tenant_dir(self, tenant_id: str) -> Path:
        return self._root / "tenants" / check_tenant(tenant_id)

    def _path(self, tenant_id: str, name: str) -> Path:
        return self._tenant_dir(tenant_id).joinpath(*check_name(name).split("/"))

    def put(self, tenant_id: str, name: str, data: bytes) -> str:
        path = self._path(tenant_id, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path.as_uri()

    def get(self, tenant_id: str, name: str) -> bytes:
        path = self._path(tenant_id, name)
        if not path.is_file():
            raise NotFound(f"archive {name} not found")
        return path.read_bytes()

    def list(self, tenant_id: str, prefix: str = "") -> list[str]:
        base = self._tenant_dir(tenant_id)
        if not base.is_dir():
            return []
        names = (
            p.relative_to(base).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".part-")
        )
        return sorted(n for n in names if n.startswith(prefix))

    def delete_tenant(self, tenant_id: str) -> int:
        base = self._tenant_dir(tenant_id)
        if not base.is_dir():
            return 0
        count = sum(1 for p in base.rglob("*") if p.is_file())
        shutil.rmtree(base)
        return count
