"""AWS mode: verify Amazon Cognito user-pool tokens (RS256 JWTs) and map them to principals.

What is checked, in order: size and shape; the header's ``kid`` names a key of the pool's
JWKS; the RS256 signature (the algorithm is pinned, never read from the token); the issuer
``https://cognito-idp.{region}.amazonaws.com/{pool}``; exp / iat / nbf against the clock;
``token_use``; and the client: an id token's ``aud``, an access token's ``client_id`` (Cognito
access tokens carry no ``aud``). The principal then comes from the claims:

- ``cognito:groups`` containing the operator group -> the platform operator;
- otherwise a tenant user: role = the highest of admin / editor / viewer among the groups,
  tenant = the custom tenant claim (``custom:tenant_id``; it is in id tokens, and in access
  tokens only if a pre-token-generation trigger adds it);
- subject = the username (``cognito:username`` / ``username``), or ``sub`` if absent.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt

from smdh.adapters.identity.local_tokens import (
    check_leeway,
    check_time_claims,
    check_token_shape,
    checked_now,
    reason_for,
    utc_now,
)
from smdh.adapters.identity.token_cache import VerifiedTokenCache
from smdh.application.principals import AuthenticationFailed, Principal
from smdh.domain.shared.errors import ValidationError
from smdh.domain.shared.ids import TenantId
from smdh.domain.tenancy.roles import Role

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
TOKEN_USES = frozenset({"id", "access"})
JwksSource = Mapping[str, Any] | Callable[[], Mapping[str, Any]]

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_USER_POOL_ID = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}_[A-Za-z0-9]{1,64}")


def load_jwks_file(path: Path | str) -> dict[str, Any]:
    """A JWKS document (``{"keys": [...]}``) read from a JSON file."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError(f"{path} is not a JWKS document (expected an object with 'keys')")
    return document


class CognitoTokenVerifier:
    """Implements ``TokenVerifier`` for one Cognito user pool and its app clients.

    ``jwks`` is the pool's JWKS, or a callable returning it (e.g. a cached HTTP fetch of
    ``jwks_url``). With a callable, an unknown ``kid`` triggers a reload at most once per
    ``jwks_refresh_seconds``, so key rotation is picked up but junk tokens cannot make us
    hammer the JWKS endpoint.
    """

    def __init__(
        self,
        jwks: JwksSource,
        region: str,
        user_pool_id: str,
        client_ids: Iterable[str],
        *,
        token_use: Iterable[str] = TOKEN_USES,
        tenant_claim: str = "custom:tenant_id",
        operator_group: str = "platform-operators",
        leeway_seconds: int = 5,
        clock: Callable[[], datetime] | None = None,
        jwks_refresh_seconds: float = 300.0,
    ) -> None:
        if _REGION.fullmatch(region) is None:
            raise ValueError(f"not an AWS region: {region!r}")
        if _USER_POOL_ID.fullmatch(user_pool_id) is None:
            raise ValueError(f"not a Cognito user pool id: {user_pool_id!r}")
        self.client_ids = frozenset(client_ids)
        if not self.client_ids:
            raise ValueError("at least one app client id is required")
        self.token_uses = frozenset(token_use)
        if not self.token_uses or not self.token_uses <= TOKEN_USES:
            raise ValueError("token_use must be a non-empty subset of {'id', 'access'}")
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        self.tenant_claim = tenant_claim
        self.operator_group = operator_group
        self.leeway_seconds = check_leeway(leeway_seconds)
        self._clock = clock or utc_now
        self._jwks_source = jwks
        self._refresh_seconds = jwks_refresh_seconds
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._loaded_at = 0.0
        self._verified = VerifiedTokenCache()
        if not callable(jwks):
            self._keys = _keys_from_jwks(jwks)  # a static JWKS: bad config fails at startup

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    def verify(self, token: str) -> Principal:
        check_token_shape(token)
        claims = self._verified.claims(token, self._decode)
        check_time_claims(claims, checked_now(self._clock), self.leeway_seconds)
        self._check_client(claims)
        return self._principal_from_claims(claims)

    def _decode(self, token: str) -> Mapping[str, Any]:
        """The claims once the signature (by a key of the pool's JWKS) and issuer check out."""
        try:
            header = jwt.get_unverified_header(token)
            key = self._key_for(header.get("kid"))
            return jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],  # pinned: never taken from the token header
                issuer=self.issuer,
                options={
                    "require": ["exp", "iat", "iss", "sub", "token_use"],
                    # the audience rule depends on token_use and times use our clock: below
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as error:
            raise AuthenticationFailed(reason_for(error)) from None

    def _key_for(self, kid: object) -> jwt.PyJWK:
        if not isinstance(kid, str):
            raise AuthenticationFailed("missing kid header")
        with self._lock:
            keys = self._keys
            if keys is None or (kid not in keys and self._may_reload()):
                keys = self._reload()
        key = keys.get(kid)
        if key is None:
            raise AuthenticationFailed("unknown signing key")
        return key

    def _may_reload(self) -> bool:
        return callable(self._jwks_source) and (
            time.monotonic() - self._loaded_at >= self._refresh_seconds
        )

    def _reload(self) -> dict[str, jwt.PyJWK]:
        source = self._jwks_source
        document = source() if callable(source) else source
        self._keys = _keys_from_jwks(document)
        self._loaded_at = time.monotonic()
        self._verified.clear()  # a key the pool dropped no longer vouches for its tokens
        return self._keys

    def _check_client(self, claims: Mapping[str, Any]) -> None:
        # claims may be any JSON value; only a string can match (and a list is unhashable)
        token_use = claims.get("token_use")
        if not isinstance(token_use, str) or token_use not in self.token_uses:
            raise AuthenticationFailed("wrong token_use")
        if token_use == "id":  # noqa: S105  (a claim value, not a secret)
            if not self._is_our_client(claims.get("aud")):
                raise AuthenticationFailed("wrong audience")
        elif not self._is_our_client(claims.get("client_id")):
            raise AuthenticationFailed("wrong client_id")

    def _is_our_client(self, value: object) -> bool:
        return isinstance(value, str) and value in self.client_ids

    def _principal_from_claims(self, claims: Mapping[str, Any]) -> Principal:
        subject = claims.get("cognito:username") or claims.get("username") or claims.get("sub")
        if not isinstance(subject, str):
            raise AuthenticationFailed("invalid subject")
        groups = claims.get("cognito:groups", [])
        if not isinstance(groups, list):
            raise AuthenticationFailed("invalid cognito:groups claim")
        try:
            if self.operator_group in groups:
                return Principal.operator(subject)
            role = Role.highest(groups)
            if role is None:
                raise AuthenticationFailed("no role group")
            tenant = claims.get(self.tenant_claim)
            if tenant is None:
                raise AuthenticationFailed("missing tenant claim")
            if not (isinstance(tenant, str) and TenantId.is_valid(tenant)):
                raise AuthenticationFailed("invalid tenant claim")
            return Principal.user(tenant, subject, role)
        except ValidationError:
            raise AuthenticationFailed("invalid subject") from None


def _keys_from_jwks(document: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    """The RS256 signing keys of a JWKS, by kid; other keys are skipped."""
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError("not a JWKS document (expected an object with 'keys')")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries:
        usable = (
            isinstance(entry, dict)
            and isinstance(entry.get("kid"), str)
            and entry.get("kty") == "RSA"
            and entry.get("alg", ALGORITHM) == ALGORITHM
            and entry.get("use", "sig") == "sig"
        )
        if not usable:
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry, algorithm=ALGORITHM)
        except jwt.PyJWTError:
            logger.warning("skipping unreadable JWKS key %r", entry.get("kid"))
    if not keys:
        raise ValueError("the JWKS holds no usable RS256 signing key")
    return keys
