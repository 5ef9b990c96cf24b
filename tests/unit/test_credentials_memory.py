"""The CredentialStore contract on the in-memory adapter."""

from __future__ import annotations

from tests.contract.credential_store_contract import CredentialStoreContract

from smdh.adapters.memory.credentials import InMemoryCredentialStore
from smdh.application.ports import CredentialStore


class TestInMemoryCredentialStore(CredentialStoreContract):
    def make_store(self) -> CredentialStore:
        return InMemoryCredentialStore()
