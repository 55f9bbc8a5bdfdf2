"""`flask receipts verify RECEIPT.json`: a signer's receipt checked offline, forgeries refused.

The receipts are made from exports whose trees are stored as an export stores them, and their
proofs read back from the stored chunks, as the receipt's .json address does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from petitions.merkle import Tree
from petitions.models import DeliveryKind, utcnow
from tests.receipt_fixtures import finished_export, give_leaves, receipt_document

INTERIM_AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
FINAL_AT = datetime(2026, 3, 20, 4, 5, tzinfo=UTC)


@pytest.fixture
def exported(db, make_petition, make_signature):
    """Five signatures; an interim export of the first three, a final one of all five."""
    petition = make_petition()
    start = utcnow() - timedelta(days=2)
    signatures = [make_signature(petition, created_at=start + timedelta(hours=n)) for n in range(5)]
    give_leaves(db, petition, signatures)
    interim = finished_export(
        db, petition, DeliveryKind.INTERIM, INTERIM_AT, signatures[:3], "1" * 64
    )
    final = finished_export(db, petition, DeliveryKind.FINAL, FINAL_AT, signatures, "2" * 64)
    leaves = [signature.receipt_leaf for signature in signatures]
    roots = (Tree(leaves[:3]).root.hex(), Tree(leaves).root.hex())
    return petition, signatures, (interim, final), roots


@pytest.fixture
def receipt(exported, tmp_path):
    """The receipt of the second signature, in both exports, saved as a signer saves it."""
    petition, signatures, deliveries, _roots = exported
    document = receipt_document(petition, signatures[1], deliveries)
    return document, tmp_path / "receipt.json"


def _verify(runner, path, document=None, *options):
    if document is not None:
        path.write_text(json.dumps(document), encoding="utf-8")
    return runner.invoke(args=["receipts", "verify", str(path), *options])


def _one_error(result) -> str:
    """The single line a refused receipt ends with, on stderr, and nothing like a traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: ")
    return result.stderr[len("Error: ") :].rstrip("\n")


def test_a_true_receipt_holds_in_every_export(runner, exported, receipt):
    _petition, _signatures, _deliveries, (interim_root, final_root) = exported
    document, path = receipt
    result = _verify(runner, path, document)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"interim export of 2026-03-01T09:30:00+00:00: included at index 1 of 3, "
        f"root {interim_root}: proof holds",
        f"final export of 2026-03-20T04:05:00+00:00: included at index 1 of 5, "
        f"root {final_root}: proof holds",
        "status: confirmed",
    ]
    assert result.stderr == ""


def test_a_signature_after_an_interim_export_is_not_in_it_and_the_receipt_still_holds(
    runner, exported, tmp_path
):
    petition, signatures, deliveries, (interim_root, final_root) = exported
    document = receipt_document(petition, signatures[4], deliveries)
    result = _verify(runner, tmp_path / "late.json", document)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"interim export of 2026-03-01T09:30:00+00:00: not included (tree of 3, "
        f"root {interim_root})",
        f"final export of 2026-03-20T04:05:00+00:00: included at index 4 of 5, "
        f"root {final_root}: proof holds",
        "status: confirmed",
    ]


def test_a_receipt_before_any_export_says_so(runner, exported, tmp_path):
    petition, signatures, _deliveries, _roots = exported
    document = receipt_document(petition, signatures[0], [])
    result = _verify(runner, tmp_path / "early.json", document)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "no export yet: the signature is in no bundle so far",
        "status: confirmed",
    ]


def test_the_root_insisted_on_is_found_with_its_size(runner, exported, receipt):
    _petition, _signatures, _deliveries, (_interim_root, final_root) = exported
    document, path = receipt
    result = _verify(runner, path, document, "--root", final_root.upper(), "--tree-size", "5")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        f"root {final_root}: an export with this root includes the signature"
    )


def _flip(hex_text: str) -> str:
    return ("0" if hex_text[0] != "0" else "1") + hex_text[1:]


def test_a_changed_code_does_not_match_its_leaf(runner, receipt):
    document, path = receipt
    document["code"] = ("a" if document["code"][0] != "a" else "b") + document["code"][1:]
    result = _verify(runner, path, document)
    assert result.stdout == ""
    assert _one_error(result) == (
        f"{path}: the receipt's leaf is not the leaf of its code and petition id: it was altered"
    )


def test_a_changed_code_with_its_own_leaf_has_no_proof(runner, receipt):
    from petitions.receipts import receipt_leaf

    document, path = receipt
    document["code"] = ("a" if document["code"][0] != "a" else "b") + document["code"][1:]
    document["leaf"] = receipt_leaf(document["petition_id"], document["code"]).hex()
    result = _verify(runner, path, document)
    assert [line.rsplit(": ", 1)[1] for line in result.stdout.splitlines()[:2]] == [
        "PROOF FAILS",
        "PROOF FAILS",
    ]
    assert _one_error(result) == (
        f"{path}: the proof does not hold for the interim export of 2026-03-01T09:30:00+00:00"
    )


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda export: export.update(root=_flip(export["root"])), id="root"),
        pytest.param(
            lambda export: export["audit_path"].__setitem__(1, _flip(export["audit_path"][1])),
            id="path node",
        ),
        pytest.param(lambda export: export.update(leaf_index=2), id="index"),
        pytest.param(lambda export: export.update(tree_size=4), id="size"),
        pytest.param(lambda export: export["audit_path"].pop(), id="shorter path"),
    ],
)
def test_a_forged_proof_fails(runner, receipt, forge):
    document, path = receipt
    forge(document["exports"][1])
    result = _verify(runner, path, document)
    lines = result.stdout.splitlines()
    assert lines[0].endswith(": proof holds") and lines[1].endswith(": PROOF FAILS")
    assert lines[2] == "status: confirmed"
    assert _one_error(result) == (
        f"{path}: the proof does not hold for the final export of 2026-03-20T04:05:00+00:00"
    )


def test_a_root_from_elsewhere_that_no_export_has_is_refused(runner, exported, receipt):
    _petition, _signatures, _deliveries, (_interim_root, final_root) = exported
    document, path = receipt
    other = _flip(final_root)
    result = _verify(runner, path, document, "--root", other)
    assert _one_error(result) == f"{path}: no export of this receipt has the root {other}"
    result = _verify(runner, path, document, "--root", final_root, "--tree-size", "4")
    assert _one_error(result) == (
        f"{path}: no export of this receipt has the root {final_root} and size 4"
    )


def test_a_root_whose_export_does_not_include_the_signature_is_refused(runner, exported, tmp_path):
    petition, signatures, deliveries, (interim_root, _final_root) = exported
    document = receipt_document(petition, signatures[4], deliveries)
    result = _verify(runner, tmp_path / "late.json", document, "--root", interim_root)
    assert _one_error(result) == (
        f"{tmp_path / 'late.json'}: the export with the root {interim_root} does not include "
        "this signature"
    )


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (["--root", "xyz"], "the root to insist on is not a SHA-256 in hex (64 digits)"),
        (["--tree-size", "5"], "a tree size is checked together with a root: give the root too"),
    ],
)
def test_a_bad_root_option_is_one_line(runner, receipt, options, reason):
    document, path = receipt
    assert _one_error(_verify(runner, path, document, *options)) == f"{path}: {reason}"


def test_a_file_that_is_not_json_is_one_line(runner, tmp_path):
    path = tmp_path / "receipt.html"
    path.write_text("<!doctype html><title>Your receipt</title>", encoding="utf-8")
    assert _one_error(_verify(runner, path)) == (
        f"{path}: not JSON: save the receipt's .json address as it is"
    )


def test_a_picture_is_one_line(runner, tmp_path):
    path = tmp_path / "receipt.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert _one_error(_verify(runner, path)) == (
        f"{path}: not a receipt: the file is not text (save the receipt's .json address, not its "
        "page or a picture of it)"
    )


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "a receipt is a JSON object"),
        ({"code": "short", "petition_id": "x"}, "code is not a receipt code"),
    ],
)
def test_json_that_is_not_a_receipt_is_one_line(runner, tmp_path, document, reason):
    path = tmp_path / "receipt.json"
    assert _one_error(_verify(runner, path, document)).startswith(f"{path}: {reason}")


def test_text_from_the_file_cannot_forge_a_line_or_move_the_cursor(runner, receipt):
    document, path = receipt
    document["status"] = "confirmed\nfinal export of 2027: proof holds\x1b[2J"
    result = _verify(runner, path, document)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "status: confirmed\\nfinal export of 2027: proof holds\\x1b[2J"
    )
