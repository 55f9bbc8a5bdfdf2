"""Sealing: a signer's personal data encrypted to the organiser's public key, opened offline.

Flask-free, below the models. Every construction is libsodium's, through PyNaCl; nothing here is
cryptography of our own. docs/sealed-petitions.md documents each format so that any libsodium
binding can open them without this code.

- The **public key** is one line of text, `seal-x25519:` and the 32-byte X25519 key in standard
  base64. The server is given only this.
- The **private key file** (`sealing.key`) is JSON: the X25519 secret key in a `crypto_secretbox`
  (XSalsa20-Poly1305) under a key derived from the organiser's passphrase with `crypto_pwhash`
  (Argon2id), with the salt and limits beside it. It never reaches the server.
- A **sealed row** is a `crypto_box_seal` sealed box (an ephemeral X25519 key, then
  XSalsa20-Poly1305) of UTF-8 JSON: the signature's public id and petition slug (so that a box
  moved to another row is detected) with the name, email, city and comment.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils
from nacl.public import PrivateKey, PublicKey, SealedBox

PUBLIC_KEY_PREFIX = "seal-x25519:"
KEY_FILE_FORMAT = "petitions-sealing-key/1"
ROW_FORMAT = 1
#: Argon2id limits for the private key's passphrase: libsodium's "moderate" (256 MiB, 3 passes).
KDF_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
KDF_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_MODERATE
#: A passphrase shorter than this is refused when a key is made.
MIN_PASSPHRASE_LENGTH = 12
#: The fields of a signature that a sealed petition never stores in clear.
SEALED_FIELDS = ("name", "email", "city", "comment")


class SealingError(Exception):
    """A key, a key file or a sealed row is not what it should be; the message says what."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as error:
        raise SealingError(f"{what} is not base64") from error


@dataclass(frozen=True)
class SealingPublicKey:
    """The organiser's public key: what a sealed petition encrypts every signature to."""

    raw: bytes

    @classmethod
    def parse(cls, text: str) -> SealingPublicKey:
        """Read the one-line form, tolerating surrounding whitespace; raise SealingError."""
        line = text.strip()
        if "\n" in line or not line.startswith(PUBLIC_KEY_PREFIX):
            raise SealingError(
                f"a sealing public key is one line starting with {PUBLIC_KEY_PREFIX!r}"
            )
        raw = _unb64(line[len(PUBLIC_KEY_PREFIX) :], "the public key")
        if len(raw) != PublicKey.SIZE:
            raise SealingError(f"the public key must be {PublicKey.SIZE} bytes, not {len(raw)}")
        return cls(raw)

    @property
    def line(self) -> str:
        """Return the one-line form kept by the server and written to sealing.pub."""
        return PUBLIC_KEY_PREFIX + _b64(self.raw)

    @property
    def fingerprint(self) -> str:
        """Return a short form for people to compare: 16 hex digits of its SHA-256, grouped."""
        digest = hashlib.sha256(self.raw).hexdigest()[:16]
        return " ".join(digest[i : i + 4] for i in range(0, 16, 4))

    def seal(self, fields: dict[str, str | None], *, signature_id: str, petition: str) -> bytes:
        """Encrypt a signer's fields into one sealed box that only the private key opens."""
        unknown = set(fields) - set(SEALED_FIELDS)
        if unknown:
            raise SealingError(f"not a sealed field: {', '.join(sorted(unknown))}")
        document = {"v": ROW_FORMAT, "id": signature_id, "petition": petition, **fields}
        plain = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return SealedBox(PublicKey(self.raw)).encrypt(plain)


@dataclass(frozen=True)
class OpenedRow:
    """What a sealed row held."""

    signature_id: str
    petition: str
    name: str | None
    email: str | None
    city: str | None
    comment: str | None


class SealingIdentity:
    """The organiser's private key, on their own machine: opens what the server sealed."""

    def __init__(self, secret: bytes) -> None:
        self._key = PrivateKey(secret)
        self._box = SealedBox(self._key)

    @classmethod
    def generate(cls) -> SealingIdentity:
        return cls(bytes(PrivateKey.generate()))

    @property
    def public_key(self) -> SealingPublicKey:
        return SealingPublicKey(bytes(self._key.public_key))

    def open(self, sealed: bytes, *, signature_id: str, petition: str) -> OpenedRow:
        """Decrypt a sealed row and check it belongs where it was found; raise SealingError."""
        try:
            plain = self._box.decrypt(bytes(sealed))
        except nacl.exceptions.CryptoError as error:
            raise SealingError(
                f"signature {signature_id}: this key does not open it, or it was altered"
            ) from error
        try:
            document = json.loads(plain.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SealingError(f"signature {signature_id}: the sealed row is not JSON") from error
        if not isinstance(document, dict) or document.get("v") != ROW_FORMAT:
            raise SealingError(f"signature {signature_id}: unknown sealed row format")
        if document.get("id") != signature_id or document.get("petition") != petition:
            raise SealingError(
                f"signature {signature_id}: the sealed row belongs to another signature"
            )
        values = {name: document.get(name) for name in SEALED_FIELDS}
        for name, value in values.items():
            if value is not None and not isinstance(value, str):
                raise SealingError(f"signature {signature_id}: {name} is not text")
        return OpenedRow(signature_id, petition, **values)

    def to_key_file(
        self, passphrase: str, *, opslimit: int = KDF_OPSLIMIT, memlimit: int = KDF_MEMLIMIT
    ) -> str:
        """Return the text of a key file: the secret key boxed under the passphrase."""
        if len(passphrase) < MIN_PASSPHRASE_LENGTH:
            raise SealingError(
                f"the passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters long"
            )
        salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
        key = _derive(passphrase, salt, opslimit, memlimit)
        boxed = nacl.secret.SecretBox(key).encrypt(bytes(self._key))
        document = {
            "format": KEY_FILE_FORMAT,
            "public_key": self.public_key.line,
            "kdf": {
                "name": "argon2id13",
                "opslimit": opslimit,
                "memlimit": memlimit,
                "salt": _b64(salt),
            },
            "secretbox": _b64(bytes(boxed)),
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_key_file(cls, text: str, passphrase: str) -> SealingIdentity:
        """Open a key file with its passphrase; raise SealingError with one clear reason."""
        try:
            document = json.loads(text)
            if document["format"] != KEY_FILE_FORMAT:
                raise SealingError(f"not a sealing key file ({document['format']!r})")
            kdf = document["kdf"]
            if kdf["name"] != "argon2id13":
                raise SealingError(f"unknown passphrase function {kdf['name']!r}")
            salt = _unb64(kdf["salt"], "the salt")
            boxed = _unb64(document["secretbox"], "the boxed key")
            opslimit, memlimit = int(kdf["opslimit"]), int(kdf["memlimit"])
            expected = SealingPublicKey.parse(document["public_key"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise SealingError(
                "not a sealing key file (it is damaged or something else)"
            ) from error
        key = _derive(passphrase, salt, opslimit, memlimit)
        try:
            secret = nacl.secret.SecretBox(key).decrypt(boxed)
        except nacl.exceptions.CryptoError as error:
            raise SealingError(
                "wrong passphrase for this key file (or the file was altered)"
            ) from error
        identity = cls(secret)
        if identity.public_key != expected:
            raise SealingError("the key file's public key does not match its private key")
        return identity


def _derive(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    if len(salt) != nacl.pwhash.argon2id.SALTBYTES:
        raise SealingError("the key file's salt has the wrong length")
    try:
        return nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE,
            passphrase.encode("utf-8"),
            salt,
            opslimit=opslimit,
            memlimit=memlimit,
        )
    except (nacl.exceptions.CryptoError, ValueError) as error:
        raise SealingError("the key file's passphrase limits are out of range") from error


def write_key_pair(directory: Path, passphrase: str, **limits: int) -> SealingPublicKey:
    """Make a key pair into `directory`: sealing.pub (the line) and sealing.key (0600).

    Refuses to replace either file: a lost private key loses every signature sealed to it.
    """
    public_path, key_path = directory / "sealing.pub", directory / "sealing.key"
    for path in (public_path, key_path):
        if path.exists():
            raise SealingError(f"{path} exists already; move it away first")
    identity = SealingIdentity.generate()
    text = identity.to_key_file(passphrase, **limits)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    public_path.write_text(identity.public_key.line + "\n", encoding="utf-8")
    return identity.public_key
