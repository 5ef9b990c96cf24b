"""Cognito verification with locally generated RS256 keys and a JWKS file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from smdh.adapters.identity.cognito import CognitoTokenVerifier, load_jwks_file
from smdh.application.principals import AuthenticationFailed, Principal
from smdh.domain.tenancy.roles import Role

REGION = "eu-central-1"
POOL = "eu-central-1_AbC123xyz"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}"
CLIENT = "7abc1234def5678ghij90klmno"
KID = "pool-key-1"
START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def pool_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def attacker_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_of(key: RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


@pytest.fixture
def jwks_file(tmp_path: Path, pool_key: RSAPrivateKey) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk_of(pool_key, KID)]}))
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def verifier(jwks_file: Path, clock: FakeClock) -> CognitoTokenVerifier:
    return CognitoTokenVerifier(
        load_jwks_file(jwks_file), REGION, POOL, {CLIENT}, clock=clock, leeway_seconds=5
    )


def id_claims(**overrides: Any) -> dict[str, Any]:
    now = int(START.timestamp())
    claims: dict[str, Any] = {
        "sub": "3f1c9a2e-0000-4000-8000-000000000001",
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "cognito:username": "alice",
        "cognito:groups": ["viewer", "admin"],
        "custom:tenant_id": "acme",
        "email": "alice@example.com",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def access_claims(**overrides: Any) -> dict[str, Any]:
    now = int(START.timestamp())
    claims: dict[str, Any] = {
        "sub": "3f1c9a2e-0000-4000-8000-000000000002",
        "iss": ISSUER,
        "client_id": CLIENT,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "iat": now,
        "exp": now + 3600,
        "username": "bob",
        "cognito:groups": ["editor", "viewer"],
        "custom:tenant_id": "globex",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign(claims: dict[str, Any], key: RSAPrivateKey, kid: str | None = KID, **kw: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims, key, algorithm=kw.get("algorithm", "RS256"), headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def refused(verifier: CognitoTokenVerifier, token: str) -> str:
    with pytest.raises(AuthenticationFailed) as failure:
        verifier.verify(token)
    return str(failure.value)


# --- happy paths -------------------------------------------------------------------------


def test_id_token_maps_to_the_highest_role_in_the_tenant(
    verifier: CognitoTokenVerifier, pool_key: RSAPrivateKey
) -> None:
    principal = verifier.verify(sign(id_claims(), pool_key))
    assert principal == Principal.user("acme", "alice", Role.ADMIN)


def test_access_token_maps_by_client_id(
    verifier: CognitoTokenVerifier, pool_key: RSAPrivateKey
) -> None:
    principal = verifier.verify(sign(access_claims(), pool_key))
    assert principal == Principal.user("globex", "bob", Role.EDITOR)


def test_viewer_and_subject_fallback_to_sub(
    verifier: CognitoTokenVerifier, pool_key: RSAPrivateKey
) -> None:
    claims = id_claims(**{"cognito:username": None, "cognito:groups": ["viewer", "staff"]})
    principal = verifier.verify(sign(claims, pool_key))
    assert principal == Principal.user("acme", claims["sub"], Role.VIEWER)


def test_operator_group_makes_an_operator(
    verifier: CognitoTokenVerifier, pool_key: RSAPrivateKey
) -> None:
    claims = id_claims(**{"cognito:groups": ["platform-operators"], "custom:tenant_id": None})
    assert verifier.verify(sign(claims, pool_key)) == Principal.operator("alice")


def test_issuer_and_jwks_url(verifier: CognitoTokenVerifier) -> None:
    assert verifier.issuer == ISSUER
    assert verifier.jwks_url == ISSUER + "/.well-known/jwks.json"


def test_a_callable_jwks_is_reloaded_for_a_rotated_key(
    pool_key: RSAPrivateKey, attacker_key: RSAPrivateKey, clock: FakeClock
) -> None:
    # attacker_key plays the pool's next key here
    documents = [{"keys": [jwk_of(pool_key, KID)]}]
    calls: list[int] = []

    def fetch() -> dict[str, Any]:
        calls.append(1)
        return documents[-1]

    verifier = CognitoTokenVerifier(
        fetch, REGION, POOL, [CLIENT], clock=clock, jwks_refresh_seconds=0
    )
    assert verifier.verify(sign(id_claims(), pool_key)).role is Role.ADMIN
    documents.append({"keys": [jwk_of(pool_key, KID), jwk_of(attacker_key, "pool-key-2")]})
    assert verifier.verify(sign(id_claims(), attacker_key, kid="pool-key-2")).role is Role.ADMIN
    assert len(calls) == 2


def test_reloads_are_rate_limited(pool_key: RSAPrivateKey, clock: FakeClock) -> None:
    calls: list[int] = []

    def fetch() -> dict[str, Any]:
        calls.append(1)
        return {"keys": [jwk_of(pool_key, KID)]}

    verifier = CognitoTokenVerifier(fetch, REGION, POOL, [CLIENT], clock=clock)
    for n in range(5):
        refused(verifier, sign(id_claims(), pool_key, kid=f"junk-{n}"))
    assert len(calls) == 1


# --- attacks ------------------------------------------------------------------------------


def test_alg_none_is_refused(verifier: CognitoTokenVerifier) -> None:
    header = b64url(json.dumps({"alg": "none", "kid": KID}).encode())
    payload = b64url(json.dumps(id_claims()).encode())
    assert refused(verifier, f"{header}.{payload}.") == "algorithm not allowed"


def test_hs256_signed_with_the_public_key_is_refused(
    verifier: CognitoTokenVerifier, pool_key: RSAPrivateKey
) -> None:
    public_pem = pool_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
        + "."
        + b64url(json.dumps(id_claims()).encode())
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert refused(verifier, f"{signing_input}.{b64url(signature)}") == "algorithm not allowed"


def test_other_rsa_algorithms_are_refused(
    verifier: CognitoTokenVerifier, pool_key: RSAPrivateKey
) -> None:
    token = sign(id_claims(), pool_key, algorithm="RS512")
    assert refused(verifier, token) == "algorithm not allowed"


def test_token_signed_by_another_key_with_the_same_kid_is_refused(
    verifier: CognitoTokenVerifier, attacker_key: RSAPrivateKey
) -> None:
    assert refused(verifier, sign(id_claims(), attacker_key)) == "bad signature"


def test_unknown_or_missing_kid_is_refused(
    verifier: CognitoTokenVerifier, pool_key: RSAPrivateKey
) -> None:
    assert refused(verifier, sign(id_claims(), pool_key, kid="other")) == "unknown signing key"
    assert refused(verifier, sign(id_claims(), pool_key, kid=None)) == "missing kid header"


def test_tampered_payload_is_refused(
    verifier: CognitoTokenVerifier, pool_key: RSAPrivateKey
) -> None:
    token = sign(id_claims(**{"cognito:groups": ["viewer"]}), pool_key)
    header, _payload, signature = token.split(".")
    forged_claims = id_claims(**{"cognito:groups": ["viewer", "admin"]})
    forged = f"{header}.{b64url(json.dumps(forged_claims).encode())}.{signature}"
    assert refused(verifier, forged) == "bad signature"


@pytest.mark.parametrize(("advance", "accepted"), [(3600 + 4, True), (3600 + 5, False)])
def test_expiry_with_leeway(
    verifier: CognitoTokenVerifier,
    pool_key: RSAPrivateKey,
    clock: FakeClock,
    advance: int,
    accepted: bool,
) -> None:
    token = sign(id_claims(), pool_key)
    clock.now = START + timedelta(seconds=advance)
    if accepted:
        verifier.verify(token)
    else:
        assert refused(verifier, token) == "token expired"


def test_not_yet_valid_is_refused(verifier: CognitoTokenVerifier, pool_key: RSAPrivateKey) -> None:
    token = sign(id_claims(nbf=int(START.timestamp()) + 60), pool_key)
    assert refused(verifier, token) == "token not yet valid"


ClaimsFactory = Callable[..., dict[str, Any]]


@pytest.mark.parametrize(
    ("factory", "overrides", "reason"),
    [
        (
            id_claims,
            {"iss": "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_Other"},
            "wrong issuer",
        ),
        (id_claims, {"iss": ISSUER + "/"}, "wrong issuer"),
        (id_claims, {"aud": "another-client"}, "wrong audience"),
        (id_claims, {"aud": None}, "wrong audience"),
        (access_claims, {"client_id": "another-client"}, "wrong client_id"),
        (access_claims, {"client_id": None, "aud": CLIENT}, "wrong client_id"),
        (id_claims, {"aud": [CLIENT, "another-client"]}, "wrong audience"),
        (access_claims, {"client_id": [CLIENT]}, "wrong client_id"),
        (id_claims, {"token_use": ["id"]}, "wrong token_use"),
        (id_claims, {"token_use": "refresh"}, "wrong token_use"),
        (id_claims, {"token_use": None}, "missing token_use claim"),
        (id_claims, {"sub": None}, "missing sub claim"),
        (id_claims, {"exp": None}, "missing exp claim"),
        (id_claims, {"iat": None}, "missing iat claim"),
        (id_claims, {"custom:tenant_id": None}, "missing tenant claim"),
        (access_claims, {"custom:tenant_id": None}, "missing tenant claim"),
        (id_claims, {"custom:tenant_id": "Acme Corp"}, "invalid tenant claim"),
        (id_claims, {"cognito:groups": None}, "no role group"),
        (id_claims, {"cognito:groups": ["staff"]}, "no role group"),
        (id_claims, {"cognito:groups": "admin"}, "invalid cognito:groups claim"),
        (id_claims, {"cognito:username": "alice smith"}, "invalid subject"),
        (id_claims, {"iat": int(START.timestamp()) + 600}, "token issued in the future"),
    ],
)
def test_bad_claims_are_refused(
    verifier: CognitoTokenVerifier,
    pool_key: RSAPrivateKey,
    factory: ClaimsFactory,
    overrides: dict[str, Any],
    reason: str,
) -> None:
    assert refused(verifier, sign(factory(**overrides), pool_key)) == reason


def test_token_use_can_be_restricted(
    jwks_file: Path, pool_key: RSAPrivateKey, clock: FakeClock
) -> None:
    access_only = CognitoTokenVerifier(
        load_jwks_file(jwks_file), REGION, POOL, {CLIENT}, token_use={"access"}, clock=clock
    )
    assert refused(access_only, sign(id_claims(), pool_key)) == "wrong token_use"
    assert access_only.verify(sign(access_claims(), pool_key)).subject == "bob"


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "a.b.c", "..", "x" * 10_000, "eyJhbGciOiJSUzI1NiJ9.e30.", "ü.ö.ä"],
)
def test_garbage_is_refused(verifier: CognitoTokenVerifier, garbage: str) -> None:
    refused(verifier, garbage)


# --- configuration ------------------------------------------------------------------------


def test_configuration_is_validated(jwks_file: Path) -> None:
    jwks = load_jwks_file(jwks_file)
    with pytest.raises(ValueError, match="region"):
        CognitoTokenVerifier(jwks, "mars-1", POOL, {CLIENT})
    with pytest.raises(ValueError, match="user pool"):
        CognitoTokenVerifier(jwks, REGION, "pool/../x", {CLIENT})
    with pytest.raises(ValueError, match="client"):
        CognitoTokenVerifier(jwks, REGION, POOL, set())
    with pytest.raises(ValueError, match="token_use"):
        CognitoTokenVerifier(jwks, REGION, POOL, {CLIENT}, token_use={"refresh"})


def test_jwks_without_usable_rs256_keys_is_refused(tmp_path: Path) -> None:
    useless = {"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}, {"kty": "RSA"}]}
    with pytest.raises(ValueError, match="no usable RS256"):
        CognitoTokenVerifier(useless, REGION, POOL, {CLIENT})
    not_jwks = tmp_path / "not-jwks.json"
    not_jwks.write_text("[1, 2, 3]")
    with pytest.raises(ValueError, match="JWKS"):
        load_jwks_file(not_jwks)
