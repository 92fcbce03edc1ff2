"""HTTPS for the phone: the certificate the daemon serves, its fingerprint, and this machine's LAN address.

``http.tls`` in the config (docs/phone.md)::

    tls: generate                               a self-signed certificate kept in <state_dir>/tls/
    tls: {cert: FILE, key: FILE}                one you have (PEM; the key unencrypted)

A generated certificate names ``localhost``, this machine's host names, 127.0.0.1, ::1, the LAN
address and ``http.host``; it is made again when it is within :data:`RENEW_BEFORE_DAYS` of expiring
or when one of those names is missing from it (the LAN address changed), so its fingerprint changes
then and a paired phone's browser asks to trust it once more. ``ambience pair`` prints the SHA-256
fingerprint so it can be compared with what the phone's browser shows.

The CLI talks to its own daemon pinning that certificate (:func:`client_context`): the certificate
file is the one trust anchor, so a server without its private key is refused.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ambience.config import Config
from ambience.errors import AmbienceError

log = logging.getLogger(__name__)

TLS_DIR = "tls"
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
VALID_DAYS = 825
"""The longest validity Apple's devices accept for a server certificate."""
RENEW_BEFORE_DAYS = 30
PROBE_ADDRESS = ("10.254.254.254", 1)
"""A private address 'connected' to over UDP to learn which local address routes out: no packet is sent."""
WILDCARDS = ("0.0.0.0", "::", "")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class TlsError(AmbienceError):
    """The configured certificate cannot be used, or one cannot be made."""


@dataclass(frozen=True)
class Certificate:
    """The certificate the daemon serves: its files and SHA-256 fingerprint (``AB:CD:…``)."""

    cert: Path
    key: Path
    fingerprint: str
    generated: bool


def lan_address() -> str | None:
    """This machine's address on the local network, or None if it has none (only loopback)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(PROBE_ADDRESS)  # UDP: only picks the route, sends nothing
        address = probe.getsockname()[0]
        if not ipaddress.ip_address(address).is_loopback and address != "0.0.0.0":
            return str(address)
    try:
        _, _, addresses = socket.gethostbyname_ex(socket.gethostname())
    except OSError:
        return None
    return next((a for a in addresses if not ipaddress.ip_address(a).is_loopback), None)


def listens_on_loopback_only(host: str) -> bool:
    """True if a daemon listening on ``host`` cannot be reached from another machine."""
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fingerprint(cert_pem: bytes) -> str:
    """The SHA-256 fingerprint of a PEM certificate as browsers show it: ``AB:CD:…`` (32 bytes)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _names(config: Config) -> tuple[set[str], set[str]]:
    """The DNS names and IP addresses a generated certificate must name."""
    dns = {"localhost"}
    host = socket.gethostname()
    if host:
        dns |= {host, host.split(".")[0], f"{host.split('.')[0]}.local"}
    ips = {"127.0.0.1", "::1"}
    lan = lan_address()
    if lan:
        ips.add(lan)
    configured = config.http.host
    if configured not in WILDCARDS:
        try:
            ips.add(str(ipaddress.ip_address(configured)))
        except ValueError:
            dns.add(configured)
    return dns, ips


def _covers(cert_pem: bytes, dns: set[str], ips: set[str]) -> bool:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_pem)
    if cert.not_valid_after_utc - timedelta(days=RENEW_BEFORE_DAYS) < datetime.now(UTC):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_dns = set(san.get_values_for_type(x509.DNSName))
    have_ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return dns <= have_dns and ips <= have_ips


def _generate(dns: set[str], ips: set[str]) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ambience on {socket.gethostname() or 'this machine'}")])
    now = datetime.now(UTC)
    alt = [x509.DNSName(d) for d in sorted(dns)] + [x509.IPAddress(ipaddress.ip_address(i)) for i in sorted(ips)]
    public = key.public_key()
    usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
         "encipher_only", "decipher_only"), False,
    )  # fmt: skip
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, **usage), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    tmp.replace(path)


def generated_paths(config: Config) -> tuple[Path, Path]:
    folder = config.state_dir / TLS_DIR
    return folder / CERT_FILE, folder / KEY_FILE


def server_certificate(config: Config) -> Certificate | None:
    """The certificate to serve (``http.tls``), made now if ``generate`` and none fits; None: plain HTTP."""
    tls = config.http.tls
    if tls is None:
        return None
    if tls.generate:
        cert, key = generated_paths(config)
        dns, ips = _names(config)
        try:
            current = cert.read_bytes() if cert.is_file() and key.is_file() else None
            if current is None or not _covers(current, dns, ips):
                cert.parent.mkdir(parents=True, exist_ok=True)
                current, key_pem = _generate(dns, ips)
                _write_private(key, key_pem)
                _write_private(cert, current)
                log.info("generated a TLS certificate into %s for %s", cert, ", ".join(sorted(dns | ips)))
        except (OSError, ValueError) as exc:
            raise TlsError(f"cannot make a TLS certificate in {cert.parent}: {exc}") from None
        return Certificate(cert, key, fingerprint(current), generated=True)
    assert tls.cert is not None and tls.key is not None  # TlsConfig: generate, or both
    try:
        pem = tls.cert.read_bytes()
        found = fingerprint(pem)
    except OSError as exc:
        raise TlsError(f"http.tls.cert {str(tls.cert)!r} cannot be read: {exc.strerror or exc}") from None
    except ValueError:
        raise TlsError(f"http.tls.cert {str(tls.cert)!r} is not a PEM certificate") from None
    return Certificate(tls.cert, tls.key, found, generated=False)


def server_context(cert: Certificate) -> ssl.SSLContext:
    """The daemon's TLS context; a key that does not fit the certificate is one clear error."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2

    def no_password() -> str:  # else OpenSSL would ask on the terminal
        raise TlsError(
            f"http.tls.key {str(cert.key)!r} is encrypted; give it unencrypted (openssl pkey -in KEY -out NEW)"
        )

    try:
        context.load_cert_chain(cert.cert, cert.key, password=no_password)
    except ssl.SSLError as exc:  # an OSError too: first
        raise TlsError(
            f"http.tls: the key {str(cert.key)!r} does not fit the certificate {str(cert.cert)!r}, or is not an "
            f"unencrypted PEM key ({exc.reason or exc})"
        ) from None
    except OSError as exc:
        raise TlsError(f"http.tls.key {str(cert.key)!r} cannot be read: {exc.strerror or exc}") from None
    return context


def client_cert_file(config: Config) -> Path | None:
    """The certificate a client of this config's daemon pins, if the daemon serves HTTPS."""
    tls = config.http.tls
    if tls is None:
        return None
    return generated_paths(config)[0] if tls.generate else tls.cert


def client_context(cert_file: Path) -> ssl.SSLContext:
    """Trust exactly ``cert_file``: the daemon's own certificate is the only trust anchor.

    The host name is not checked: the CLI reaches its daemon on loopback, which a certificate
    bought for the clinic's name does not name; only the holder of the pinned key gets through.
    """
    try:
        context = ssl.create_default_context(cafile=str(cert_file))
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"cannot read the daemon's certificate {str(cert_file)!r}: {exc}") from None
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.check_hostname = False
    return context


__all__ = [
    "Certificate", "TlsError", "client_cert_file", "client_context", "fingerprint", "lan_address",
    "listens_on_loopback_only", "server_certificate", "server_context",
]  # fmt: skip
