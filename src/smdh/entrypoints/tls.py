"""TLS for the hub's own listeners (HTTPS and MQTT over TLS).

- ``load_tls_files``: the ``--tls-cert``/``--tls-key`` pair, checked before anything starts
  (present, readable, PEM, unencrypted key, key matching the certificate), so a mistake is
  one clear line and exit status 2 instead of a half-started hub or a passphrase prompt.
- ``server_ssl_context``: the context the HTTP listener serves with (TLS 1.2 at least; no
  client certificates asked for: devices and users authenticate with passwords and tokens).
- ``write_self_signed``: ``smdh tls-cert``, a self-signed certificate for trials. Clients
  trust that one file (``curl --cacert``, paho ``tls_set(ca_certs=...)``); for production use
  a certificate from the plant's CA or a public one.

``cryptography`` is imported only by the functions that need it: ``smdh`` starts fast.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import attrs

if TYPE_CHECKING:
    from cryptography import x509

log = logging.getLogger(__name__)

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")
KeyType = Literal["ec", "rsa"]
# a DNS name, optionally a wildcard one (*.plant.example)
_LABEL = r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?"
_HOST_NAME = re.compile(rf"(\*\.)?{_LABEL}(\.{_LABEL})*")


class TlsSetupError(ValueError):
    """The certificate or key cannot be used; the message says which file and why."""


@attrs.frozen
class TlsFiles:
    """A server certificate (PEM, optionally followed by its chain) and its private key."""

    cert: Path
    key: Path


def server_ssl_context(files: TlsFiles) -> ssl.SSLContext:
    """The server side of TLS for the HTTP listener (the MQTT broker's matches it)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_NONE  # no client certificates: passwords and tokens
    context.load_cert_chain(files.cert, files.key)
    return context


def _read(flag: str, path: Path) -> bytes:
    if not path.exists():
        raise TlsSetupError(f"{flag} {path}: no such file")
    if not path.is_file():
        raise TlsSetupError(f"{flag} {path}: not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TlsSetupError(f"{flag} {path}: cannot read it ({exc.strerror or exc})") from None


def load_tls_files(cert: str | Path | None, key: str | Path | None) -> TlsFiles | None:
    """The checked pair (absolute paths), None for neither; ``TlsSetupError`` otherwise."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise TlsSetupError("--tls-cert and --tls-key go together: give both or neither")
    from cryptography import x509  # noqa: PLC0415 - see the module docstring
    from cryptography.exceptions import UnsupportedAlgorithm  # noqa: PLC0415
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    cert_path, key_path = Path(cert).expanduser().absolute(), Path(key).expanduser().absolute()
    cert_pem, key_pem = _read("--tls-cert", cert_path), _read("--tls-key", key_path)
    try:
        leaf = x509.load_pem_x509_certificates(cert_pem)[0]
    except ValueError:
        raise TlsSetupError(f"--tls-cert {cert_path}: not a PEM certificate") from None
    try:
        private_key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:  # encrypted: OpenSSL would prompt for the passphrase at start-up
        raise TlsSetupError(
            f"--tls-key {key_path}: the key is protected by a passphrase; give an "
            "unencrypted key file that only the hub's user can read (mode 0600)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise TlsSetupError(f"--tls-key {key_path}: not a PEM private key") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(*spki) != private_key.public_key().public_bytes(*spki):
        raise TlsSetupError(
            f"the key in {key_path} does not match the certificate in {cert_path} "
            "(--tls-key must be the certificate's own private key)"
        )
    files = TlsFiles(cert_path, key_path)
    try:
        server_ssl_context(files)  # what the listeners will do, so it cannot fail later
    except ssl.SSLError as exc:
        raise TlsSetupError(f"cannot use {cert_path} with {key_path}: {exc}") from None
    now = datetime.now(UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        log.warning(
            "the certificate %s is valid only from %s to %s: clients will refuse it",
            cert_path, leaf.not_valid_before_utc, leaf.not_valid_after_utc,
        )  # fmt: skip
    return files


@attrs.frozen
class SelfSigned:
    cert: Path
    key: Path
    names: tuple[str, ...]
    not_after: datetime


def _san(name: str) -> x509.GeneralName:
    from cryptography import x509  # noqa: PLC0415

    if _is_ip(name):
        return x509.IPAddress(ipaddress.ip_address(name))
    return x509.DNSName(name)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _names(hosts: Sequence[str]) -> tuple[str, ...]:
    """The subject alternative names: ``hosts`` first (the first is also the common name)."""
    names: list[str] = []
    for raw in (*hosts, *DEFAULT_NAMES):
        name = raw.strip().strip("[]").lower()
        if not (_is_ip(name) or _HOST_NAME.fullmatch(name)):
            raise TlsSetupError(f"--host {raw!r}: expected a host name or an IP address")
        if name not in names:
            names.append(name)
    return tuple(names)


def write_self_signed(
    out_dir: Path,
    hosts: Sequence[str] = (),
    *,
    key_type: KeyType = "ec",
    days: int = 365,
    force: bool = False,
) -> SelfSigned:
    """``cert.pem`` and ``key.pem`` (mode 0600) in ``out_dir``: a self-signed server
    certificate for ``hosts`` plus localhost, 127.0.0.1 and ::1 (EC P-256 or RSA 2048)."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: PLC0415
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

    names = _names(hosts)
    cert_path, key_path = out_dir / "cert.pem", out_dir / "key.pem"
    existing = [str(p) for p in (cert_path, key_path) if p.exists()]
    if existing and not force:
        raise TlsSetupError(f"{' and '.join(existing)} exist; --force replaces them")
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if key_type == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SMDH self-signed (trial)"),
        ]
    )
    now = datetime.now(UTC)
    not_after = now + timedelta(days=days)
    sans = [_san(n) for n in names]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # clients whose clocks run a bit behind
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=key_type == "rsa",
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(key_path, key_pem, 0o600)
    _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return SelfSigned(cert_path.absolute(), key_path.absolute(), names, not_after)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Atomically, created with ``mode`` (a key is never readable by others, not even briefly)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, mode)  # whatever the umask took away (0644 for the certificate)
    os.replace(tmp, path)
