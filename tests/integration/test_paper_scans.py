"""The sheets' scans in the bundle, when the organiser includes them: matched by SHA-256 against
what each sheet records, listed in the signed manifest, checked by `bundles verify`."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from petitions.delivery.verify import verify_bundle
from petitions.models import Delivery
from petitions.sealing import SealingIdentity
from petitions.services import lifecycle
from tests.integration.test_paper import GOOD_CSV, _count, _csv, _import


def _png(path: Path, shade: int) -> bytes:
    """Write a real 8×8 grey PNG at `path`; return its bytes."""
    Image.new("L", (8, 8), shade).save(path, "PNG")
    return path.read_bytes()


def _counted_sheets(runner, petition, tmp_path: Path, scan: Path) -> None:
    """Count sheets 1 (entered with `scan`) and 2 (without one), each entered twice."""
    for number in (1, 2):
        path = _csv(tmp_path, GOOD_CSV, f"sheet-{number}.csv")
        extra = ["--scan", str(scan)] if number == 1 else []
        for entry in (extra, []):
            result = _import(runner, petition, path, number=number, extra=entry)
            assert result.exit_code == 0, result.output


def _export(runner, petition, output: Path, scans: Path):
    return runner.invoke(
        args=[
            "petitions",
            "export",
            petition.slug,
            "--output",
            str(output),
            "--paper-scans",
            str(scans),
        ]
    )


def _replace_member(source: Path, target: Path, name: str, data: bytes) -> None:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            copy.writestr(info, data if info.filename == name else original.read(info))


@pytest.mark.committed
def test_the_scans_go_into_the_bundle_listed_in_the_manifest_and_verify_checks_them(
    runner, db, make_petition, tmp_path
):
    petition = make_petition()
    scans = tmp_path / "scans"
    scans.mkdir()
    image = _png(scans / "sheet-1.png", 40)
    _counted_sheets(runner, petition, tmp_path, scans / "sheet-1.png")
    output = tmp_path / "bundle.zip"
    result = _export(runner, petition, output, scans)
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(image).hexdigest()
    with zipfile.ZipFile(output) as archive:
        assert archive.read("scans/sheet-1.png") == image
        assert archive.getinfo("scans/sheet-1.png").compress_type == zipfile.ZIP_STORED
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["paper_sheets"] == [
        {"sheet": 1, "lines": 2, "scan_sha256": digest, "scan": "scans/sheet-1.png"},
        {"sheet": 2, "lines": 2, "scan_sha256": None},
    ]
    assert manifest["files"]["scans/sheet-1.png"] == digest
    report = verify_bundle(output)
    assert report.problems == []
    assert "scans: scans/sheet-1.png, each with the SHA-256 its sheet records" in report.notes
    verified = runner.invoke(args=["bundles", "verify", str(output)])
    assert verified.exit_code == 0, verified.output

    tampered = tmp_path / "tampered.zip"
    _replace_member(output, tampered, "scans/sheet-1.png", _png(tmp_path / "other.png", 200))
    refused = runner.invoke(args=["bundles", "verify", str(tampered)])
    assert refused.exit_code == 1
    assert [str(problem) for problem in verify_bundle(tampered).problems] == [
        "scans/sheet-1.png: has changed: its SHA-256 differs from the one in manifest.json"
    ]
    assert (
        "  problem: scans/sheet-1.png: has changed: its SHA-256 differs from the one in "
        "manifest.json" in refused.output.splitlines()
    )


@pytest.mark.committed
def test_a_bundle_without_chosen_scans_has_none(runner, db, make_petition, tmp_path):
    petition = make_petition()
    scan = tmp_path / "scan.png"
    _png(scan, 40)
    _counted_sheets(runner, petition, tmp_path, scan)
    output = tmp_path / "bundle.zip"
    result = runner.invoke(args=["petitions", "export", petition.slug, "--output", str(output)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(output) as archive:
        assert not [name for name in archive.namelist() if name.startswith("scans/")]
        manifest = json.loads(archive.read("manifest.json"))
    assert [sorted(entry) for entry in manifest["paper_sheets"]] == [
        ["lines", "scan_sha256", "sheet"],
        ["lines", "scan_sha256", "sheet"],
    ]


@pytest.mark.committed
def test_a_scan_that_is_not_its_sheets_is_refused_and_nothing_is_written(
    runner, db, make_petition, tmp_path
):
    petition = make_petition()
    recorded = tmp_path / "recorded.png"
    _png(recorded, 40)
    _counted_sheets(runner, petition, tmp_path, recorded)
    cases = {
        "sheet-1.png": "export failed: sheet-1.png: its SHA-256 is not the one recorded for "
        "sheet 1's scan",
        "sheet-2.png": "export failed: sheet-2.png: sheet 2 has no scan recorded",
        "sheet-5.png": "export failed: sheet-5.png: sheet 5 is not a counted sheet of the petition",
    }
    for name, message in cases.items():
        scans = tmp_path / name.replace(".", "-")
        scans.mkdir()
        _png(scans / name, 90)
        output = tmp_path / "out" / "bundle.zip"
        output.parent.mkdir(exist_ok=True)
        result = _export(runner, petition, output, scans)
        assert result.exit_code == 1
        assert result.output == f"Error: {message}\n"
        assert list(output.parent.iterdir()) == []
    assert _count(db, Delivery) == 0


@pytest.mark.committed
def test_a_folder_of_scans_must_hold_only_sheets_scans_one_each(
    runner, db, make_petition, tmp_path
):
    petition = make_petition()
    recorded = tmp_path / "recorded.png"
    _png(recorded, 40)
    _counted_sheets(runner, petition, tmp_path, recorded)
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("sheet 1 was wet", encoding="utf-8")
    result = _export(runner, petition, tmp_path / "bundle.zip", stray)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: --paper-scans: {stray / 'notes.txt'}: not a sheet's scan: name each "
        "sheet-<number>.png, .jpg, .webp or .tif\n"
    )
    twice = tmp_path / "twice"
    twice.mkdir()
    _png(twice / "sheet-1.png", 40)
    _png(twice / "sheet-1.jpg", 40)
    result = _export(runner, petition, tmp_path / "bundle.zip", twice)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: --paper-scans: {twice / 'sheet-1.png'}: sheet 1 has another scan, sheet-1.jpg\n"
    )
    assert not (tmp_path / "bundle.zip").exists()
    assert _count(db, Delivery) == 0


@pytest.mark.committed
def test_a_sealed_petitions_export_refuses_scans(
    runner, db, make_organiser, make_petition, tmp_path
):
    organiser = make_organiser()
    petition = make_petition(organiser=organiser, slug="sealed-scans")
    lifecycle.seal(petition, SealingIdentity.generate().public_key.line, organiser)
    db.session.commit()
    scans = tmp_path / "scans"
    scans.mkdir()
    _png(scans / "sheet-1.png", 40)
    _counted_sheets(runner, petition, tmp_path, scans / "sheet-1.png")
    result = _export(runner, petition, tmp_path / "sealed.zip", scans)
    assert result.exit_code == 1
    assert result.output == (
        "Error: export failed: a sealed petition's export cannot carry the sheets' scans yet: "
        "their SHA-256 are in its manifest\n"
    )
    assert not (tmp_path / "sealed.zip").exists()
