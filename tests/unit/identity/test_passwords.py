"""scrypt password hashing and salted SHA-256 for machine secrets."""

from __future__ import annotations

import secrets

import pytest

from smdh.adapters.identity.passwords import ScryptHasher, Sha256SecretHasher

# the production cost (n=2**14) takes tens of milliseconds; the format is the same at n=2**4
CHEAP = {"n": 2**4, "r": 8, "p": 1}


@pytest.fixture
def hasher() -> ScryptHasher:
    return ScryptHasher(**CHEAP)


def test_scrypt_hash_verifies_the_right_password_only(hasher: ScryptHasher) -> None:
    hashed = hasher.hash("correct horse battery staple")
    assert hasher.verify("correct horse battery staple", hashed)
    assert not hasher.verify("correct horse battery stapl", hashed)
    assert not hasher.verify("", hashed)


def test_scrypt_encoding_carries_parameters_and_a_fresh_salt(hasher: ScryptHasher) -> None:
    first, second = hasher.hash("pw"), hasher.hash("pw")
    assert first != second  # salted
    scheme, n, r, p, salt, digest = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16", "8", "1")
    assert salt and digest


def test_default_parameters_are_the_documented_ones() -> None:
    hashed = ScryptHasher().hash("pw")
    assert hashed.startswith("scrypt$16384$8$1$")
    assert ScryptHasher().verify("pw", hashed)


def test_verify_uses_the_parameters_stored_in_the_hash(hasher: ScryptHasher) -> None:
    old = ScryptHasher(n=2**5).hash("pw")
    assert hasher.verify("pw", old)
    assert hasher.needs_rehash(old)
    assert not hasher.needs_rehash(hasher.hash("pw"))


def test_unicode_and_lone_surrogates_are_hashed(hasher: ScryptHasher) -> None:
    for password in ("pässwörd ✓", "\ud800x"):
        assert hasher.verify(password, hasher.hash(password))


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "scrypt",
        "plain-text-password",
        "scrypt$16$8$1$c2FsdA",
        "bcrypt$16$8$1$c2FsdHNhbHRzYWx0$ZGlnZXN0ZGlnZXN0ZGlnZXN0",
        "scrypt$15$8$1$c2FsdHNhbHRzYWx0$ZGlnZXN0ZGlnZXN0ZGlnZXN0",  # n not a power of two
        "scrypt$1073741824$8$1$c2FsdHNhbHRzYWx0$ZGlnZXN0ZGlnZXN0ZGlnZXN0",  # n too costly
        "scrypt$16$999$1$c2FsdHNhbHRzYWx0$ZGlnZXN0ZGlnZXN0ZGlnZXN0",
        "scrypt$16$8$1$!!!$ZGlnZXN0ZGlnZXN0ZGlnZXN0",
        "scrypt$16$8$1$c2FsdHNhbHRzYWx0$x",
        "scrypt$²$8$1$c2FsdHNhbHRzYWx0$ZGlnZXN0ZGlnZXN0ZGlnZXN0",
        "scrypt$16$8$1$c2FsdHNhbHRzYWx0$ZGlnZXN0ZGlnZXN0ZGlnZXN0$extra",
    ],
)
def test_verify_answers_false_on_malformed_hashes(hasher: ScryptHasher, malformed: str) -> None:
    assert hasher.verify("pw", malformed) is False
    assert hasher.needs_rehash(malformed)


def test_bad_cost_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="power of two"):
        ScryptHasher(n=1000)
    with pytest.raises(ValueError):
        ScryptHasher(r=0)
    with pytest.raises(ValueError):
        ScryptHasher(salt_bytes=4)


def test_sha256_hasher_round_trip_for_machine_secrets() -> None:
    hasher = Sha256SecretHasher()
    secret = secrets.token_urlsafe(32)
    hashed = hasher.hash(secret)
    assert hashed.startswith("sha256$")
    assert hashed != hasher.hash(secret)  # salted
    assert hasher.verify(secret, hashed)
    assert not hasher.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B"), hashed)
    assert secret not in hashed


def test_sha256_hasher_refuses_short_human_secrets() -> None:
    hasher = Sha256SecretHasher()
    with pytest.raises(ValueError, match="ScryptHasher"):
        hasher.hash("hunter2")
    assert not hasher.verify("hunter2", "sha256$c2FsdHNhbHRzYWx0$ZGln")


@pytest.mark.parametrize(
    "malformed",
    ["", "sha256", "sha256$$", "sha256$!!$!!", "scrypt$16$8$1$a$b", "sha256$a$b$c"],
)
def test_sha256_verify_answers_false_on_malformed_hashes(malformed: str) -> None:
    assert Sha256SecretHasher().verify("x" * 43, malformed) is False


def test_hashers_do_not_accept_each_others_hashes(hasher: ScryptHasher) -> None:
    secret = secrets.token_urlsafe(32)
    assert not hasher.verify(secret, Sha256SecretHasher().hash(secret))
    assert not Sha256SecretHasher().verify(secret, hasher.hash(secret))
