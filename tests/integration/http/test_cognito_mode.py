"""AWS mode: the API verifies Amazon Cognito tokens (RS256, JWKS) instead of its own."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from smdh.adapters.identity.cognito import CognitoTokenVerifier
from smdh.application import commands as c
from smdh.domain.shared.ids import TenantId
from tests.integration.http.conftest import (
    GENEROUS,
    ROOT,
    Client,
    LiveServer,
    assert_problem,
    new_container,
)

REGION, POOL, CLIENT = "eu-central-1", "eu-central-1_TestPool1", "portal-client"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}"


@pytest.fixture(scope="module")
def cognito(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = {"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps(jwks))
    from smdh.adapters.identity.cognito import load_jwks_file  # noqa: PLC0415

    verifier = CognitoTokenVerifier(load_jwks_file(path), REGION, POOL, [CLIENT])
    container = new_container(tmp_path_factory.mktemp("cognito"))
    container.application().execute(
        c.RegisterTenant(principal=ROOT, tenant_id=TenantId("acme"), name="Acme")
    )
    with LiveServer(container, verifier=verifier, settings=GENEROUS) as server:
        yield Client(server.port), key


def _id_token(key: Any, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "uuid-1",
        "aud": CLIENT,
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
        "cognito:username": "alice",
        "cognito:groups": ["admin"],
        "custom:tenant_id": "acme",
    }
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def test_cognito_id_token_is_accepted(cognito: tuple[Client, Any]) -> None:
    client, key = cognito
    reply = client.get("/v1/me", token=_id_token(key))
    assert reply.status == 200, reply.text
    assert reply.json() == {
        "kind": "user",
        "subject": "alice",
        "tenant_id": "acme",
        "role": "admin",
    }
    assert client.get("/v1/tenant", token=_id_token(key)).json()["tenant_id"] == "acme"
    operator = _id_token(key, **{"cognito:groups": ["platform-operators"]})
    assert client.get("/v1/tenants", token=operator).status == 200


def test_cognito_bad_tokens_are_401(cognito: tuple[Client, Any]) -> None:
    client, key = cognito
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for token in (
        _id_token(key, aud="someone-else"),
        _id_token(key, iss="https://evil.example"),
        _id_token(key, exp=int(time.time()) - 60),
        _id_token(other_key),
        _id_token(key, token_use="refresh"),
    ):
        assert_problem(client.get("/v1/tenant", token=token), 401, "unauthenticated")


def test_cognito_viewer_cannot_write_and_local_tokens_are_off(cognito: tuple[Client, Any]) -> None:
    client, key = cognito
    viewer = _id_token(key, **{"cognito:groups": ["viewer"]})
    body = {"site_id": "s1", "name": "S", "timezone": "UTC"}
    assert_problem(client.post("/v1/sites", body, token=viewer), 403)
    login = client.post("/v1/auth/token", {"username": "root", "password": "whatever-pass"})
    assert_problem(login, 404)
