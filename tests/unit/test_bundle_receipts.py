"""The receipts in the bundle: every row's leaf in the CSV, the tree in the manifest and on the
cover letter, and the check that recomputes the tree from the CSV."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from petitions.delivery.bundle import BundleError, build_bundle, json_bytes
from petitions.delivery.document import root_text
from petitions.delivery.keys import SigningKey, ensure_development_key, load_signing_key
from petitions.delivery.model import LABELS
from petitions.delivery.signature import sign_detached
from petitions.delivery.verify import verify_bundle
from petitions.merkle import EMPTY_ROOT, Tree
from tests.delivery_fixtures import (
    KAZAKH_NAME,
    check_as_recipient,
    make_export,
    make_petition,
    make_rows,
    run,
    summary_of,
    unzip,
    with_leaves,
)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return load_signing_key(ensure_development_key(tmp_path_factory.getbasetemp() / "key"), None)


def export(directory: Path, key: SigningKey, rows: list, **options: Any):
    petition = make_petition(**options.pop("petition", {}))
    options = {"workers": 0, "receipts": True, **options}
    plain = [row[:5] for row in rows]
    summary = summary_of(plain, petition)
    return build_bundle(petition, make_export(), summary, iter(rows), key, directory, **options)


def members(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def table(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def first_page(bundle: Path, directory: Path, volume: str = "petition.pdf") -> str:
    files = unzip(bundle, directory)
    return run("pdftotext", "-f", "1", "-l", "1", files / volume, "-").stdout


@pytest.fixture(scope="module")
def rows() -> list:
    return with_leaves(make_rows(130, [KAZAKH_NAME]))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, key: SigningKey, rows: list) -> Path:
    return export(tmp_path_factory.mktemp("receipts"), key, rows).path


def test_csv_manifest_and_cover_letter_give_the_same_tree(bundle, rows, tmp_path):
    tree = Tree(row[5] for row in rows)
    files = members(bundle)
    header, *body = table(files["signatures.csv"])
    assert header[-2:] == ["leaf", "source"]
    assert [line[-2] for line in body] == [row[5].hex() for row in rows]
    assert {line[-1] for line in body} == {"online"}
    manifest = json.loads(files["manifest.json"])
    assert manifest["receipts"] == {
        "tree": "rfc6962-sha256",
        "tree_size": 130,
        "root": tree.root.hex(),
    }
    page = first_page(bundle, tmp_path / "files")
    assert root_text(tree.root.hex()) in page
    report = verify_bundle(bundle)
    assert report.valid, str(report)
    assert f"receipts: the CSV's 130 leaves make the manifest's root {tree.root.hex()}" in str(
        report
    )


def test_the_result_carries_the_tree(tmp_path, key, rows):
    result = export(tmp_path, key, rows[:7])
    tree = Tree(row[5] for row in rows[:7])
    assert (result.tree.size, result.tree.root) == (7, tree.root)


def test_recipient_tools_and_qpdf_accept_a_bundle_with_receipts(bundle, tmp_path):
    files = check_as_recipient(bundle, tmp_path / "files")
    assert run("qpdf", "--check", files / "petition.pdf").returncode == 0


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_the_cover_letter_labels_the_root_in_the_petitions_language(tmp_path, key, language):
    rows = with_leaves(make_rows(3))
    result = export(tmp_path, key, rows, petition={"language": language})
    page = " ".join(first_page(result.path, tmp_path / "files").split())
    label = " ".join(LABELS[language].receipts.format(count="3").split())
    assert label in page
    assert root_text(result.tree.root_hex) in page


@pytest.mark.parametrize("workers", [0, 2])
def test_volume_one_prints_the_root_of_the_whole_list(tmp_path, key, workers):
    rows = with_leaves(make_rows(230, [KAZAKH_NAME]))
    result = export(tmp_path, key, rows, rows_per_volume=100, workers=workers)
    root = Tree(row[5] for row in rows).root.hex()
    assert result.tree.root_hex == root
    files = unzip(result.path, tmp_path / "files")
    texts = {
        name: run("pdftotext", files / name, "-").stdout
        for name in ("petition-vol-01.pdf", "petition-vol-02.pdf", "petition-vol-03.pdf")
    }
    assert root_text(root) in texts["petition-vol-01.pdf"]
    assert root_text(root) not in texts["petition-vol-02.pdf"] + texts["petition-vol-03.pdf"]
    front = texts["petition-vol-01.pdf"].count("\f") - 2
    assert f"{front + 5} беттің {front + 3}-беті" in texts["petition-vol-02.pdf"]
    assert "\n101\n" in texts["petition-vol-02.pdf"] and KAZAKH_NAME in texts["petition-vol-01.pdf"]
    for name in texts:
        assert "Signature is Valid." in run("pdfsig", files / name).stdout
    assert verify_bundle(result.path).valid


def test_a_list_without_signatures_has_the_empty_tree(tmp_path, key):
    result = export(tmp_path, key, [])
    manifest = json.loads(members(result.path)["manifest.json"])
    assert manifest["receipts"]["tree_size"] == 0
    assert manifest["receipts"]["root"] == EMPTY_ROOT.hex() == hashlib.sha256(b"").hexdigest()
    assert table(members(result.path)["signatures.csv"])[0][-2:] == ["leaf", "source"]
    assert verify_bundle(result.path).valid


@pytest.mark.parametrize("leaf", [b"\x00" * 31, "ab" * 32, None], ids=["short", "text", "missing"])
def test_a_row_without_a_proper_leaf_fails_and_leaves_nothing(tmp_path, key, leaf):
    rows = with_leaves(make_rows(3))
    rows[1] = (*rows[1][:5], leaf) if leaf is not None else rows[1][:5]
    with pytest.raises(BundleError, match="row 2: its receipt leaf must be 32 bytes"):
        export(tmp_path, key, rows)
    assert list(tmp_path.iterdir()) == []


def test_a_bundle_built_without_receipts_is_as_before_and_verifies_with_a_note(tmp_path, key):
    result = export(tmp_path, key, make_rows(3), receipts=False)
    files = members(result.path)
    assert table(files["signatures.csv"])[0][-1] == "Қол қойылған уақыты"
    assert "receipts" not in json.loads(files["manifest.json"])
    assert result.tree is None
    report = verify_bundle(result.path)
    assert report.valid, str(report)
    assert "receipts: none (a bundle made before receipts)" in str(report)
    assert "Root:" not in first_page(result.path, tmp_path / "files")


# Forged bundles. A forger who changes the CSV must fix its hash in the manifest, and then sign
# the manifest again, which only the holder of the signing key can do: here the test holds it,
# as a faulty or dishonest exporter would. Every hash and signature then checks out, and the
# receipts' tree is the one check left to catch the change.


def forge(
    bundle: Path,
    target: Path,
    key: SigningKey,
    csv_change: Callable[[list[list[str]]], None] | None = None,
    manifest_change: Callable[[dict], None] | None = None,
) -> Path:
    """Copy a bundle with its CSV and manifest changed, the manifest's hashes and signature
    made to match."""
    files = members(bundle)
    manifest = json.loads(files["manifest.json"])
    if csv_change:
        lines = table(files["signatures.csv"])
        csv_change(lines)
        text = io.StringIO(newline="")
        csv.writer(text).writerows(lines)
        files["signatures.csv"] = text.getvalue().encode("utf-8-sig")
        manifest["files"]["signatures.csv"] = hashlib.sha256(files["signatures.csv"]).hexdigest()
    if manifest_change:
        manifest_change(manifest)
    files["manifest.json"] = json_bytes(manifest)
    files["manifest.json.p7s"] = sign_detached(files["manifest.json"], key)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return target


def problems(path: Path) -> list[str]:
    return [str(problem) for problem in verify_bundle(path).problems]


def test_a_forger_who_signs_again_is_still_caught_by_the_tree(bundle, tmp_path, key, rows):
    untouched = forge(bundle, tmp_path / "same.zip", key)
    assert problems(untouched) == []

    def change_leaf(lines: list[list[str]]) -> None:
        lines[57][-2] = hashlib.sha256(b"someone else").hexdigest()

    forged = forge(bundle, tmp_path / "leaf.zip", key, csv_change=change_leaf)
    root = Tree(row[5] for row in rows).root.hex()
    [problem] = problems(forged)
    assert problem.startswith("signatures.csv: its leaves make a tree with the root ")
    assert problem.endswith(f"not the manifest's {root}")


def test_a_changed_root_in_the_manifest_is_refused(bundle, tmp_path, key):
    def change_root(manifest: dict) -> None:
        manifest["receipts"]["root"] = "0" * 64

    [problem] = problems(forge(bundle, tmp_path / "root.zip", key, manifest_change=change_root))
    assert problem.startswith("signatures.csv: its leaves make a tree with the root ")
    assert problem.endswith("not the manifest's " + "0" * 64)


def test_a_missing_row_changes_the_size(bundle, tmp_path, key):
    forged = forge(bundle, tmp_path / "short.zip", key, csv_change=lambda lines: lines.pop(9))
    assert problems(forged) == [
        "signatures.csv: has 129 leaves, but the manifest's receipts tree 130"
    ]


@pytest.mark.parametrize(
    "leaf", ["", "AB" * 32, "ab" * 31, "zz" * 32], ids=["empty", "upper", "short", "not hex"]
)
def test_a_malformed_leaf_is_refused_with_its_row(bundle, tmp_path, key, leaf):
    def change(lines: list[list[str]]) -> None:
        lines[3][-2] = leaf

    forged = forge(bundle, tmp_path / "bad.zip", key, csv_change=change)
    assert problems(forged) == ["signatures.csv: row 3: its leaf is not 64 lowercase hex digits"]


def test_a_csv_without_its_leaf_column_is_refused(bundle, tmp_path, key):
    def drop(lines: list[list[str]]) -> None:
        for line in lines:
            del line[-2:]  # the leaf and the source after it

    forged = forge(bundle, tmp_path / "noleaf.zip", key, csv_change=drop)
    assert problems(forged) == ["signatures.csv: has no leaf column, which the receipts need"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tree": "sha3"}, "its receipts tree is 'sha3', not one this check knows"),
        ({"tree_size": "130"}, "its receipts tree_size is not a whole number"),
        ({"root": "AB" * 32}, "its receipts root is not a SHA-256 in lowercase hex"),
        ({"tree_size": 129}, "its receipts tree has 129 leaves, but it counts 130"),
    ],
)
def test_a_malformed_receipts_entry_is_refused(bundle, tmp_path, key, change, message):
    forged = forge(
        bundle, tmp_path / "m.zip", key, manifest_change=lambda m: m["receipts"].update(change)
    )
    found = problems(forged)
    assert any(problem.startswith(f"manifest.json: {message}") for problem in found), found
