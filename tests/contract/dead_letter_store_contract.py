"""The one contract every ``DeadLetterStore`` adapter passes.

Subclass ``DeadLetterStoreContract`` in a ``Test*`` class and implement ``make_store`` (a
fresh, empty store keeping at most ``max_per_tenant`` letters per tenant). Stores with a
``close()`` are closed after each test.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import Protocol

import pytest

from smdh.application.ports import DeadLetterStore
from smdh.domain.telemetry import MAX_DEAD_LETTER_PAYLOAD, DeadLetter, capped


class BoundedDeadLetterStore(DeadLetterStore, Protocol):
    def pruned(self, tenant_id: str | None = None) -> int: ...


def letter(
    tenant: str = "tenant-a", n: int = 0, payload: str = '{"temperature_c": 9000}'
) -> DeadLetter:
    return DeadLetter(
        tenant_id=tenant,
        device_id=f"dev-{n}",
        source="mqtt",
        received_at=1_700_000_000.0 + n,
        reason_code="out-of-range",
        reason=f"temperature_c 9000 is above the maximum 500 (record {n})",
        payload=payload,
        index=n if n % 2 else None,
    )


class DeadLetterStoreContract(abc.ABC):
    @abc.abstractmethod
    def make_store(self, max_per_tenant: int = 100_000) -> BoundedDeadLetterStore:
        """A fresh, empty store."""

    @pytest.fixture
    def opened(self) -> Iterator[list[BoundedDeadLetterStore]]:
        stores: list[BoundedDeadLetterStore] = []
        yield stores
        for store in stores:
            close = getattr(store, "close", None)
            if close is not None:
                close()

    @pytest.fixture
    def store(self, opened: list[BoundedDeadLetterStore]) -> BoundedDeadLetterStore:
        opened.append(self.make_store())
        return opened[-1]

    def test_letters_come_back_whole_oldest_first_with_increasing_ids(
        self, store: BoundedDeadLetterStore
    ) -> None:
        letters = [letter(n=n) for n in range(5)]
        store.add(letters[:2])
        store.add(letters[2:])
        page = store.list("tenant-a")
        assert [item for _, item in page] == letters
        ids = [letter_id for letter_id, _ in page]
        assert ids == sorted(ids) and len(set(ids)) == 5 and ids[0] >= 1
        store.add([])
        assert store.count("tenant-a") == 5

    def test_tenants_are_isolated(self, store: BoundedDeadLetterStore) -> None:
        store.add(
            [letter("tenant-a", 1), letter("tenant-b", 2), letter("", 3), letter("tenant-a", 4)]
        )
        assert [item.device_id for _, item in store.list("tenant-a")] == ["dev-1", "dev-4"]
        assert [item.device_id for _, item in store.list("tenant-b")] == ["dev-2"]
        assert [item.device_id for _, item in store.list("")] == ["dev-3"]  # unattributed
        assert store.list("tenant-c") == []
        assert (store.count("tenant-a"), store.count("tenant-b"), store.count("")) == (2, 1, 1)
        assert store.count() == 4
        assert store.count("tenant-c") == 0

    def test_paging_with_after_id(self, store: BoundedDeadLetterStore) -> None:
        store.add([letter("tenant-a", n) if n % 3 else letter("tenant-b", n) for n in range(20)])
        seen: list[str] = []
        after = 0
        while page := store.list("tenant-a", after_id=after, limit=4):
            assert len(page) <= 4
            seen += [item.device_id for _, item in page]
            after = page[-1][0]
        assert seen == [f"dev-{n}" for n in range(20) if n % 3]
        for bad_after, bad_limit in ((-1, 10), (0, 0), (0, -5)):
            with pytest.raises(ValueError):
                store.list("tenant-a", after_id=bad_after, limit=bad_limit)

    def test_cap_prunes_the_oldest_per_tenant_and_counts_them(
        self, opened: list[BoundedDeadLetterStore]
    ) -> None:
        store = self.make_store(max_per_tenant=5)
        opened.append(store)
        store.add([letter("tenant-a", n) for n in range(4)])
        store.add([letter("tenant-b", 100)])
        store.add([letter("tenant-a", n) for n in range(4, 12)])
        page = store.list("tenant-a")
        assert [item.device_id for _, item in page] == [f"dev-{n}" for n in range(7, 12)]
        assert store.count("tenant-a") == 5 and store.pruned("tenant-a") == 7
        assert store.count("tenant-b") == 1 and store.pruned("tenant-b") == 0
        assert (store.count(), store.pruned()) == (6, 7)
        # ids of kept letters do not change, and paging past pruned ids still works
        assert store.list("tenant-a", after_id=0, limit=2) == page[:2]
        assert store.list("tenant-a", after_id=page[2][0]) == page[3:]

    def test_oversized_payloads_and_reasons_are_capped(self, store: BoundedDeadLetterStore) -> None:
        huge = "x" * (MAX_DEAD_LETTER_PAYLOAD * 10)
        already = capped(huge)
        store.add([letter(payload=huge), letter(n=1, payload=already)])
        (_, first), (_, second) = store.list("tenant-a")
        assert first.payload == already  # capped by the store
        assert second.payload == already  # an already capped payload is kept as it is
        assert len(first.payload) < MAX_DEAD_LETTER_PAYLOAD + 64
