"""Receipt codes and leaves, and the offline check of a receipt, as docs/verifying-a-receipt.md
gives them for other tools."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from petitions.crypto import Keyring
from petitions.merkle import Tree, leaf_hash
from petitions.receipts import (
    ReceiptError,
    check_receipt,
    is_receipt_code,
    load_receipt,
    receipt_code,
    receipt_leaf,
)

KEYRING = Keyring(hash_key=b"h" * 32, data_keys=(b"d" * 32,))
PETITION = "Qm9vLWJhci1iYXotcXV4eA"


def test_a_code_is_24_base32_characters_fixed_by_the_key_and_the_signature():
    code = receipt_code(KEYRING, "sig-public-id")
    assert is_receipt_code(code) and len(code) == 24
    assert receipt_code(KEYRING, "sig-public-id") == code
    assert receipt_code(KEYRING, "other-id") != code
    assert (
        receipt_code(Keyring(hash_key=b"k" * 32, data_keys=(b"d" * 32,)), "sig-public-id") != code
    )
    for text in ("", code.upper(), code[:-1], code + "a", code[:-1] + "1", code[:-1] + "-"):
        assert not is_receipt_code(text)


def test_the_leaf_is_the_documented_hash_and_openssl_computes_it_too():
    code = "abcdefghijklmnopqrstuvwx"
    expected = hashlib.sha256(f"\x00petitions-receipt-v1:{PETITION}:{code}".encode()).digest()
    assert receipt_leaf(PETITION, code) == expected
    assert receipt_leaf(PETITION, code) == leaf_hash(
        f"petitions-receipt-v1:{PETITION}:{code}".encode()
    )
    # The command docs/verifying-a-receipt.md gives.
    command = (
        f"printf '\\000petitions-receipt-v1:%s:%s' {PETITION} {code} | openssl dgst -sha256 -r"
    )
    shown = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown.split()[0] == expected.hex()


def receipt(code: str, leaves: list[bytes], index: int | None) -> dict:
    tree = Tree(leaves)
    export = {
        "exported_at": "2026-12-03T10:00:00+00:00",
        "kind": "final",
        "tree_size": tree.size,
        "root": tree.root.hex(),
        "leaf_index": index,
        "audit_path": None if index is None else [node.hex() for node in tree.audit_path(index)],
    }
    return {
        "petition_id": PETITION,
        "code": code,
        "status": "confirmed",
        "leaf": receipt_leaf(PETITION, code).hex(),
        "exports": [export],
    }


@pytest.fixture
def signed():
    codes = [receipt_code(KEYRING, f"signature-{number}") for number in range(37)]
    return codes, [receipt_leaf(PETITION, code) for code in codes]


def test_a_true_receipt_checks_and_every_forgery_fails(signed):
    codes, leaves = signed
    document = receipt(codes[20], leaves, 20)
    check = check_receipt(document)
    assert check.ok and check.leaf_matches
    assert [(e.included, e.proof_holds, e.tree_size) for e in check.exports] == [(True, True, 37)]
    assert load_receipt(json.dumps(document)).ok
    # Another signer's code, a moved index, a changed root or path node: not a proof.
    for change in (
        {"code": codes[21]},
        {"exports": [{**document["exports"][0], "leaf_index": 21}]},
        {"exports": [{**document["exports"][0], "root": "00" * 32}]},
        {
            "exports": [
                {
                    **document["exports"][0],
                    "audit_path": ["ff" * 32, *document["exports"][0]["audit_path"][1:]],
                }
            ]
        },
    ):
        assert not check_receipt({**document, **change}).ok
    # A signature left out of an export says so, and that is no failure of the proof.
    left_out = check_receipt(receipt(codes[3], leaves[:3], None))
    assert left_out.ok and left_out.exports[0].included is False
    assert left_out.exports[0].proof_holds is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not JSON: save the receipt's .json address as it is"),
        ("[]", "a receipt is a JSON object"),
        ('{"code": "x"}', "code is not a receipt code (24 characters, a-z and 2-7)"),
        (
            '{"code": "abcdefghijklmnopqrstuvwx", "petition_id": "../x"}',
            "petition_id is not a petition's public id",
        ),
        (
            '{"code": "abcdefghijklmnopqrstuvwx", "petition_id": "p", "exports": [{"root": "zz"}]}',
            "an export's root is not a SHA-256 in hex",
        ),
        (
            '{"code": "abcdefghijklmnopqrstuvwx", "petition_id": "p", "exports": [{"root": "'
            + "00" * 32
            + '", "leaf_index": 0, "tree_size": "1", "audit_path": []}]}',
            "leaf_index and tree_size are whole numbers",
        ),
    ],
)
def test_what_is_not_a_receipt_is_refused_in_one_line(text, message):
    with pytest.raises(ReceiptError) as refused:
        load_receipt(text)
    assert str(refused.value) == message
