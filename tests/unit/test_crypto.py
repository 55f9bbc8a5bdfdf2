"""Encrypted columns find the keyring of the application at work, without Flask below them."""

import subprocess
import sys
from pathlib import Path

import pytest

from petitions import crypto
from petitions.crypto import EncryptedText, Keyring

FIRST = Keyring(b"h" * 32, (b"1" * 32,))
SECOND = Keyring(b"h" * 32, (b"2" * 32,))
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lookup():
    """Let a test choose the keyring in use, and put back the application's afterwards."""
    chosen = {"ring": FIRST}
    previous = crypto._keyring_lookup
    crypto.use_keyring(lambda: chosen["ring"])
    yield chosen
    crypto.use_keyring(previous)


def test_an_encrypted_column_round_trips_under_the_keyring_in_use(lookup):
    column = EncryptedText("signature.city")
    stored = column.process_bind_param("Алматы", dialect=None)
    assert "Алматы".encode() not in stored
    assert FIRST.decrypt("signature.city", stored) == "Алматы"
    assert column.process_result_value(stored, dialect=None) == "Алматы"
    assert column.process_bind_param(None, dialect=None) is None
    assert column.process_result_value(None, dialect=None) is None


def test_each_application_reads_with_its_own_keys(lookup):
    column = EncryptedText("signature.name")
    stored = column.process_bind_param("Aliya", dialect=None)
    lookup["ring"] = SECOND
    with pytest.raises(crypto.DecryptionError, match="DATA_KEYS"):
        column.process_result_value(stored, dialect=None)
    assert column.process_bind_param("Aliya", dialect=None)[1:5] != stored[1:5]


def test_without_an_application_the_column_says_so():
    previous = crypto._keyring_lookup
    crypto.use_keyring(crypto._no_keyring)
    try:
        with pytest.raises(RuntimeError, match="build the application first"):
            EncryptedText("signature.name").process_bind_param("Aliya", dialect=None)
    finally:
        crypto.use_keyring(previous)


def test_the_crypto_module_and_the_bundle_load_without_flask():
    code = (
        "import sys, petitions.crypto, petitions.delivery.bundle, petitions.cache; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'flask', 'werkzeug'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "[]"
