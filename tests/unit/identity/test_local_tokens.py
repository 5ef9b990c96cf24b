"""The local token authority: real EdDSA tokens, round trips and the classic JWT attacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st

from smdh.adapters.identity.local_tokens import LocalTokenAuthority
from smdh.application.ports import IssuedToken, TokenIssuer, TokenVerifier
from smdh.application.principals import AuthenticationFailed, Principal
from smdh.domain.tenancy.roles import Role

START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "keys" / "token-signing.pem"


@pytest.fixture
def authority(key_path: Path, clock: FakeClock) -> LocalTokenAuthority:
    return LocalTokenAuthority(key_path, clock=clock, leeway_seconds=5)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned_parts(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())


def valid_claims(**overrides: Any) -> dict[str, Any]:
    now = int(START.timestamp())
    claims: dict[str, Any] = {
        "iss": "smdh-local",
        "aud": "smdh-api",
        "sub": "alice",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "smdh:kind": "user",
        "smdh:tenant": "acme",
        "smdh:role": "viewer",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def signed_with_our_key(authority: LocalTokenAuthority, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, authority.load_or_create(), algorithm="EdDSA")


def refused(authority: LocalTokenAuthority, token: str) -> str:
    with pytest.raises(AuthenticationFailed) as failure:
        authority.verify(token)
    return str(failure.value)


# --- happy paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "principal",
    [
        Principal.operator("root"),
        Principal.user("acme", "alice", Role.ADMIN),
        Principal.user("acme", "bob@example.com", Role.EDITOR),
        Principal.user("globex", "carol", Role.VIEWER),
        Principal.device("acme", "m-001"),
    ],
)
def test_principals_round_trip(authority: LocalTokenAuthority, principal: Principal) -> None:
    issued = authority.issue(principal)
    assert issued.token_type == "Bearer"
    assert issued.expires_in == 900
    assert authority.verify(issued.access_token) == principal


def test_authority_satisfies_both_ports(authority: LocalTokenAuthority) -> None:
    issuer: TokenIssuer = authority
    verifier: TokenVerifier = authority
    issued = issuer.issue(Principal.operator("root"), ttl_seconds=60)
    assert isinstance(issued, IssuedToken)
    assert issued.expires_in == 60
    assert verifier.verify(issued.access_token).is_operator


def test_claims_and_header(authority: LocalTokenAuthority) -> None:
    user = authority.issue(Principal.user("acme", "alice", Role.EDITOR)).access_token
    header = jwt.get_unverified_header(user)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == authority.key_id
    claims = jwt.decode(user, options={"verify_signature": False})
    start = int(START.timestamp())
    assert claims["iss"] == "smdh-local"
    assert claims["aud"] == "smdh-api"
    assert claims["sub"] == "alice"
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (start, start, start + 900)
    assert claims["jti"]
    assert (claims["smdh:kind"], claims["smdh:tenant"], claims["smdh:role"]) == (
        "user",
        "acme",
        "editor",
    )
    operator = authority.issue(Principal.operator("root")).access_token
    operator_claims = jwt.decode(operator, options={"verify_signature": False})
    assert "smdh:tenant" not in operator_claims
    assert "smdh:role" not in operator_claims
    device = authority.issue(Principal.device("acme", "m-001")).access_token
    assert "smdh:role" not in jwt.decode(device, options={"verify_signature": False})


def test_every_token_gets_its_own_jti(authority: LocalTokenAuthority) -> None:
    root = Principal.operator("root")
    ids = {
        jwt.decode(authority.issue(root).access_token, options={"verify_signature": False})["jti"]
        for _ in range(3)
    }
    assert len(ids) == 3


# --- the signing key ----------------------------------------------------------------------


def test_key_is_created_on_first_use_with_mode_0600(
    authority: LocalTokenAuthority, key_path: Path
) -> None:
    assert not key_path.exists()  # not at construction
    authority.issue(Principal.operator("root"))
    assert key_path.exists()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key_path.read_bytes()
    assert [path.name for path in key_path.parent.iterdir()] == [key_path.name]  # no temp left


def test_key_is_reused_on_the_next_start(key_path: Path, clock: FakeClock) -> None:
    first_start = LocalTokenAuthority(key_path, clock=clock)
    token = first_start.issue(Principal.user("acme", "alice", Role.ADMIN)).access_token
    pem = key_path.read_bytes()
    second_start = LocalTokenAuthority(key_path, clock=clock)
    assert second_start.verify(token) == Principal.user("acme", "alice", Role.ADMIN)
    assert key_path.read_bytes() == pem
    assert second_start.key_id == first_start.key_id


def test_a_file_with_another_kind_of_key_is_refused(key_path: Path) -> None:
    key_path.parent.mkdir(parents=True)
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path.write_bytes(other)
    with pytest.raises(ValueError, match="Ed25519"):
        LocalTokenAuthority(key_path).load_or_create()


# --- time ---------------------------------------------------------------------------------


def test_expired_token_is_refused(authority: LocalTokenAuthority, clock: FakeClock) -> None:
    token = authority.issue(Principal.operator("root"), ttl_seconds=60).access_token
    clock.advance(60 + 4)  # within the 5 s leeway
    assert authority.verify(token).is_operator
    clock.advance(1)
    assert refused(authority, token) == "token expired"


def test_not_yet_valid_token_is_refused(authority: LocalTokenAuthority) -> None:
    start = int(START.timestamp())
    token = signed_with_our_key(authority, valid_claims(nbf=start + 60))
    assert refused(authority, token) == "token not yet valid"


def test_token_issued_in_the_future_is_refused(authority: LocalTokenAuthority) -> None:
    start = int(START.timestamp())
    token = signed_with_our_key(authority, valid_claims(iat=start + 3600, nbf=None))
    assert refused(authority, token) == "token issued in the future"


@pytest.mark.parametrize("claim", ["exp", "iat"])
def test_non_numeric_times_are_refused(authority: LocalTokenAuthority, claim: str) -> None:
    token = signed_with_our_key(authority, valid_claims(**{claim: "tomorrow"}))
    with pytest.raises(AuthenticationFailed):
        authority.verify(token)


def test_the_system_clock_is_the_default(key_path: Path) -> None:
    authority = LocalTokenAuthority(key_path, leeway_seconds=0)
    with freeze_time("2031-05-01 08:00:00"):
        token = authority.issue(Principal.operator("root"), ttl_seconds=300).access_token
        assert authority.verify(token).is_operator
    with freeze_time("2031-05-01 08:05:00"), pytest.raises(AuthenticationFailed):
        authority.verify(token)


def test_configuration_limits(key_path: Path) -> None:
    with pytest.raises(ValueError, match="leeway"):
        LocalTokenAuthority(key_path, leeway_seconds=31)
    with pytest.raises(ValueError, match="lifetime"):
        LocalTokenAuthority(key_path, default_ttl_seconds=0)
    with pytest.raises(ValueError, match="lifetime"):
        LocalTokenAuthority(key_path).issue(Principal.operator("root"), ttl_seconds=10**9)
    naive = LocalTokenAuthority(key_path, clock=lambda: datetime(2030, 1, 1))  # naive on purpose
    with pytest.raises(ValueError, match="timezone-aware"):
        naive.issue(Principal.operator("root"))


# --- attacks ------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(authority: LocalTokenAuthority, alg: str) -> None:
    authority.load_or_create()
    token = unsigned_parts({"alg": alg, "typ": "JWT"}, valid_claims(**{"smdh:role": "admin"}))
    refused(authority, token + ".")


@pytest.mark.parametrize("encoding", ["pem", "raw"])
def test_hs256_signed_with_the_public_key_is_refused(
    authority: LocalTokenAuthority, encoding: str
) -> None:
    public = authority.load_or_create().public_key()
    secret = (
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if encoding == "pem"
        else public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    signing_input = unsigned_parts(
        {"alg": "HS256", "typ": "JWT", "kid": authority.key_id},
        valid_claims(**{"smdh:role": "admin"}),
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    assert refused(authority, signing_input + "." + b64url(signature)) == "algorithm not allowed"


def test_token_from_another_key_is_refused(
    authority: LocalTokenAuthority, tmp_path: Path, clock: FakeClock
) -> None:
    impostor = LocalTokenAuthority(tmp_path / "other.pem", clock=clock)
    token = impostor.issue(Principal.user("acme", "alice", Role.ADMIN)).access_token
    assert refused(authority, token) == "bad signature"


def test_tampered_payload_is_refused(authority: LocalTokenAuthority) -> None:
    token = authority.issue(Principal.user("acme", "alice", Role.VIEWER)).access_token
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["smdh:role"] = "admin"
    forged = ".".join((header, b64url(json.dumps(claims).encode()), signature))
    assert refused(authority, forged) == "bad signature"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "someone-else"}, "wrong issuer"),
        ({"aud": "grafana"}, "wrong audience"),
        ({"aud": ["smdh-api", "grafana"]}, "wrong audience"),
        ({"sub": None}, "missing sub claim"),
        ({"exp": None}, "missing exp claim"),
        ({"iat": None}, "missing iat claim"),
        ({"iss": None}, "missing iss claim"),
        ({"aud": None}, "missing aud claim"),
        ({"smdh:kind": None}, "missing or invalid kind claim"),
        ({"smdh:kind": "superuser"}, "missing or invalid kind claim"),
        ({"smdh:kind": ["user"]}, "missing or invalid kind claim"),
        ({"smdh:role": ["admin"]}, "invalid role claim"),
        ({"smdh:tenant": ["acme"]}, "invalid tenant claim"),
        ({"sub": 42}, "invalid token"),
        ({"smdh:tenant": None}, "missing tenant claim"),
        ({"smdh:tenant": "ACME; DROP TABLE"}, "invalid tenant claim"),
        ({"smdh:tenant": 42}, "invalid tenant claim"),
        ({"smdh:role": None}, "missing role claim"),
        ({"smdh:role": "owner"}, "invalid role claim"),
        ({"smdh:kind": "operator"}, "claims do not describe a valid principal"),
        ({"smdh:kind": "device"}, "claims do not describe a valid principal"),
        ({"sub": "../../etc/passwd"}, "claims do not describe a valid principal"),
    ],
)
def test_bad_claims_are_refused(
    authority: LocalTokenAuthority, overrides: dict[str, Any], reason: str
) -> None:
    assert refused(authority, signed_with_our_key(authority, valid_claims(**overrides))) == reason


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not-a-token",
        "a.b.c",
        "..",
        "Bearer eyJ.eyJ.sig",
        "ünïcödé.tökén.sïg",
        "x" * 10_000,
        ("A" * 3000 + ".") * 3,
        unsigned_parts({"alg": "EdDSA"}, {}) + ".",
        b64url(b"[1, 2]") + "." + b64url(b"{}") + ".c2ln",
        b64url(b'{"alg": "EdDSA"}') + "." + b64url(b"[1, 2]") + ".c2ln",
        b64url(b'{"alg": "EdDSA"}') + "." + b64url(b"not json") + ".c2ln",
    ],
)
def test_garbage_is_refused(authority: LocalTokenAuthority, garbage: str) -> None:
    refused(authority, garbage)


def test_non_string_tokens_are_refused(authority: LocalTokenAuthority) -> None:
    with pytest.raises(AuthenticationFailed):
        authority.verify(None)  # type: ignore[arg-type]
    with pytest.raises(AuthenticationFailed):
        authority.verify(b"a.b.c")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fuzz_authority(tmp_path_factory: pytest.TempPathFactory) -> LocalTokenAuthority:
    # hypothesis reruns the test body many times, so the authority must outlive one example
    path = tmp_path_factory.mktemp("fuzz") / "key.pem"
    return LocalTokenAuthority(path, clock=FakeClock(START))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300) | st.from_regex(r"[A-Za-z0-9_-]{0,60}(\.[A-Za-z0-9_-]{0,60}){2}"))
def test_arbitrary_text_only_ever_fails_cleanly(
    fuzz_authority: LocalTokenAuthority, text: str
) -> None:
    with pytest.raises(AuthenticationFailed):
        fuzz_authority.verify(text)


def test_reasons_never_include_key_material(authority: LocalTokenAuthority) -> None:
    authority.load_or_create()
    pem = authority.key_path.read_bytes()
    reason = refused(authority, signed_with_our_key(authority, valid_claims(iss="x")))
    assert len(reason) < 80
    assert "KEY" not in reason
    assert pem.decode() not in reason


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
_CLAIM_VALUES = _JSON | st.sampled_from(["user", "device", "operator", "acme", "admin", "m-1"])


@settings(max_examples=200, deadline=None)
@given(
    kind=_CLAIM_VALUES,
    tenant=_CLAIM_VALUES,
    role=_CLAIM_VALUES,
    subject=_CLAIM_VALUES,
    expires=_JSON,
)
def test_signed_tokens_with_arbitrary_claims_verify_or_fail_cleanly(
    fuzz_authority: LocalTokenAuthority,
    *,
    kind: Any,
    tenant: Any,
    role: Any,
    subject: Any,
    expires: Any,
) -> None:
    claims = valid_claims(sub=subject, exp=expires)
    claims.update({"smdh:kind": kind, "smdh:tenant": tenant, "smdh:role": role})
    token = signed_with_our_key(fuzz_authority, claims)
    try:
        principal = fuzz_authority.verify(token)
    except AuthenticationFailed:
        return
    assert principal.kind == kind
    assert principal.subject == subject
