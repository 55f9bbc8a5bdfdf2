"""The sealing formats: public key line, passphrase-protected key file, sealed rows."""

from __future__ import annotations

import base64
import json
import stat

import nacl.public
import pytest

from petitions.sealing import (
    PUBLIC_KEY_PREFIX,
    SealingError,
    SealingIdentity,
    SealingPublicKey,
    write_key_pair,
)

# The cheapest Argon2id limits libsodium allows: the format is the same, the tests stay fast.
FAST = {"opslimit": 1, "memlimit": 8192}
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def identity() -> SealingIdentity:
    return SealingIdentity.generate()


def test_public_key_line_round_trips(identity):
    line = identity.public_key.line
    assert line.startswith(PUBLIC_KEY_PREFIX)
    assert len(line) == len(PUBLIC_KEY_PREFIX) + 44
    assert SealingPublicKey.parse(f"  {line}\n") == identity.public_key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "one line starting with 'seal-x25519:'"),
        ("age1qqqq", "one line starting with 'seal-x25519:'"),
        ("seal-x25519:not base64!", "the public key is not base64"),
        ("seal-x25519:" + base64.b64encode(b"x" * 31).decode(), "must be 32 bytes, not 31"),
        ("seal-x25519:AAAA\nseal-x25519:AAAA", "one line starting with"),
        ("seal-x25519:ΑΑΑΑ", "the public key is not base64"),
    ],
)
def test_bad_public_keys_are_refused_with_a_reason(text, message):
    with pytest.raises(SealingError, match=message.replace("(", r"\(")):
        SealingPublicKey.parse(text)


def test_fingerprint_is_four_groups_of_the_sha256():
    key = SealingPublicKey(bytes(32))
    # SHA-256 of 32 zero bytes begins 66687aadf862bd77.
    assert key.fingerprint == "6668 7aad f862 bd77"


def test_a_sealed_row_opens_with_the_private_key_only(identity):
    fields = {
        "name": "Айгерім Сәрсенбаева",
        "email": "a@example.kz",
        "city": "Алматы",
        "comment": None,
    }
    sealed = identity.public_key.seal(fields, signature_id="sig-1", petition="free-aron")
    assert "Айгерім".encode() not in sealed
    opened = identity.open(sealed, signature_id="sig-1", petition="free-aron")
    assert (opened.name, opened.email, opened.city, opened.comment) == (
        "Айгерім Сәрсенбаева",
        "a@example.kz",
        "Алматы",
        None,
    )
    with pytest.raises(SealingError, match="this key does not open it"):
        SealingIdentity.generate().open(sealed, signature_id="sig-1", petition="free-aron")


def test_a_sealed_row_is_a_standard_libsodium_sealed_box(identity):
    sealed = identity.public_key.seal({"name": "N"}, signature_id="s", petition="p")
    secret = nacl.public.PrivateKey(identity._key.encode())
    document = json.loads(nacl.public.SealedBox(secret).decrypt(sealed))
    assert document == {"v": 1, "id": "s", "petition": "p", "name": "N"}


def test_a_row_moved_to_another_signature_is_detected(identity):
    sealed = identity.public_key.seal({"name": "N"}, signature_id="s1", petition="p")
    with pytest.raises(SealingError, match="belongs to another signature"):
        identity.open(sealed, signature_id="s2", petition="p")
    with pytest.raises(SealingError, match="belongs to another signature"):
        identity.open(sealed, signature_id="s1", petition="q")


def test_an_altered_row_does_not_open(identity):
    sealed = bytearray(identity.public_key.seal({"name": "N"}, signature_id="s", petition="p"))
    sealed[-1] ^= 1
    with pytest.raises(SealingError, match="or it was altered"):
        identity.open(bytes(sealed), signature_id="s", petition="p")


def test_only_the_sealed_fields_are_sealed(identity):
    with pytest.raises(SealingError, match="not a sealed field: country"):
        identity.public_key.seal({"country": "KZ"}, signature_id="s", petition="p")


def test_key_file_opens_with_its_passphrase_only(identity):
    text = identity.to_key_file(PASSPHRASE, **FAST)
    assert identity.public_key.line in text
    assert SealingIdentity.from_key_file(text, PASSPHRASE).public_key == identity.public_key
    with pytest.raises(SealingError, match="wrong passphrase"):
        SealingIdentity.from_key_file(text, PASSPHRASE + "!")


def test_key_file_with_its_default_limits_is_argon2id_moderate(identity):
    document = json.loads(identity.to_key_file(PASSPHRASE))
    assert document["kdf"]["name"] == "argon2id13"
    assert (document["kdf"]["opslimit"], document["kdf"]["memlimit"]) == (3, 268435456)


def test_a_short_passphrase_is_refused(identity):
    with pytest.raises(SealingError, match="at least 12 characters"):
        identity.to_key_file("short", **FAST)


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[]", '{"format": "petitions-sealing-key/1"}', "seal-x25519:AAAA"],
)
def test_something_else_is_not_a_key_file(text):
    with pytest.raises(SealingError, match="not a sealing key file"):
        SealingIdentity.from_key_file(text, PASSPHRASE)


def test_a_key_file_with_a_swapped_public_key_is_refused(identity):
    document = json.loads(identity.to_key_file(PASSPHRASE, **FAST))
    document["public_key"] = SealingIdentity.generate().public_key.line
    with pytest.raises(SealingError, match="does not match its private key"):
        SealingIdentity.from_key_file(json.dumps(document), PASSPHRASE)


def test_write_key_pair_makes_both_files_and_replaces_neither(tmp_path):
    target = tmp_path / "keys"
    public = write_key_pair(target, PASSPHRASE, **FAST)
    assert (target / "sealing.pub").read_text() == public.line + "\n"
    assert stat.S_IMODE((target / "sealing.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    opened = SealingIdentity.from_key_file((target / "sealing.key").read_text(), PASSPHRASE)
    assert opened.public_key == public
    with pytest.raises(SealingError, match=r"sealing\.pub exists already"):
        write_key_pair(target, PASSPHRASE, **FAST)
