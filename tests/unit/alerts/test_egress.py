"""``EgressPolicy``: which webhook and Slack targets a hub may reach (SSRF defence)."""

from __future__ import annotations

import ipaddress

import pytest

from smdh.application.egress import (
    BlockedTarget,
    EgressPolicy,
    PrivateTarget,
    literal_address,
    non_public,
)

DENY = EgressPolicy(allow_private=False)
ALLOW = EgressPolicy(allow_private=True)

ANY = "0.0.0.0"  # noqa: S104 - an address to refuse; nothing binds here
NOT_PUBLIC = [
    "10.1.2.3", "172.16.0.1", "192.168.1.10", "127.0.0.1", ANY, "169.254.169.254",
    "100.64.0.1", "224.0.0.251", "255.255.255.255", "198.18.0.1", "::1", "::", "fe80::1",
    "fc00::1", "ff02::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1",
    "2002:0a00:0001::1",  # 6to4 wrapping 10.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo whose client is 10.0.0.1
]  # fmt: skip
PUBLIC = ["8.8.8.8", "1.1.1.1", "52.94.236.248", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("text", NOT_PUBLIC)
def test_not_public_addresses(text: str) -> None:
    assert non_public(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses(text: str) -> None:
    assert not non_public(ipaddress.ip_address(text))


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # what inet_aton and so the resolver make of these
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("[::1]", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("hooks.slack.com", None),
    ],
)
def test_literal_addresses_in_every_spelling(host: str, expected: str | None) -> None:
    found = literal_address(host)
    assert (None if found is None else str(found)) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5:8080/admin",
        "http://localhost:9000/",
        "https://grafana.localhost/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://LOCALHOST./x",
    ],
)
def test_a_shared_hub_refuses_private_urls_when_they_are_configured(url: str) -> None:
    with pytest.raises(PrivateTarget, match="private or local address") as caught:
        DENY.check_url(url, "webhook url")
    assert caught.value.code == "private-target"
    ALLOW.check_url(url, "webhook url")  # a plant's own hub: in-house receivers are fine


def test_public_urls_and_names_pass_configuration() -> None:
    for url in ("https://hooks.slack.com/services/T/B/X", "https://8.8.8.8/hook"):
        DENY.check_url(url, "webhook url")


def test_at_delivery_every_address_of_the_name_must_be_public() -> None:
    assert DENY.pick_address("hooks.example.com", ["8.8.8.8", "1.1.1.1"]) == "8.8.8.8"
    with pytest.raises(BlockedTarget, match=r"resolves to 10\.0\.0\.7"):
        DENY.pick_address("hooks.example.com", ["8.8.8.8", "10.0.0.7"])
    with pytest.raises(BlockedTarget, match="no address"):
        DENY.pick_address("hooks.example.com", [])
    with pytest.raises(BlockedTarget):
        DENY.pick_address("localhost", ["8.8.8.8"])
    assert ALLOW.pick_address("anything", ["10.0.0.7"]) is None  # connect by name


def test_the_environment_overrides_the_profile_default() -> None:
    key = "SMDH_NOTIFY_PRIVATE_TARGETS"
    assert EgressPolicy.from_env({}, default_allow=False) == DENY
    assert EgressPolicy.from_env({}, default_allow=True) == ALLOW
    assert EgressPolicy.from_env({key: "allow"}, default_allow=False) == ALLOW
    assert EgressPolicy.from_env({key: " Deny "}, default_allow=True) == DENY
    with pytest.raises(ValueError, match="allow or deny"):
        EgressPolicy.from_env({key: "yes"}, default_allow=True)
