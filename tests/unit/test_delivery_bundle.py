"""The bundle as a recipient gets it: its files, its checks, and what it refuses to do."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from petitions.delivery.bundle import BundleError, build_bundle
from petitions.delivery.keys import SigningKey, ensure_development_key, load_signing_key
from petitions.delivery.model import LABELS, Summary
from petitions.delivery.verify import verify_bundle
from tests.delivery_fixtures import (
    KAZAKH_NAME,
    ORGANISATION_APPLICANT,
    Row,
    check_as_recipient,
    make_export,
    make_petition,
    make_rows,
    rewrite_member,
    run,
    summary_of,
    unzip,
)

FILES = ["signatures.csv", "petition.pdf", "signer.pem", "manifest.json", "manifest.json.p7s"]


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    # The session's base directory: every test module reuses the one key it makes.
    return load_signing_key(ensure_development_key(tmp_path_factory.getbasetemp() / "key"), None)


def export(directory: Path, key: SigningKey, rows: list[Row], **options: object):
    """Build a bundle of `rows` in `directory` and return the result."""
    petition = make_petition()
    options = {"workers": 0, **options}
    return build_bundle(
        petition, make_export(), summary_of(rows, petition), iter(rows), key, directory, **options
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, key: SigningKey) -> Path:
    rows = make_rows(130, [KAZAKH_NAME])
    return export(tmp_path_factory.mktemp("bundle"), key, rows).path


def read_csv(bundle: Path) -> tuple[bytes, list[list[str]]]:
    with zipfile.ZipFile(bundle) as archive:
        raw = archive.read("signatures.csv")
    return raw, list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_bundle_holds_its_files_and_verifies(bundle):
    assert bundle.name == "pardon-aron-atabek-20210919.zip"
    with zipfile.ZipFile(bundle) as archive:
        assert sorted(archive.namelist()) == sorted(FILES)
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["bundle"] == "pardon-aron-atabek-20210919-test01"
    assert manifest["export"] == "final"
    assert manifest["generator"] == {"name": "petitions", "version": "0.1.0-test"}
    assert manifest["petition"]["language"] == "kk"
    assert manifest["window"]["opens_at"] == "2021-09-14T04:00:00Z"
    assert manifest["counts"]["signatures"] == 130
    assert set(manifest["files"]) == {"petition.pdf", "signatures.csv", "signer.pem"}
    assert manifest["signer"]["development_key"] is True
    report = verify_bundle(bundle)
    assert report.valid, str(report)
    assert report.development_key is True


def test_the_manifest_names_the_recipient_and_the_applicant_but_no_address(bundle):
    with zipfile.ZipFile(bundle) as archive:
        data = archive.read("manifest.json")
    manifest = json.loads(data)
    assert manifest["recipient"] == {
        "name": "Қазақстан Республикасының Президенті",
        "kind": "president",
    }
    # A person, surname first, as official letters in Kazakhstan write them.
    assert manifest["applicant"] == {
        "kind": "person",
        "name": "Үмбетова Әлия Қасымқызы",
        "demonstration": False,
    }
    for private in ("Бұқар жырау", "aliya@example.org", "900101400013", "+7 701"):
        assert private.encode() not in data
    assert (
        "parties: to a recipient of the kind president, from the person Үмбетова Әлия Қасымқызы"
    ) in verify_bundle(bundle).notes


def test_the_manifest_names_an_organisation_and_an_interim_without_applicant(tmp_path, key):
    invented = dataclasses.replace(ORGANISATION_APPLICANT, demonstration=True)
    rows = make_rows(2)
    petition = make_petition(applicant=invented, recipient_kind="akimat", recipient="Әкім")
    made = build_bundle(
        petition, make_export(), summary_of(rows, petition), iter(rows), key, tmp_path / "a.zip"
    )
    manifest = json.loads(zipfile.ZipFile(made.path).read("manifest.json"))
    assert manifest["recipient"] == {"name": "Әкім", "kind": "akimat"}
    assert manifest["applicant"] == {
        "kind": "organisation",
        "name": "Қазақстан адам құқықтары бюросы",
        "demonstration": True,
    }
    assert (
        "parties: to a recipient of the kind akimat, from the organisation "
        "Қазақстан адам құқықтары бюросы (a demonstration, invented)"
    ) in verify_bundle(made.path).notes
    nobody = make_petition(applicant=None)
    interim = build_bundle(
        nobody,
        make_export(final=False),
        summary_of(rows, nobody),
        iter(rows),
        key,
        tmp_path / "interim.zip",
    )
    assert json.loads(zipfile.ZipFile(interim.path).read("manifest.json"))["applicant"] is None
    report = verify_bundle(interim.path)
    assert report.valid, str(report)
    assert "parties: to a recipient of the kind president, no applicant" in report.notes


def test_verify_refuses_a_final_bundle_that_names_no_applicant(tmp_path, key):
    rows = make_rows(2)
    nobody = make_petition(applicant=None)
    made = build_bundle(
        nobody, make_export(), summary_of(rows, nobody), iter(rows), key, tmp_path / "final.zip"
    )
    report = verify_bundle(made.path)
    assert [str(problem) for problem in report.problems] == [
        "manifest.json: is of a final export but names no applicant"
    ]


def test_result_gives_the_zip_hash_names_and_count(tmp_path, key):
    result = export(tmp_path, key, make_rows(3))
    assert result.signature_count == 3
    assert result.volumes == ("petition.pdf",)
    assert sorted(result.names) == sorted(FILES)
    assert result.sha256 == run("sha256sum", result.path).stdout.split()[0]


def test_recipient_tools_accept_the_bundle(bundle, tmp_path):
    files = check_as_recipient(bundle, tmp_path / "files")
    manifest = json.loads((files / "manifest.json").read_text(encoding="utf-8"))
    assert (
        f'"petition.pdf": "{manifest["files"]["petition.pdf"]}"'
        in (files / "manifest.json").read_text()
    )
    assert KAZAKH_NAME in run("pdftotext", files / "petition.pdf", "-").stdout


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("offset", [40, -200])
def test_changing_one_byte_of_any_file_fails_and_names_it(bundle, tmp_path, name, offset):
    tampered = tmp_path / "tampered.zip"
    rewrite_member(bundle, tampered, name, offset)
    report = verify_bundle(tampered)
    assert not report.valid
    assert name in {problem.file for problem in report.problems}, str(report)


def test_a_damaged_zip_member_is_named(bundle, tmp_path):
    data = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as archive:
        info = archive.getinfo("signatures.csv")
    data[info.header_offset + 30 + len(info.filename) + 50] ^= 0xFF  # inside the member's data
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    report = verify_bundle(damaged)
    assert any(p.file == "signatures.csv" for p in report.problems), str(report)


def test_extra_and_missing_files_are_reported(bundle, tmp_path):
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(changed, "w") as copy:
        for info in source.infolist():
            if info.filename != "signatures.csv":
                copy.writestr(info, source.read(info.filename))
        copy.writestr("extra.txt", b"not part of the bundle")
    problems = {str(problem) for problem in verify_bundle(changed).problems}
    assert "signatures.csv: is listed in manifest.json but missing from the bundle" in problems
    assert "extra.txt: is not listed in manifest.json" in problems


def test_a_file_that_is_not_a_zip_is_reported(tmp_path):
    path = tmp_path / "bundle.zip"
    path.write_bytes(b"%PDF-1.4 not a zip")
    report = verify_bundle(path)
    assert not report.valid
    assert "bundle.zip: is not a readable ZIP file" in str(report)


def test_petition_without_signatures_exports_cleanly(tmp_path, key):
    result = export(tmp_path, key, [])
    assert verify_bundle(result.path).valid
    _, table = read_csv(result.path)
    assert len(table) == 1
    files = unzip(result.path, tmp_path / "files")
    text = run("pdftotext", files / "petition.pdf", "-").stdout
    assert LABELS["kk"].no_signatures in text


def test_csv_is_utf8_with_bom_and_neutralises_formulas(tmp_path, key):
    names = ["=1+1", "+7 701", "-2", "@SUM(A1)", "\tTab", "Normal = name"]
    rows = make_rows(len(names), names)
    rows[0] = (*rows[0][:2], '=HYPERLINK("http://x")', *rows[0][3:])
    raw, table = read_csv(export(tmp_path, key, rows).path)
    assert raw.startswith(b"\xef\xbb\xbf")
    header, *body = table
    assert header == ["№", "Аты-жөні", "Қала", "Ел коды", "Ел", "Қол қойылған уақыты"]
    assert [row[1] for row in body] == [
        "'=1+1",
        "'+7 701",
        "'-2",
        "'@SUM(A1)",
        " Tab",
        "Normal = name",
    ]
    assert body[0][2] == '\'=HYPERLINK("http://x")'
    assert body[0][3:] == ["KZ", "Қазақстан", "2021-09-14T10:00:00+06:00"]


def test_names_in_other_scripts_keep_their_letters_in_the_csv(tmp_path, key):
    names = ["王小明", "محمد", "Emoji 😀", "Lone \ud800", "Nul\x00l"]
    result = export(tmp_path, key, make_rows(len(names), names))
    assert verify_bundle(result.path).valid
    _, table = read_csv(result.path)
    assert [row[1] for row in table[1:]] == [
        "王小明",
        "محمد",
        "Emoji 😀",
        "Lone \ufffd",
        "Nul\ufffdl",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"total": 6}, "5 rows, but the summary counts 6"),
        ({"total": 4}, "more rows than the 4 signatures the summary counts"),
        ({"by_country": {"KZ": 5}}, "counts by country"),
        ({"by_day": {}}, "counts by day"),
    ],
)
def test_rows_that_disagree_with_the_summary_fail_and_leave_nothing(tmp_path, key, change, message):
    petition = make_petition()
    rows = make_rows(5)
    right = summary_of(rows, petition)
    summary = Summary(
        **{"total": right.total, "by_country": right.by_country, "by_day": right.by_day, **change}
    )
    with pytest.raises(BundleError, match=message):
        build_bundle(petition, make_export(), summary, rows, key, tmp_path, workers=0)
    assert list(tmp_path.iterdir()) == []


def test_naive_datetimes_are_refused(tmp_path, key):
    rows = [
        (n, name, city, country, moment.replace(tzinfo=None))
        for n, name, city, country, moment in make_rows(2)
    ]
    with pytest.raises(BundleError, match="aware"):
        export(tmp_path, key, rows)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_bundle_is_replaced_only_when_asked(tmp_path, key):
    first = export(tmp_path, key, make_rows(2))
    with pytest.raises(FileExistsError):
        export(tmp_path, key, make_rows(2))
    second = export(tmp_path, key, make_rows(2), overwrite=True)
    assert second.path == first.path and verify_bundle(second.path).valid


class _Once:
    """Rows that can be read once only, like a server-side cursor."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows, self.reads = rows, 0

    def __iter__(self) -> Iterator[Row]:
        self.reads += 1
        assert self.reads == 1, "the rows were read twice"
        return iter(self.rows)


def test_rows_are_read_once_and_progress_ends_at_the_total(tmp_path, key):
    petition = make_petition()
    rows = make_rows(2150)
    calls: list[tuple[int, int]] = []
    build_bundle(
        petition,
        make_export(),
        summary_of(rows, petition),
        _Once(rows),
        key,
        tmp_path,
        workers=0,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[0] == (1000, 2150) and calls[-1] == (2150, 2150)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def _volumes_text(path: Path, directory: Path) -> dict[str, str]:
    files = unzip(path, directory)
    return {
        pdf.name: run("pdftotext", pdf, "-").stdout for pdf in sorted(files.glob("petition*.pdf"))
    }


@pytest.mark.parametrize("workers", [0, 2])
def test_long_list_is_split_into_volumes_numbered_across_them(tmp_path, key, workers):
    rows = make_rows(230, [KAZAKH_NAME])
    result = export(tmp_path, key, rows, rows_per_volume=100, workers=workers)
    names = ["petition-vol-01.pdf", "petition-vol-02.pdf", "petition-vol-03.pdf"]
    assert result.volumes == tuple(names)
    assert verify_bundle(result.path).valid
    texts = _volumes_text(result.path, tmp_path / "files")
    assert list(texts) == names
    front = texts[names[0]].count("\f") - 2  # volume 1: the front pages and 2 list pages
    total = front + 5  # 230 rows, 50 a page
    assert f"{total} беттің {front + 3}-беті" in texts[names[1]]  # numbering continues
    assert "3 томның 2-томы" in texts[names[1]]
    assert "\n101\n" in texts[names[1]] and "\n230\n" in texts[names[2]]
    assert KAZAKH_NAME in texts[names[0]]
    for name in names:
        assert "Signature is Valid." in run("pdfsig", tmp_path / "files" / name).stdout


def test_worker_processes_draw_the_same_volumes(tmp_path, key):
    rows = make_rows(230)
    (tmp_path / "here").mkdir()
    (tmp_path / "there").mkdir()
    here = export(tmp_path / "here", key, rows, rows_per_volume=100, workers=0)
    there = export(tmp_path / "there", key, rows, rows_per_volume=100, workers=2)
    assert _volumes_text(here.path, tmp_path / "a") == _volumes_text(there.path, tmp_path / "b")
