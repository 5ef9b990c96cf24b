"""The one contract every ``CredentialStore`` adapter passes.

Subclass ``CredentialStoreContract`` in a ``Test*`` class and implement ``make_store`` (a
fresh, empty store). Stores with a ``close()`` are closed after each test.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator

import pytest

from smdh.application.ports import CredentialStore


class CredentialStoreContract(abc.ABC):
    @abc.abstractmethod
    def make_store(self) -> CredentialStore:
        """A fresh, empty store."""

    @pytest.fixture
    def store(self) -> Iterator[CredentialStore]:
        made = self.make_store()
        yield made
        close = getattr(made, "close", None)
        if close is not None:
            close()

    def test_a_hash_is_kept_per_tenant_and_user(self, store: CredentialStore) -> None:
        store.set_password_hash("acme", "alice", "hash-1")
        store.set_password_hash("globex", "alice", "hash-2")
        store.set_password_hash(None, "alice", "hash-op")  # an operator
        assert store.password_hash("acme", "alice") == "hash-1"
        assert store.password_hash("globex", "alice") == "hash-2"
        assert store.password_hash(None, "alice") == "hash-op"
        assert store.password_hash("acme", "bob") is None
        store.set_password_hash("acme", "alice", "hash-3")
        assert store.password_hash("acme", "alice") == "hash-3"

    def test_delete_removes_one_users_hash_in_one_tenant(self, store: CredentialStore) -> None:
        store.set_password_hash("acme", "alice", "hash-1")
        store.set_password_hash("acme", "bob", "hash-b")
        store.set_password_hash("globex", "alice", "hash-2")
        store.set_password_hash(None, "alice", "hash-op")
        store.delete("acme", "alice")
        assert store.password_hash("acme", "alice") is None
        assert store.password_hash("acme", "bob") == "hash-b"
        assert store.password_hash("globex", "alice") == "hash-2"
        assert store.password_hash(None, "alice") == "hash-op"
        store.delete("acme", "alice")  # deleting what is gone is no error
        store.delete(None, "alice")
        assert store.password_hash(None, "alice") is None

    def test_delete_tenant_removes_its_users_only(self, store: CredentialStore) -> None:
        store.set_password_hash("acme", "alice", "hash-1")
        store.set_password_hash("acme", "bob", "hash-b")
        store.set_password_hash("globex", "alice", "hash-2")
        store.set_password_hash(None, "root", "hash-op")
        assert store.delete_tenant("acme") == 2
        assert store.password_hash("acme", "alice") is None
        assert store.password_hash("acme", "bob") is None
        assert store.password_hash("globex", "alice") == "hash-2"
        assert store.password_hash(None, "root") == "hash-op"
        assert store.delete_tenant("acme") == 0
