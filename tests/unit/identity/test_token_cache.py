"""Remembered token verifications: still time-checked on every use, forgeries and failures
never remembered, and a bounded memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.identity.test_local_tokens import START, FakeClock, refused

from smdh.adapters.identity.local_tokens import LocalTokenAuthority
from smdh.adapters.identity.token_cache import VerifiedTokenCache
from smdh.application.principals import Principal


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def authority(tmp_path: Path, clock: FakeClock) -> LocalTokenAuthority:
    return LocalTokenAuthority(tmp_path / "key.pem", clock=clock, leeway_seconds=5)


def test_a_remembered_token_still_expires_and_its_forgery_is_refused(
    authority: LocalTokenAuthority, clock: FakeClock
) -> None:
    token = authority.issue(Principal.operator("root"), ttl_seconds=60).access_token
    assert authority.verify(token).is_operator
    assert authority.verify(token).is_operator  # the second check comes from memory
    head, body, signature = token.split(".")
    forged = ".".join(
        (head, body, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB"))
    )
    assert refused(authority, forged) == refused(authority, forged)  # failures not remembered
    clock.advance(66)
    assert refused(authority, token) == "token expired"


def test_verified_token_cache_evicts_the_oldest_beyond_its_capacity() -> None:
    cache = VerifiedTokenCache(capacity=2)
    for name in ("a", "b", "c"):
        cache.put(name, {"sub": name})
    assert (cache.get("a"), len(cache)) == (None, 2)
    assert cache.get("c") == {"sub": "c"}
    with pytest.raises(ValueError, match="capacity"):
        VerifiedTokenCache(capacity=0)
