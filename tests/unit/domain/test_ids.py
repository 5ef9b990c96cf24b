"""Identifiers: the allow-list that keeps injection, path tricks and homoglyphs out."""

from __future__ import annotations

import pytest

from smdh.domain.shared.errors import InvalidIdentifier, ValidationError
from smdh.domain.shared.ids import (
    AlertId,
    DeviceId,
    Identifier,
    JobId,
    LocationId,
    RuleId,
    SiteId,
    TenantId,
    UserId,
)

ALL_KINDS = [TenantId, SiteId, DeviceId, UserId, RuleId, JobId, LocationId, AlertId]

HOSTILE = [
    pytest.param("' OR 1=1 --", id="sql-injection"),
    pytest.param("x'; DROP TABLE events; --", id="sql-drop"),
    pytest.param("../etc", id="path-traversal"),
    pytest.param("a/b", id="slash"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("\u0430cme", id="cyrillic-a-homoglyph"),
    pytest.param("acme\u200b", id="zero-width-space"),
    pytest.param("x" * 10_000, id="10kB"),
    pytest.param("", id="empty"),
    pytest.param("-leading-dash", id="leading-dash"),
    pytest.param("_leading-underscore", id="leading-underscore"),
    pytest.param("acme\n", id="trailing-newline"),
    pytest.param("two words", id="space"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("<script>", id="html"),
    pytest.param("${jndi:ldap://x}", id="template"),
]


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_rejected_by_every_identifier(
    kind: type[Identifier], value: str
) -> None:
    with pytest.raises(InvalidIdentifier):
        kind(value)
    assert not kind.is_valid(value)


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("value", [None, 42, b"acme", ["acme"]])
def test_non_strings_are_rejected_with_the_type_named(
    kind: type[Identifier], value: object
) -> None:
    with pytest.raises(InvalidIdentifier, match="must be a string"):
        kind(value)


def test_invalid_identifier_is_a_validation_error() -> None:
    assert issubclass(InvalidIdentifier, ValidationError)
    assert InvalidIdentifier.code == "invalid-identifier"


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (TenantId, "acme"),
        (TenantId, "acme-gmbh-2"),
        (TenantId, "0day"),
        (TenantId, "a" * 63),
        (SiteId, "Plant_1.Hall-A"),
        (DeviceId, "m-001"),
        (DeviceId, "gw:line-3:press.7"),
        (DeviceId, "D" * 128),
        (UserId, "alice"),
        (UserId, "alice.smith+ops@example.com"),
        (RuleId, "overheat-1"),
    ],
)
def test_valid_values_round_trip_as_plain_strings(kind: type[Identifier], value: str) -> None:
    ident = kind(value)
    assert isinstance(ident, str)
    assert ident == value
    assert str(ident) == value
    assert hash(ident) == hash(value)
    assert {value: 1}[ident] == 1
    assert kind.is_valid(value)


def test_constructing_from_the_same_kind_returns_the_same_object() -> None:
    device = DeviceId("m-1")
    assert DeviceId(device) is device


def test_another_kind_is_revalidated_against_this_kinds_rule() -> None:
    site = SiteId("Plant_1")  # fine as a site id, not a tenant slug
    with pytest.raises(InvalidIdentifier, match="tenant id"):
        TenantId(site)


@pytest.mark.parametrize(
    "value",
    ["Acme", "ACME", "acme_gmbh", "acme.io", "acme:1", "a" * 64, "alice@acme.com"],
)
def test_tenant_slug_is_lowercase_letters_digits_and_dashes_only(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        TenantId(value)
    assert "lowercase" in info.value.message


def test_generic_identifier_length_limit_is_128() -> None:
    assert DeviceId("a" * 128) == "a" * 128
    with pytest.raises(InvalidIdentifier):
        DeviceId("a" * 129)


def test_only_user_ids_allow_at_and_plus() -> None:
    assert UserId("ops+1@example.com") == "ops+1@example.com"
    for kind in (DeviceId, SiteId, RuleId):
        with pytest.raises(InvalidIdentifier):
            kind("ops+1@example.com")


def test_error_message_names_the_kind_and_the_rule() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        DeviceId("bad id")
    message = str(info.value)
    assert "device id" in message
    assert "'bad id'" in message
    assert "1-128 characters" in message


def test_error_message_truncates_a_huge_value() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        DeviceId("y" * 10_000 + "!")
    message = str(info.value)
    assert len(message) < 300
    assert "..." in message
