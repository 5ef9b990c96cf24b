"""``smdh tls-cert`` (a self-signed pair for trials) and the checks ``smdh serve`` runs on
``--tls-cert``/``--tls-key`` before it starts anything. Real files in a temporary folder."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from smdh.entrypoints import cli
from smdh.entrypoints.tls import TlsFiles, TlsSetupError, load_tls_files, write_self_signed

pytestmark = pytest.mark.integration


def tls_cert(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(["tls-cert", *argv])
    return code, capsys.readouterr().err


def handshake(cert: Path, key: Path, trusted: Path, server_name: str) -> str:
    """A TLS handshake in memory: server with (cert, key), client trusting ``trusted``."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(trusted))
    client.verify_flags |= ssl.VERIFY_X509_STRICT  # what Python 3.13 clients do by default
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client_side = client.wrap_bio(c_in, c_out, server_hostname=server_name)
    server_side = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side, outgoing, peer_in in ((client_side, c_out, s_in), (server_side, s_out, c_in)):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
            peer_in.write(outgoing.read())
        if client_side.version() and server_side.version():
            break
    version = client_side.version()
    assert version is not None, "the handshake did not finish"
    return version


def test_tls_cert_writes_a_self_signed_pair_for_the_given_hosts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "certs"
    old_umask = os.umask(0)  # the key is 0600 whatever the umask
    try:
        code, err = tls_cert(capsys, "--out", str(out), "--host", "hub.plant.example",
                             "--host", "10.0.0.5")  # fmt: skip
    finally:
        os.umask(old_umask)
    assert code == 0, err
    assert f"smdh serve --tls-cert {out / 'cert.pem'} --tls-key {out / 'key.pem'}" in err
    assert (out / "key.pem").stat().st_mode & 0o777 == 0o600
    assert (out / "cert.pem").stat().st_mode & 0o777 == 0o644
    cert = x509.load_pem_x509_certificate((out / "cert.pem").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["hub.plant.example", "localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.0.0.5"),
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == "hub.plant.example"
    assert cert.issuer == cert.subject  # self-signed
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert timedelta(days=365) <= lifetime <= timedelta(days=365, minutes=10)
    assert cert.not_valid_before_utc <= datetime.now(UTC)
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"
    # the key matches, and a client trusting only cert.pem accepts the hub under every name
    assert load_tls_files(out / "cert.pem", out / "key.pem") is not None
    for name in ("hub.plant.example", "localhost", "127.0.0.1", "10.0.0.5"):
        version = handshake(out / "cert.pem", out / "key.pem", out / "cert.pem", name)
        assert version in ("TLSv1.2", "TLSv1.3")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(out / "cert.pem", out / "key.pem", out / "cert.pem", "elsewhere.example")


def test_tls_cert_without_hosts_covers_localhost_and_rsa_is_an_option(tmp_path: Path) -> None:
    made = write_self_signed(tmp_path, key_type="rsa")
    assert made.names == ("localhost", "127.0.0.1", "::1")
    public = x509.load_pem_x509_certificate(made.cert.read_bytes()).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048
    assert handshake(made.cert, made.key, made.cert, "127.0.0.1")


def test_tls_cert_does_not_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tls_cert(capsys, "--out", str(tmp_path))[0] == 0
    before = (tmp_path / "key.pem").read_bytes()
    code, err = tls_cert(capsys, "--out", str(tmp_path))
    assert code == 2
    assert "exist; --force replaces them" in err
    assert (tmp_path / "key.pem").read_bytes() == before
    assert tls_cert(capsys, "--out", str(tmp_path), "--force")[0] == 0
    assert (tmp_path / "key.pem").read_bytes() != before
    assert (tmp_path / "key.pem").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("host", ["bad name", "http://hub", "", "hub/x"])
def test_tls_cert_refuses_what_is_not_a_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    code, err = tls_cert(capsys, "--out", str(tmp_path), "--host", host)
    assert code == 2
    assert "expected a host name or an IP address" in err
    assert not (tmp_path / "key.pem").exists()


# --- the checks before `smdh serve` starts -------------------------------------------------


@pytest.fixture
def pair(tmp_path: Path) -> TlsFiles:
    made = write_self_signed(tmp_path / "pair")
    return TlsFiles(made.cert, made.key)


def refused(cert: object, key: object) -> str:
    with pytest.raises(TlsSetupError) as raised:
        load_tls_files(cert, key)  # type: ignore[arg-type]
    return str(raised.value)


def test_neither_is_no_tls_and_a_good_pair_comes_back_absolute(
    pair: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_tls_files(None, None) is None
    monkeypatch.chdir(pair.cert.parent)
    assert load_tls_files("cert.pem", "key.pem") == TlsFiles(pair.cert, pair.key)


def test_half_a_pair(pair: TlsFiles) -> None:
    assert "give both or neither" in refused(pair.cert, None)
    assert "give both or neither" in refused(None, pair.key)


def test_missing_and_not_a_file(pair: TlsFiles, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    assert refused(missing, pair.key) == f"--tls-cert {missing}: no such file"
    assert refused(pair.cert, missing) == f"--tls-key {missing}: no such file"
    assert refused(tmp_path, pair.key) == f"--tls-cert {tmp_path}: not a file"


def test_unreadable(pair: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 0 does not stop root (CI runs as root), so the read itself is made to fail
    real_read = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        if path == pair.key:
            raise PermissionError(13, "Permission denied")
        return real_read(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    expected = f"--tls-key {pair.key}: cannot read it (Permission denied)"
    assert refused(pair.cert, pair.key) == expected


def test_not_pem(pair: TlsFiles, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("hello\n")
    assert refused(junk, pair.key) == f"--tls-cert {junk}: not a PEM certificate"
    assert refused(pair.cert, junk) == f"--tls-key {junk}: not a PEM private key"
    # the certificate given as the key, and the other way round
    assert "not a PEM private key" in refused(pair.cert, pair.cert)
    assert "not a PEM certificate" in refused(pair.key, pair.key)


def test_a_key_that_does_not_match(pair: TlsFiles, tmp_path: Path) -> None:
    other = write_self_signed(tmp_path / "other")
    message = refused(pair.cert, other.key)
    assert message.startswith(f"the key in {other.key} does not match the certificate in")


def test_a_passphrase_protected_key(pair: TlsFiles, tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
    locked = tmp_path / "locked.pem"
    locked.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    assert "protected by a passphrase" in refused(pair.cert, locked)


def test_a_certificate_followed_by_its_chain_is_accepted(pair: TlsFiles, tmp_path: Path) -> None:
    other = write_self_signed(tmp_path / "other")
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pair.cert.read_bytes() + other.cert.read_bytes())
    assert load_tls_files(chain, pair.key) == TlsFiles(chain, pair.key)


def test_an_expired_certificate_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "old")])
    now = datetime.now(UTC)
    old = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now - timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert, key_file = tmp_path / "old.pem", tmp_path / "old-key.pem"
    cert.write_bytes(old.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with caplog.at_level("WARNING"):
        assert load_tls_files(cert, key_file) is not None
    assert "clients will refuse it" in caplog.text
