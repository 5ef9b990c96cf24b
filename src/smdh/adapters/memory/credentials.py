"""In-memory CredentialStore."""

from __future__ import annotations

import threading


class InMemoryCredentialStore:
    def __init__(self) -> None:
        self._hashes: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def set_password_hash(self, tenant_id: str | None, user_id: str, password_hash: str) -> None:
        with self._lock:
            self._hashes[(tenant_id or "", user_id)] = password_hash

    def password_hash(self, tenant_id: str | None, user_id: str) -> str | None:
        return self._hashes.get((tenant_id or "", user_id))

    def delete(self, tenant_id: str | None, user_id: str) -> None:
        with self._lock:
            self._hashes.pop((tenant_id or "", user_id), None)

    def delete_tenant(self, tenant_id: str) -> int:
        with self._lock:
            doomed = [key for key in self._hashes if key[0] == tenant_id]
            for key in doomed:
                del self._hashes[key]
            return len(doomed)
