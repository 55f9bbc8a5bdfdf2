"""The signing key: a PKCS#12 file (as NCA RK issues them), or a development key made here.

A development key is self-signed and says so in its name; a bundle signed with it proves only
that its files have not changed since signing, and its cover letter says that plainly.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

DEVELOPMENT_COMMON_NAME = "petitions development key — not for delivery"
DEVELOPMENT_ORGANISATION = "petitions (development, self-signed)"
DEVELOPMENT_KEY_FILE = "signing-key-development.p12"
_DEVELOPMENT_YEARS = 10


class SigningKeyError(Exception):
    """The key file cannot be used: wrong password, unsupported algorithm, or no certificate."""


@dataclass(frozen=True)
class SigningKey:
    """A loaded PKCS#12 key, kept as bytes so that worker processes can receive it."""

    pkcs12: bytes
    password: bytes | None
    certificate_pem: bytes
    #: Further certificates in the file, such as the issuing authority's (PEM, concatenated).
    chain_pem: bytes
    development: bool

    @property
    def certificate(self) -> x509.Certificate:
        """Return the signing certificate."""
        return x509.load_pem_x509_certificate(self.certificate_pem)

    @property
    def subject(self) -> str:
        """Return the certificate's subject, as RFC 4514 text."""
        return self.certificate.subject.rfc4514_string()


def is_development_certificate(certificate: x509.Certificate) -> bool:
    """Return whether the certificate is one that `ensure_development_key` made."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return any(name.value == DEVELOPMENT_COMMON_NAME for name in names)


def load_signing_key(source: Path | str | bytes, password: str | bytes | None) -> SigningKey:
    """Load a PKCS#12 key from a file or bytes, legacy RC2-40/3DES encryption included."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    secret = password.encode() if isinstance(password, str) else password
    try:
        key, certificate, others = pkcs12.load_key_and_certificates(data, secret or None)
    except ValueError as error:
        # cryptography says the same for a wrong password and for a GOST key it cannot read.
        raise SigningKeyError(
            "cannot open the PKCS#12 key: wrong password, or an algorithm other than RSA/EC "
            "(NCA RK's GOST keys cannot be used; use the RSA256_ file)"
        ) from error
    if key is None or certificate is None:
        raise SigningKeyError("the PKCS#12 file must hold a private key and its certificate")
    if key.public_key() != certificate.public_key():
        raise SigningKeyError("the PKCS#12 file's certificate does not belong to its key")
    return SigningKey(
        pkcs12=data,
        password=secret or None,
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM),
        chain_pem=b"".join(other.public_bytes(serialization.Encoding.PEM) for other in others),
        development=is_development_certificate(certificate),
    )


def ensure_development_key(directory: Path | str) -> Path:
    """Return the development key in `directory`, creating it (no password) the first time."""
    path = Path(directory) / DEVELOPMENT_KEY_FILE
    if path.exists():
        return path
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = _development_pkcs12()
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".signing-key-")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        # link() fails if another process won the race: then both use the one that exists.
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
    return path


def _development_pkcs12() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, DEVELOPMENT_COMMON_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEVELOPMENT_ORGANISATION),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * _DEVELOPMENT_YEARS))
        # CA:TRUE lets a self-signed certificate anchor its own chain: NSS (pdfsig) and
        # OpenSSL then accept it as trusted once the recipient chooses to trust it.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_SIGNING_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return pkcs12.serialize_key_and_certificates(
        b"petitions development", key, certificate, None, serialization.NoEncryption()
    )


_SIGNING_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=True,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)
