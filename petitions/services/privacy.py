"""Privacy primitives: canonical emails, keyed hashes and encryption of personal data at rest.

Raw emails and client addresses are never compared or stored in clear: a keyed hash (HMAC-SHA256
with HASH_KEY) stands in for them, so a leaked database cannot be matched against a list of known
addresses without the key. Names, emails, cities and comments are encrypted with AES-256-GCM under
DATA_KEYS; the first key encrypts, every key decrypts, which is how keys are rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

#: Providers whose mailboxes ignore dots in the local part.
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
_FORMAT_VERSION = b"\x01"
_NONCE_BYTES = 12


class DecryptionError(Exception):
    """Stored data could not be decrypted with any configured key."""


def canonical_email(address: str) -> str:
    """Return the form of an address that decides whether two signatures are the same person."""
    address = unicodedata.normalize("NFC", address.strip()).lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("not an email address")
    local = local.split("+", 1)[0]
    domain = domain.rstrip(".")
    if domain in DOTLESS_DOMAINS:
        domain = DOTLESS_DOMAINS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"petitions-key-id" + key).digest()[:4]


@dataclass(frozen=True)
class Keyring:
    """The keys of one application: one for hashing, one or more for encryption."""

    hash_key: bytes
    data_keys: tuple[bytes, ...]

    def keyed_hash(self, purpose: str, value: str) -> bytes:
        """Hash a value for one purpose; the same value hashes differently per purpose."""
        message = purpose.encode("utf-8") + b"\0" + value.encode("utf-8")
        return hmac.new(self.hash_key, message, hashlib.sha256).digest()

    def encrypt(self, purpose: str, plaintext: str) -> bytes:
        """Encrypt with the current key; the purpose is bound in, so values cannot be swapped."""
        key = self.data_keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), purpose.encode("utf-8"))
        return _FORMAT_VERSION + _key_id(key) + nonce + sealed

    def decrypt(self, purpose: str, token: bytes) -> str:
        """Decrypt with whichever configured key made the token."""
        token = bytes(token)
        if token[:1] != _FORMAT_VERSION:
            raise DecryptionError("unknown format")
        key_id, nonce, sealed = token[1:5], token[5 : 5 + _NONCE_BYTES], token[5 + _NONCE_BYTES :]
        for key in self.data_keys:
            if _key_id(key) == key_id:
                try:
                    plain = AESGCM(key).decrypt(nonce, sealed, purpose.encode("utf-8"))
                except InvalidTag as error:
                    raise DecryptionError("data was altered or the key is wrong") from error
                return plain.decode("utf-8")
        raise DecryptionError("no configured key made this data; is DATA_KEYS complete?")

    def needs_rotation(self, token: bytes) -> bool:
        """Tell whether a token was made by an older key than the current one."""
        return bytes(token)[1:5] != _key_id(self.data_keys[0])


def keyring() -> Keyring:
    """Return the keyring of the current application."""
    return current_app.extensions["petitions.keyring"]


@dataclass(frozen=True)
class EmailHashes:
    """What a signature stores in place of its address: the keyed hashes of its canonical form
    (which finds the same person again) and of its domain (which moderators search by)."""

    email: bytes
    domain: bytes


def email_hashes(address: str, ring: Keyring | None = None) -> EmailHashes:
    """Hash an address as every signature stores it; raise ValueError if it is no address."""
    canonical = canonical_email(address)
    ring = ring or keyring()
    return EmailHashes(
        email=ring.keyed_hash("email", canonical),
        domain=ring.keyed_hash("email-domain", canonical.rpartition("@")[2]),
    )


def mask_email(address: str) -> str:
    """Show enough of an address to recognise it in a log, not enough to learn it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
