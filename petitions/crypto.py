"""Keyed hashes and encryption of personal data at rest, and the column type that applies it.

Flask-free, below the models: raw emails and client addresses are never compared or stored in
clear; a keyed hash (HMAC-SHA256 with HASH_KEY) stands in for them, so a leaked database cannot be
matched against a list of known addresses without the key. Names, emails, cities and comments are
encrypted with AES-256-GCM under DATA_KEYS; the first key encrypts, every key decrypts, which is
how keys are rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.types import TypeDecorator

_FORMAT_VERSION = b"\x01"
_NONCE_BYTES = 12


class DecryptionError(Exception):
    """Stored data could not be decrypted with any configured key."""


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


def _no_keyring() -> Keyring:
    raise RuntimeError("no keyring for encrypted columns: build the application first")


# A way to find the keyring rather than the keyring itself: one process may hold several
# applications with different keys (the tests do), and each must read with its own.
_keyring_lookup: Callable[[], Keyring] = _no_keyring


def use_keyring(lookup: Callable[[], Keyring]) -> None:
    """Tell encrypted columns how to find the keyring of the application at work."""
    global _keyring_lookup
    _keyring_lookup = lookup


def current_keyring() -> Keyring:
    """Return the keyring encrypted columns use now."""
    return _keyring_lookup()


class EncryptedText(TypeDecorator):
    """Text encrypted at rest with the application's data key, bound to its purpose."""

    impl = sa.LargeBinary()
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: Any) -> bytes | None:
        return None if value is None else current_keyring().encrypt(self.purpose, value)

    def process_result_value(self, value: bytes | None, dialect: Any) -> str | None:
        return None if value is None else current_keyring().decrypt(self.purpose, value)
