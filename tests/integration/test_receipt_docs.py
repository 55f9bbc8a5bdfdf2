"""docs/verifying-a-receipt.md cannot drift: its commands and scripts are run as they are printed.

The scripts are taken from the Markdown and run with a plain Python (no package of ours on its
path) against a tree stored as an export stores it, and against forgeries of its receipt.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from petitions.merkle import Tree
from petitions.models import DeliveryKind, utcnow
from petitions.receipts import receipt_leaf
from tests.receipt_fixtures import finished_export, give_leaves, receipt_document

DOC = Path(__file__).resolve().parents[2] / "docs" / "verifying-a-receipt.md"
#: A fenced block, indented as a whole when it sits in a list item.
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def _blocks(language: str) -> list[str]:
    """The bodies of the document's blocks in this language, as a reader would copy them."""
    text = DOC.read_text(encoding="utf-8")
    return [
        textwrap.dedent(body) for _indent, lang, body in FENCE.findall(text) if lang == language
    ]


def _script(name: str) -> str:
    [found] = [body for body in _blocks("python") if body.startswith(f"# {name}:")]
    return found


def _run(tmp_path: Path, name: str, *arguments: str) -> subprocess.CompletedProcess:
    script = tmp_path / name
    script.write_text(_script(name), encoding="utf-8")
    # -I: isolated, so that only the standard library can be imported, as on a reader's machine.
    return subprocess.run(
        [sys.executable, "-I", str(script), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def exported(db, make_petition, make_signature):
    """Seven signatures in an interim export of the first four and a final one of all seven."""
    petition = make_petition()
    start = utcnow() - timedelta(days=1)
    signatures = [make_signature(petition, created_at=start + timedelta(hours=n)) for n in range(7)]
    give_leaves(db, petition, signatures)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    interim = finished_export(db, petition, DeliveryKind.INTERIM, at, signatures[:4], "1" * 64)
    final = finished_export(db, petition, DeliveryKind.FINAL, at, signatures, "2" * 64)
    return petition, signatures, (interim, final)


def test_the_leaf_command_gives_the_leaf_of_the_example(tmp_path):
    [command] = [body for body in _blocks("sh") if "printf" in body]
    [(petition_id, code)] = re.findall(r"%s' (\S+) (\S+)", command)
    shown = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert shown.split()[0] == receipt_leaf(petition_id, code).hex()


def test_the_example_receipt_has_the_keys_a_receipt_has():
    [example] = _blocks("json")
    keys = re.findall(r'^\s*"(\w+)":', example, flags=re.MULTILINE)
    assert keys == [
        "petition",
        "petition_id",
        "code",
        "status",
        "leaf",
        "exports",
        "exported_at",
        "kind",
        "bundle_sha256",
        "tree_size",
        "root",
        "leaf_index",
        "audit_path",
    ]


@pytest.mark.parametrize("number", range(7))
def test_the_documented_script_proves_every_signature_of_a_stored_tree(tmp_path, exported, number):
    petition, signatures, (interim, final) = exported
    saved = tmp_path / "receipt.json"
    saved.write_text(json.dumps(receipt_document(petition, signatures[number], (interim, final))))
    checked = _run(tmp_path, "check-receipt.py", str(saved), final.tree_root, "7")
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stderr
    assert checked.stdout == f"included at index {number} of 7, root {final.tree_root}\n"
    in_interim = _run(tmp_path, "check-receipt.py", str(saved), interim.tree_root, "4")
    if number < 4:
        assert in_interim.returncode == 0, in_interim.stderr
    else:
        assert in_interim.returncode == 1
        assert in_interim.stderr == "this export does not include the signature\n"


def _flip(hex_text: str) -> str:
    return ("0" if hex_text[0] != "0" else "1") + hex_text[1:]


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (
            lambda receipt: receipt.update(code="a" * 24),
            "the receipt's leaf is not the leaf of its code: the file was changed",
        ),
        (
            lambda receipt: receipt["exports"][1]["audit_path"].__setitem__(
                0, _flip(receipt["exports"][1]["audit_path"][0])
            ),
            "PROOF FAILS: the audit path does not lead to the published root",
        ),
        (
            lambda receipt: receipt["exports"][1].update(leaf_index=3),
            "PROOF FAILS: the audit path does not lead to the published root",
        ),
        (
            lambda receipt: receipt["exports"][1].update(root=_flip(receipt["exports"][1]["root"])),
            "the receipt has no export with that root and size",
        ),
    ],
)
def test_the_documented_script_refuses_a_forged_receipt(tmp_path, exported, forge, reason):
    petition, signatures, (interim, final) = exported
    receipt = receipt_document(petition, signatures[2], (interim, final))
    forge(receipt)
    saved = tmp_path / "receipt.json"
    saved.write_text(json.dumps(receipt))
    checked = _run(tmp_path, "check-receipt.py", str(saved), final.tree_root, "7")
    assert (checked.returncode, checked.stdout, checked.stderr) == (1, "", reason + "\n")


def test_the_documented_script_refuses_a_root_that_was_not_published(tmp_path, exported):
    petition, signatures, deliveries = exported
    saved = tmp_path / "receipt.json"
    saved.write_text(json.dumps(receipt_document(petition, signatures[2], deliveries)))
    other = _flip(deliveries[1].tree_root)
    checked = _run(tmp_path, "check-receipt.py", str(saved), other, "7")
    assert checked.returncode == 1
    assert checked.stderr == "the receipt has no export with that root and size\n"


def _write_csv(path: Path, leaves: list[bytes]) -> None:
    """A signatures.csv with its columns, leaf among them, as the bundle writes it."""
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["number", "name", "city", "country", "signed_at", "leaf", "source"])
        for number, leaf in enumerate(leaves, start=1):
            writer.writerow([number, f"Signer {number}", "Алматы", "KZ", "", leaf.hex(), "online"])


def test_the_documented_csv_script_gives_the_stored_trees_root(tmp_path, exported):
    _petition, signatures, (interim, final) = exported
    for delivery, rows in ((interim, signatures[:4]), (final, signatures)):
        path = tmp_path / f"{delivery.kind}.csv"
        _write_csv(path, [signature.receipt_leaf for signature in rows])
        computed = _run(tmp_path, "csv-root.py", str(path))
        assert computed.stdout == f"{delivery.tree_size} {delivery.tree_root}\n", computed.stderr


@pytest.mark.parametrize("size", [0, 1, 2, 3, 5, 8, 13, 100])
def test_the_documented_csv_script_agrees_with_the_tree_of_any_size(tmp_path, size):
    leaves = [bytes([number % 256]) * 32 for number in range(size)]
    path = tmp_path / "signatures.csv"
    _write_csv(path, leaves)
    computed = _run(tmp_path, "csv-root.py", str(path))
    assert computed.stdout == f"{size} {Tree(leaves).root.hex()}\n", computed.stderr
