"""Secret hashers: scrypt for passwords, salted SHA-256 for machine-generated secrets.

Both implement the ``SecretHasher`` port and encode everything needed to verify (scheme,
parameters, salt) in the stored string, so parameters can be raised later without breaking
existing hashes. ``verify`` never raises on a corrupt or foreign hash: it answers False.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

_SCRYPT = "scrypt"
_SHA256 = "sha256"

# Bounds on parameters read back from a stored hash: a corrupted or planted hash must not be
# able to make one verification take minutes or gigabytes.
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16
_SCRYPT_HASH = re.compile(
    r"scrypt\$(?P<n>[0-9]{1,8})\$(?P<r>[0-9]{1,3})\$(?P<p>[0-9]{1,3})"
    r"\$(?P<salt>[A-Za-z0-9+/]{1,100})\$(?P<digest>[A-Za-z0-9+/]{1,100})"
)


def _secret_bytes(secret: str) -> bytes:
    # JSON allows lone surrogates ("\ud800"); hash them rather than fail on them.
    return secret.encode("utf-8", errors="surrogatepass")


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded.encode("ascii"), validate=True)


def _is_power_of_two(value: int) -> bool:
    return value > 1 and value & (value - 1) == 0


class ScryptHasher:
    """Passwords, hashed with scrypt (RFC 7914) into ``scrypt$n$r$p$salt$hash``.

    The defaults (n=2**14, r=8, p=1) cost about 16 MiB and tens of milliseconds per hash: the
    point is to make offline guessing of a stolen hash expensive. Tests may pass a small ``n``.
    """

    def __init__(
        self,
        n: int = 2**14,
        r: int = 8,
        p: int = 1,
        salt_bytes: int = 16,
        hash_bytes: int = 32,
    ) -> None:
        if not _is_power_of_two(n) or n > _MAX_N:
            raise ValueError(f"scrypt n must be a power of two in 2..{_MAX_N}")
        if not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P:
            raise ValueError(f"scrypt r must be in 1..{_MAX_R} and p in 1..{_MAX_P}")
        if salt_bytes < 16 or hash_bytes < 16:
            raise ValueError("salt and hash must be at least 16 bytes")
        self._n, self._r, self._p = n, r, p
        self._salt_bytes = salt_bytes
        self._hash_bytes = hash_bytes

    def hash(self, secret: str) -> str:
        salt = secrets.token_bytes(self._salt_bytes)
        digest = _scrypt(secret, salt, (self._n, self._r, self._p), self._hash_bytes)
        fields = (_SCRYPT, str(self._n), str(self._r), str(self._p))
        return "$".join((*fields, _b64encode(salt), _b64encode(digest)))

    def verify(self, secret: str, hashed: str) -> bool:
        parsed = _parse_scrypt(hashed)
        if parsed is None:
            return False
        n, r, p, salt, expected = parsed
        actual = _scrypt(secret, salt, (n, r, p), len(expected))
        return hmac.compare_digest(actual, expected)

    def needs_rehash(self, hashed: str) -> bool:
        """True when ``hashed`` was made with other parameters than this hasher's (upgrade it
        on the next successful login)."""
        parsed = _parse_scrypt(hashed)
        if parsed is None:
            return True
        n, r, p, salt, digest = parsed
        return (n, r, p, len(salt), len(digest)) != (
            self._n,
            self._r,
            self._p,
            self._salt_bytes,
            self._hash_bytes,
        )


def _scrypt(secret: str, salt: bytes, cost: tuple[int, int, int], length: int) -> bytes:
    n, r, p = cost
    # scrypt needs 128 * n * r bytes; OpenSSL refuses beyond its default 32 MiB unless told.
    maxmem = 128 * n * r * p + 2**20
    return hashlib.scrypt(
        _secret_bytes(secret), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=length
    )


def _parse_scrypt(hashed: object) -> tuple[int, int, int, bytes, bytes] | None:
    """(n, r, p, salt, digest) from an encoded hash, or None if it is not a sane scrypt hash."""
    match = _SCRYPT_HASH.fullmatch(hashed) if isinstance(hashed, str) else None
    if match is None:
        return None
    n, r, p = int(match["n"]), int(match["r"]), int(match["p"])
    try:
        salt, digest = _b64decode(match["salt"]), _b64decode(match["digest"])
    except (binascii.Error, ValueError):
        return None
    sane = (
        _is_power_of_two(n)
        and n <= _MAX_N
        and 1 <= r <= _MAX_R
        and 1 <= p <= _MAX_P
        and len(salt) >= 8
        and 16 <= len(digest) <= 64
    )
    return (n, r, p, salt, digest) if sane else None


class Sha256SecretHasher:
    """Machine-generated secrets (device credentials), hashed as ``sha256$salt$hmac``.

    A slow KDF exists to make guessing *low-entropy* secrets expensive. Device secrets come
    from ``IdGenerator.new_secret`` (256 random bits): guessing one is infeasible at any hash
    speed, so scrypt would only add tens of milliseconds and 16 MiB to every MQTT connect and
    hand an attacker a cheap way to exhaust the broker. The per-secret salt (used as the HMAC
    key) keeps equal secrets from producing equal hashes. ``min_length`` refuses to hash short
    strings so this hasher is not misused for human passwords.
    """

    def __init__(self, salt_bytes: int = 16, min_length: int = 32) -> None:
        if salt_bytes < 16:
            raise ValueError("salt must be at least 16 bytes")
        self._salt_bytes = salt_bytes
        self._min_length = min_length

    def hash(self, secret: str) -> str:
        if len(secret) < self._min_length:
            raise ValueError(
                f"machine secrets must be at least {self._min_length} characters "
                "(use ScryptHasher for passwords)"
            )
        salt = secrets.token_bytes(self._salt_bytes)
        return "$".join((_SHA256, _b64encode(salt), _b64encode(_sha256_mac(salt, secret))))

    def verify(self, secret: str, hashed: str) -> bool:
        if not isinstance(hashed, str) or len(secret) < self._min_length:
            return False
        parts = hashed.split("$")
        if len(parts) != 3 or parts[0] != _SHA256:
            return False
        try:
            salt, expected = _b64decode(parts[1]), _b64decode(parts[2])
        except (binascii.Error, ValueError):
            return False
        if len(salt) < 8:
            return False
        return hmac.compare_digest(_sha256_mac(salt, secret), expected)


def _sha256_mac(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, _secret_bytes(secret), hashlib.sha256).digest()
