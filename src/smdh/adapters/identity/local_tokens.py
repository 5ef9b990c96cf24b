"""Local mode: SMDH issues and verifies its own access tokens (EdDSA / Ed25519 JWTs).

The signing key lives in the data directory (PEM, mode 0600) and is created the first time it
is needed, never at import. Verification pins the algorithm to EdDSA, so neither ``alg: none``
nor an HS256 token "signed" with the public key can get through, and checks issuer, audience
and times against the injected clock. Every failure becomes ``AuthenticationFailed`` with a
short reason.

The small JWT helpers at the bottom (time checks, error reasons) are shared with
``cognito.py``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from smdh.adapters.identity.token_cache import VerifiedTokenCache
from smdh.application.ports import IssuedToken
from smdh.application.principals import AuthenticationFailed, Principal, PrincipalKind
from smdh.domain.shared.errors import ValidationError
from smdh.domain.shared.ids import TenantId
from smdh.domain.tenancy.roles import Role

logger = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
KIND_CLAIM = "smdh:kind"
TENANT_CLAIM = "smdh:tenant"
ROLE_CLAIM = "smdh:role"

# Real tokens are well under 1 kB; refusing big ones early keeps junk off the parser.
MAX_TOKEN_CHARS = 8192
MAX_LEEWAY_SECONDS = 30
MAX_TTL_SECONDS = 24 * 3600

_ROLES = frozenset(role.value for role in Role)
_KINDS = frozenset(kind.value for kind in PrincipalKind)


class LocalTokenAuthority:
    """Issues and verifies SMDH access tokens; implements ``TokenIssuer`` and ``TokenVerifier``."""

    def __init__(
        self,
        key_path: Path,
        *,
        issuer: str = "smdh-local",
        audience: str = "smdh-api",
        default_ttl_seconds: int = 900,
        clock: Callable[[], datetime] | None = None,
        leeway_seconds: int = 5,
    ) -> None:
        check_ttl(default_ttl_seconds)
        self.key_path = Path(key_path)
        self.issuer = issuer
        self.audience = audience
        self.default_ttl_seconds = default_ttl_seconds
        self.leeway_seconds = check_leeway(leeway_seconds)
        self._clock = clock or utc_now
        self._key_pair: tuple[Ed25519PrivateKey, Ed25519PublicKey] | None = None
        self._key_id = ""
        self._lock = threading.Lock()
        self._verified = VerifiedTokenCache()

    # --- the signing key ------------------------------------------------------------------

    def load_or_create(self) -> Ed25519PrivateKey:
        """The signing key: read from ``key_path``, or generated and saved there (mode 0600)."""
        return self._load_key_pair()[0]

    def _load_key_pair(self) -> tuple[Ed25519PrivateKey, Ed25519PublicKey]:
        with self._lock:
            if self._key_pair is None:
                if not self.key_path.exists():
                    _write_new_key(self.key_path)
                private_key = _read_key(self.key_path)
                self._key_pair = (private_key, private_key.public_key())
                self._key_id = _key_id(private_key)
            return self._key_pair

    @property
    def key_id(self) -> str:
        """A thumbprint of the public key, sent as the JWT ``kid`` (ready for key rotation)."""
        self.load_or_create()
        return self._key_id

    # --- TokenIssuer ----------------------------------------------------------------------

    def issue(self, principal: Principal, ttl_seconds: int | None = None) -> IssuedToken:
        ttl = check_ttl(self.default_ttl_seconds if ttl_seconds is None else ttl_seconds)
        key = self.load_or_create()
        issued_at = int(checked_now(self._clock).timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": principal.subject,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + ttl,
            "jti": secrets.token_urlsafe(16),
            KIND_CLAIM: principal.kind.value,
        }
        if principal.tenant_id is not None:
            claims[TENANT_CLAIM] = str(principal.tenant_id)
        if principal.role is not None:
            claims[ROLE_CLAIM] = principal.role.value
        token = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": self._key_id})
        return IssuedToken(access_token=token, expires_in=ttl)

    # --- TokenVerifier --------------------------------------------------------------------

    def verify(self, token: str) -> Principal:
        check_token_shape(token)
        claims = self._verified.claims(token, self._decode)
        check_time_claims(claims, checked_now(self._clock), self.leeway_seconds)
        return _principal_from_claims(claims)

    def _decode(self, token: str) -> Mapping[str, Any]:
        """The claims once signature, algorithm, issuer and audience check out."""
        try:
            return jwt.decode(
                token,
                self._load_key_pair()[1],
                algorithms=[ALGORITHM],  # pinned: never taken from the token header
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": ["exp", "iat", "iss", "aud", "sub"],
                    "strict_aud": True,
                    # times are checked in verify, on every use, against our clock
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as error:
            raise AuthenticationFailed(reason_for(error)) from None


def _principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    kind, tenant, role = claims.get(KIND_CLAIM), claims.get(TENANT_CLAIM), claims.get(ROLE_CLAIM)
    # isinstance first: a list claim would make the set lookups raise TypeError (unhashable)
    if not isinstance(kind, str) or kind not in _KINDS:
        raise AuthenticationFailed("missing or invalid kind claim")
    if kind != PrincipalKind.OPERATOR and tenant is None:
        raise AuthenticationFailed("missing tenant claim")
    if tenant is not None and not (isinstance(tenant, str) and TenantId.is_valid(tenant)):
        raise AuthenticationFailed("invalid tenant claim")
    if kind == PrincipalKind.USER and role is None:
        raise AuthenticationFailed("missing role claim")
    if role is not None and not (isinstance(role, str) and role in _ROLES):
        raise AuthenticationFailed("invalid role claim")
    try:
        return Principal(PrincipalKind(kind), claims["sub"], tenant, role)
    except (ValidationError, ValueError, TypeError):
        raise AuthenticationFailed("claims do not describe a valid principal") from None


def _write_new_key(path: Path) -> None:
    """Write a fresh key so that no reader ever sees a partial file, and a concurrent first
    start by another process keeps whichever key was published first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(descriptor, 0o600)  # exactly 0600, whatever the umask
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(pem)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, path)  # atomic, and fails if another process won the race
        except FileExistsError:
            pass
        except OSError:  # filesystems without hard links
            if not path.exists():
                os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    logger.info("created a new token signing key at %s", path)


def _read_key(path: Path) -> Ed25519PrivateKey:
    if os.name == "posix" and path.stat().st_mode & 0o077:
        logger.warning("token signing key %s is readable by others; chmod 600 it", path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def _key_id(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:12]).decode("ascii")


# --- JWT helpers shared with cognito.py ----------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


def checked_now(clock: Callable[[], datetime]) -> datetime:
    now = clock()
    if now.tzinfo is None:
        raise ValueError("the clock must return timezone-aware datetimes")
    return now


def check_leeway(seconds: int) -> int:
    if not 0 <= seconds <= MAX_LEEWAY_SECONDS:
        raise ValueError(f"leeway must be 0..{MAX_LEEWAY_SECONDS} seconds")
    return seconds


def check_ttl(seconds: int) -> int:
    if not 0 < seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"token lifetime must be 1..{MAX_TTL_SECONDS} seconds")
    return seconds


def check_token_shape(token: object) -> None:
    """Cheap checks before any parsing: a string of sane length with three parts."""
    if not isinstance(token, str) or not token:
        raise AuthenticationFailed("missing token")
    if len(token) > MAX_TOKEN_CHARS:
        raise AuthenticationFailed("token too large")
    if token.count(".") != 2:
        raise AuthenticationFailed("malformed token")


def check_time_claims(claims: Mapping[str, Any], now: datetime, leeway: int) -> None:
    """exp (required), iat (required) and nbf (optional) against ``now``, give or take leeway."""
    moment = now.timestamp()
    expires = _numeric_claim(claims, "exp", required=True)
    issued = _numeric_claim(claims, "iat", required=True)
    not_before = _numeric_claim(claims, "nbf", required=False)
    if expires is None or expires <= moment - leeway:
        raise AuthenticationFailed("token expired")
    if not_before is not None and not_before > moment + leeway:
        raise AuthenticationFailed("token not yet valid")
    if issued is not None and issued > moment + leeway:
        raise AuthenticationFailed("token issued in the future")


def _numeric_claim(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise AuthenticationFailed(f"missing {name} claim")
        return None
    # bool is an int in Python, and NaN compares false with everything: refuse both
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AuthenticationFailed(f"invalid {name} claim")
    return float(value)


_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.InvalidSignatureError, "bad signature"),  # before DecodeError: it is a subclass
    (jwt.DecodeError, "malformed token"),
)


def reason_for(error: jwt.PyJWTError) -> str:
    """A short, safe description of why PyJWT refused a token."""
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"missing {error.claim} claim"
    return next((text for kind, text in _REASONS if isinstance(error, kind)), "invalid token")
