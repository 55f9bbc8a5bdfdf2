"""Short-lived keys for what a sealed petition's outbox must hold until the email has gone.

Flask-free, below the models. The server has to send a sealed petition's confirmation email, so
for a while it holds the signer's address. It holds it encrypted (AES-256-GCM, `crypto.Keyring`)
under a key of the current period (an hour by default), kept outside the database; each key is
destroyed once its period and the next are over. A row the database has deleted may live on in
SQLite's free pages, PostgreSQL's dead tuples, the WAL or a backup; once its key is destroyed it no
longer decrypts with anything the server holds.

Keys live in a store shared by every process that writes or sends mail: files under `instance/`
on one machine (each overwritten and removed when destroyed), or Redis for several app hosts (each
set with an expiry, and Redis must keep nothing on disk; docs/deployment.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from petitions.crypto import DecryptionError, Keyring

_FORMAT = b"\x02"
_KEY_BYTES = 32
_PERIOD_BYTES = 8


class KeyStore(Protocol):
    def get(self, period: int) -> bytes | None: ...

    def create(self, period: int, key: bytes, lifetime_seconds: float) -> bytes:
        """Keep `key` for `period` unless one is kept already; return the one kept."""

    def destroy(self, period: int) -> None: ...

    def periods(self) -> list[int]: ...


class FileKeyStore:
    """One file per period in a directory only its owner may read."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, period: int) -> Path:
        return self.directory / f"{period}.key"

    def get(self, period: int) -> bytes | None:
        try:
            key = self._path(period).read_bytes()
        except FileNotFoundError:
            return None
        return key if len(key) == _KEY_BYTES else None

    def create(self, period: int, key: bytes, lifetime_seconds: float) -> bytes:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        partial = self.directory / f".{period}.{os.getpid()}.{os.urandom(4).hex()}"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, key)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            # link() never replaces: of two processes making this period's key, one wins and
            # the other reads the winner's, complete because it was written before linking.
            os.link(partial, self._path(period))
        except FileExistsError:
            pass
        finally:
            partial.unlink()
        return self.get(period) or key

    def destroy(self, period: int) -> None:
        path = self._path(period)
        try:
            descriptor = os.open(path, os.O_WRONLY)
        except FileNotFoundError:
            return
        try:
            os.write(descriptor, bytes(_KEY_BYTES))  # overwrite in place before unlinking
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        path.unlink(missing_ok=True)

    def periods(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        return sorted(
            int(path.stem) for path in self.directory.glob("*.key") if path.stem.isdigit()
        )


class RedisKeyStore:
    """Keys in Redis, each with an expiry: every app host and worker sees the same ones."""

    def __init__(self, client, prefix: str = "petitions:outbox-key:") -> None:
        self.client = client
        self.prefix = prefix

    def get(self, period: int) -> bytes | None:
        key = self.client.get(f"{self.prefix}{period}")
        return key if key is not None and len(key) == _KEY_BYTES else None

    def create(self, period: int, key: bytes, lifetime_seconds: float) -> bytes:
        milliseconds = max(int(lifetime_seconds * 1000), 1)
        self.client.set(f"{self.prefix}{period}", key, nx=True, px=milliseconds)
        return self.get(period) or key

    def destroy(self, period: int) -> None:
        self.client.delete(f"{self.prefix}{period}")

    def periods(self) -> list[int]:
        names = self.client.scan_iter(match=f"{self.prefix}*", count=100)
        found = (name.decode() if isinstance(name, bytes) else name for name in names)
        return sorted(int(n[len(self.prefix) :]) for n in found if n[len(self.prefix) :].isdigit())


class OutboxKeys:
    """Encrypt with the current period's key; decrypt while that key lives; destroy old ones.

    A period's key lives through its own period and the next, so a message written at the end of
    one period can still be sent in the next; after that it cannot be read by anyone.
    """

    def __init__(
        self,
        store: KeyStore,
        period_seconds: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.period_seconds = period_seconds
        self.clock = clock

    def _period(self) -> int:
        return int(self.clock() // self.period_seconds)

    def _alive(self, period: int) -> bool:
        return self._period() - 1 <= period <= self._period()

    def encrypt(self, purpose: str, plaintext: str) -> bytes:
        period = self._period()
        key = self.store.get(period)
        if key is None:
            ends = (period + 2) * self.period_seconds
            key = self.store.create(period, os.urandom(_KEY_BYTES), ends - self.clock())
        token = Keyring(hash_key=b"", data_keys=(key,)).encrypt(purpose, plaintext)
        return _FORMAT + period.to_bytes(_PERIOD_BYTES, "big") + token

    def decrypt(self, purpose: str, token: bytes) -> str | None:
        """Return the plaintext, or None once the key that made it has been destroyed."""
        token = bytes(token)
        if token[:1] != _FORMAT:
            raise DecryptionError("not made with an outbox key")
        period = int.from_bytes(token[1 : 1 + _PERIOD_BYTES], "big")
        key = self.store.get(period) if self._alive(period) else None
        if key is None:
            return None
        return Keyring(hash_key=b"", data_keys=(key,)).decrypt(purpose, token[1 + _PERIOD_BYTES :])

    def destroy_expired(self) -> list[int]:
        """Destroy every key whose life is over; return their periods."""
        expired = [period for period in self.store.periods() if not self._alive(period)]
        for period in expired:
            self.store.destroy(period)
        return expired
