"""Canonical emails, keyed hashes and encryption at rest."""

import pytest

from petitions.crypto import DecryptionError, Keyring
from petitions.services.privacy import canonical_email

KEYRING = Keyring(b"h" * 32, (b"d" * 32,))


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("  Aliya@Example.ORG ", "aliya@example.org"),
        ("aliya+petitions@example.org", "aliya@example.org"),
        ("a.liya.k@gmail.com", "aliyak@gmail.com"),
        ("A.Liya+x@GoogleMail.com", "aliya@gmail.com"),
        ("a.liya@example.org", "a.liya@example.org"),
        ("Ә\u0301лия@mail.kz", "ә\u0301лия@mail.kz"),
        ("e\u0301@example.org", "\u00e9@example.org"),
    ],
)
def test_canonical_email(given, canonical):
    assert canonical_email(given) == canonical


@pytest.mark.parametrize("given", ["", "no-at-sign", "@example.org", "user@"])
def test_canonical_email_refuses_non_addresses(given):
    with pytest.raises(ValueError, match="not an email address"):
        canonical_email(given)


def test_keyed_hash_depends_on_key_and_purpose():
    other = Keyring(b"x" * 32, (b"d" * 32,))
    value = "aliya@example.org"
    assert KEYRING.keyed_hash("email", value) == KEYRING.keyed_hash("email", value)
    assert KEYRING.keyed_hash("email", value) != KEYRING.keyed_hash("ip", value)
    assert KEYRING.keyed_hash("email", value) != other.keyed_hash("email", value)
    assert len(KEYRING.keyed_hash("email", value)) == 32


def test_encryption_round_trips_and_hides_the_text():
    token = KEYRING.encrypt("signature.name", "Әлия Қасымқызы Үмбетова")
    assert "Әлия".encode() not in token
    assert KEYRING.decrypt("signature.name", token) == "Әлия Қасымқызы Үмбетова"
    assert KEYRING.encrypt("signature.name", "x") != KEYRING.encrypt("signature.name", "x")


def test_a_value_cannot_be_moved_to_another_column():
    token = KEYRING.encrypt("signature.name", "Aliya")
    with pytest.raises(DecryptionError):
        KEYRING.decrypt("signature.email", token)


def test_altered_ciphertext_is_refused():
    token = bytearray(KEYRING.encrypt("signature.name", "Aliya"))
    token[-1] ^= 1
    with pytest.raises(DecryptionError):
        KEYRING.decrypt("signature.name", bytes(token))


def test_rotation_old_keys_still_decrypt_and_new_key_encrypts():
    old = Keyring(b"h" * 32, (b"o" * 32,))
    rotated = Keyring(b"h" * 32, (b"n" * 32, b"o" * 32))
    token = old.encrypt("signature.email", "aliya@example.org")
    assert rotated.decrypt("signature.email", token) == "aliya@example.org"
    assert rotated.needs_rotation(token)
    assert not rotated.needs_rotation(rotated.encrypt("signature.email", "a@b.c"))
    with pytest.raises(DecryptionError, match="DATA_KEYS"):
        Keyring(b"h" * 32, (b"n" * 32,)).decrypt("signature.email", token)


@pytest.mark.parametrize(
    "line",
    [
        '127.0.0.1 - - [22/Nov/2026 06:48:44] "GET / HTTP/1.1" 200 -',
        '2001:db8::1 - - [22/Nov/2026 06:48:44] "GET / HTTP/1.1" 200 -',
    ],
)
def test_request_log_lines_lose_the_client_address(line):
    import logging

    from petitions.security import RedactClientAddress

    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, line, None, None)
    RedactClientAddress().filter(record)
    assert record.getMessage() == '- - - [22/Nov/2026 06:48:44] "GET / HTTP/1.1" 200 -'


def test_masked_email_keeps_only_the_first_letter_and_domain():
    from petitions.services.privacy import mask_email

    assert mask_email("aliya@example.org") == "a***@example.org"
    assert mask_email("nonsense") == "***"
