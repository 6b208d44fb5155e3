"""TLS for the room, so browsers on other machines get a secure context (WebCodecs' H.264
decoder exists only there; without it they fall back to JPEG at several times the bandwidth).

Either the operator's own certificate and key (``--tls-cert``/``--tls-key``), or
``--tls self-signed``: a certificate for the room's host names, made once with the
``cryptography`` package and cached under the state folder, so a browser trusted once stays
trusted across restarts.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import ssl
from pathlib import Path

from capture.cache import state_dir
from immersion.errors import StageError

VALID_DAYS = 825  # the longest that browsers accept for a certificate


class TlsError(StageError):
    """A certificate or key that cannot be used."""


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context from PEM files; a bad file is one line naming it."""
    for path, what in ((cert, "--tls-cert"), (key, "--tls-key")):
        if not path.is_file():
            raise TlsError(f"{what} {path}: no such file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise TlsError(
            f"{cert} / {key}: not a matching PEM certificate and key ({exc.reason})"
        ) from None
    except OSError as exc:
        raise TlsError(f"{cert} / {key}: cannot be read ({exc.strerror})") from None
    return context


def self_signed(names: tuple[str, ...], folder: Path | None = None) -> tuple[Path, Path]:
    """The cached self-signed certificate and key for ``names`` (made on first use)."""
    folder = folder or state_dir() / "tls"
    digest = hashlib.sha256("\n".join(sorted(set(names))).encode()).hexdigest()[:12]
    cert, key = folder / f"room-{digest}.crt", folder / f"room-{digest}.key"
    if cert.is_file() and key.is_file() and _still_valid(cert):
        return cert, key
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Immersion room ({names[0]})")])
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name.strip("[]"))))
        except ValueError:
            alt.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(private, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    key.touch(mode=0o600)
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _still_valid(cert: Path) -> bool:
    from cryptography import x509

    try:
        loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    except ValueError:
        return False
    left = loaded.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    return left > datetime.timedelta(days=7)


def trust_hint(cert: Path) -> str:
    """How to make browsers trust a self-signed room certificate, in one short paragraph."""
    return (
        f"  --tls self-signed: browsers warn until they trust {cert}.\n"
        f"  Chromium/Chrome on Linux: certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n immersion "
        f"-i {cert}\n"
        f"  Firefox: Settings > Certificates > Import; macOS: open it in Keychain Access and "
        f"trust it; or accept the warning once per browser."
    )
