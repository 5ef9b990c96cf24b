"""Where the hub may send what tenants configure: webhook and Slack URLs.

A tenant admin chooses these URLs, and the hub POSTs to them from inside the operator's
network. On a shared (SaaS) hub that is server-side request forgery waiting to happen: a
webhook to ``http://169.254.169.254/...`` or ``http://10.0.0.5:8080/admin`` would make the
hub reach the cloud metadata service or the operator's private services. So a policy:

* ``allow_private=False`` (the ``aws`` profile's default): only globally routable addresses.
  URLs naming a private, loopback, link-local, shared, reserved or multicast address (or
  ``localhost``) are refused when they are configured, and at every delivery the host's
  DNS answer is checked, every address of it, and the connection goes to the address that
  was checked, so a name that changes its answer between check and connect (DNS rebinding)
  gains nothing.
* ``allow_private=True`` (the local default): on a plant's own hub, the receivers usually are
  in-house systems (MES, SCADA gateways) on private addresses.

``SMDH_NOTIFY_PRIVATE_TARGETS=allow|deny`` overrides the profile's default.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

import attrs

from smdh.domain.shared.errors import ValidationError

ENV_VAR = "SMDH_NOTIFY_PRIVATE_TARGETS"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PrivateTarget(ValidationError):
    """A webhook or Slack URL this hub will not deliver to (answered 400 at configuration)."""

    code = "private-target"


class BlockedTarget(ValueError):
    """A delivery the policy refuses; a ValueError, so the dispatcher does not retry it."""


def non_public(address: IPAddress) -> bool:
    """True for every address that is not globally routable unicast, including IPv4 hidden
    in an IPv6 address (mapped, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None and non_public(embedded):
            return True
    return not address.is_global or address.is_multicast


def literal_address(host: str) -> IPAddress | None:
    """The address a URL host spells out, in any form a resolver accepts (``127.1``,
    ``0x7f000001``, ``2130706433`` are all 127.0.0.1), or None for a name."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    try:  # the classic inet_aton forms; parsing only, no lookup
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def _local_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


@attrs.frozen
class EgressPolicy:
    allow_private: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, default_allow: bool) -> EgressPolicy:
        value = env.get(ENV_VAR, "").strip().lower()
        if value in ("", "default"):
            return cls(default_allow)
        if value not in ("allow", "deny"):
            raise ValueError(f"{ENV_VAR} must be allow or deny, got {value!r}")
        return cls(value == "allow")

    def check_url(self, url: str, what: str) -> None:
        """At configuration: refuse a URL whose host is a non-public address or localhost
        (a name's DNS answer is checked at each delivery)."""
        if self.allow_private:
            return
        host = urlsplit(url).hostname or ""
        address = literal_address(host)
        if _local_name(host) or (address is not None and non_public(address)):
            raise PrivateTarget(
                f"{what} points at {host}, a private or local address; this hub only "
                "delivers to public internet addresses"
            )

    def pick_address(self, host: str, addresses: Iterable[str]) -> str | None:
        """At delivery: the address to connect to (None: connect by name, as usual); raises
        BlockedTarget when any of the host's addresses is not public."""
        if self.allow_private:
            return None
        found = list(addresses)
        if not found:
            raise BlockedTarget(f"{host} has no address")
        for text in found:
            if _local_name(host) or non_public(ipaddress.ip_address(text.split("%", 1)[0])):
                raise BlockedTarget(
                    f"{host} resolves to {text}, a private or local address; this hub only "
                    f"delivers to public internet addresses ({ENV_VAR}=deny)"
                )
        return found[0]
