"""Paper sheets: the printed sheet, double entry, the import, repeats, counts and the bundle."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from petitions.delivery.keys import ensure_development_key, load_signing_key
from petitions.delivery.sealed import unseal
from petitions.delivery.verify import verify_bundle
from petitions.merkle import Tree
from petitions.models import (
    AuditEvent,
    PaperPass,
    PaperSheet,
    PetitionState,
    Signature,
    SignatureState,
    utcnow,
)
from petitions.receipts import paper_leaf
from petitions.sealing import SealingIdentity
from petitions.services import lifecycle, paper, retention
from tests.conftest import PASSWORD
from tests.helpers import csrf_token, login, sign

KAZAKH = "Әлия Қасымқызы Үмбетова"
#: The first bytes of a JPEG file, enough for the magic-bytes check.
SCAN = b"\xff\xd8\xff\xe0" + b"\0" * 64
GOOD_CSV = "line,name,city,country\n1,Әлия Қасымқызы Үмбетова,Алматы,KZ\n2,Иван Петров,Астана,KZ\n"


def _text(path: Path, *options: str) -> str:
    return subprocess.run(
        ["pdftotext", *options, str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def _code(petition, number: int) -> str:
    return paper.check_code(petition.public_id, number)


def _csv(tmp_path: Path, text: str, name: str = "sheet.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _import(runner, petition, path: Path, number: int = 1, code: str | None = None, extra=()):
    code = code if code is not None else _code(petition, number)
    return runner.invoke(
        args=[
            "petitions",
            "paper-import",
            petition.slug,
            str(path),
            "--sheet",
            str(number),
            "--check-code",
            code,
            *extra,
        ]
    )


def _paper_rows(db) -> list[Signature]:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(Signature)
        .where(Signature.paper_sheet.is_not(None))
        .order_by(Signature.paper_sheet, Signature.paper_line)
    ).all()


def _count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# The sheet.


def _page_image(path: Path, directory: Path, name: str) -> bytes:
    subprocess.run(["pdftoppm", "-r", "50", "-gray", str(path), str(directory / name)], check=True)
    [image] = directory.glob(f"{name}*.pgm")
    return image.read_bytes()


def test_paper_sheet_command_writes_a_kazakh_sheet_with_its_number_code_and_qr(
    runner, db, make_petition, tmp_path
):
    petition = make_petition(
        language="kk", title=f"Үндеу {KAZAKH}", recipient="Қазақстан Республикасының Президенті"
    )
    output = tmp_path / "sheet.pdf"
    result = runner.invoke(
        args=["petitions", "paper-sheet", petition.slug, "--output", str(output), "--sheet", "7"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote sheet 7 of {petition.slug} to {output}\n"
    text = _text(output)
    assert KAZAKH in text
    assert "Қазақстан Республикасының Президенті" in text
    assert _code(petition, 7) in text
    # The signing form's consent, in Kazakh, naming the recipient.
    assert "Электрондық пошта" in text
    assert f"http://localhost/petitions/{petition.slug}" in text
    numbers = [line.strip() for line in _text(output, "-raw").splitlines()]
    assert [str(line) for line in range(1, paper.LINES_PER_SHEET + 1)] == [
        number for number in numbers if number.isdigit() and int(number) <= 20
    ]


def test_sheets_differ_only_where_their_numbers_and_codes_do(runner, db, make_petition, tmp_path):
    petition = make_petition(language="ru", title="Обращение")
    paths = []
    for number in (1, 2, 1):
        path = tmp_path / f"sheet-{len(paths)}.pdf"
        result = runner.invoke(
            args=[
                "petitions",
                "paper-sheet",
                petition.slug,
                "-o",
                str(path),
                "--sheet",
                str(number),
            ]
        )
        assert result.exit_code == 0, result.output
        paths.append(path)
    first, second, again = (
        _page_image(path, tmp_path, f"page{index}") for index, path in enumerate(paths)
    )
    assert first == again
    assert first != second
    # A grey page: the QR code and the table's rules are drawn, not left blank.
    pixels = first.split(b"\n", 3)[3]
    assert sum(1 for value in pixels if value < 128) > 1_500


def test_paper_sheet_refuses_a_draft_and_an_unknown_slug(runner, make_petition, tmp_path):
    draft = make_petition(state=PetitionState.DRAFT)
    output = tmp_path / "sheet.pdf"
    refused = runner.invoke(args=["petitions", "paper-sheet", draft.slug, "-o", str(output)])
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: {draft.slug}: a draft has no public page for the sheet to point to: "
        "publish it first\n"
    )
    assert not output.exists()
    unknown = runner.invoke(args=["petitions", "paper-sheet", "nothing-here", "-o", str(output)])
    assert unknown.exit_code == 1
    assert unknown.output == "Error: no petition with the slug 'nothing-here'\n"


def test_check_codes_are_short_keyed_and_read_loosely(make_petition, db):
    petition = make_petition()
    code = _code(petition, 3)
    assert len(code) == 9 and code[4] == "-"
    assert code != _code(petition, 4)
    assert paper.code_matches(petition.public_id, 3, code.lower().replace("-", " "))
    assert not paper.code_matches(petition.public_id, 4, code)
    assert not paper.code_matches(petition.public_id, 3, "")


# Double entry through the import.


def test_two_identical_imports_count_the_sheet_with_its_paper_leaves(
    runner, db, make_petition, tmp_path
):
    petition = make_petition()
    path = _csv(tmp_path, GOOD_CSV)
    first = _import(runner, petition, path)
    assert first.exit_code == 0, first.output
    assert first.output == "sheet 1: first pass recorded; enter it once more to count it\n"
    assert _paper_rows(db) == []
    second = _import(runner, petition, path)
    assert second.exit_code == 0, second.output
    assert second.output == "sheet 1: the passes agree; 2 lines counted\n"
    rows = _paper_rows(db)
    assert [(r.name, r.city, r.country, r.paper_line) for r in rows] == [
        (KAZAKH, "Алматы", "KZ", 1),
        ("Иван Петров", "Астана", "KZ", 2),
    ]
    code = _code(petition, 1)
    assert [bytes(r.receipt_leaf) for r in rows] == [
        paper_leaf(petition.public_id, code, 1),
        paper_leaf(petition.public_id, code, 2),
    ]
    assert {r.state for r in rows} == {SignatureState.CONFIRMED}
    sheet = db.session.scalars(sa.select(PaperSheet)).one()
    assert [entry.entered_by for entry in sheet.passes] == ["cli", "cli"]
    assert sheet.line_count == 2
    again = _import(runner, petition, path)
    assert again.exit_code == 1
    assert again.output == f"Error: {path}: sheet 1 is already counted\n"


def test_imports_that_differ_wait_and_show_the_line_that_differs(
    runner, db, make_petition, tmp_path
):
    petition = make_petition()
    assert _import(runner, petition, _csv(tmp_path, GOOD_CSV)).exit_code == 0
    typo = GOOD_CSV.replace("Иван Петров", "Иван Петроф")
    differs = _import(runner, petition, _csv(tmp_path, typo, "typo.csv"))
    assert differs.exit_code == 0
    assert differs.output.startswith("sheet 1: this pass differs from the earlier ones;")
    assert _paper_rows(db) == []
    sheet = db.session.scalars(sa.select(PaperSheet)).one()
    [difference] = paper.differences(sheet)
    assert difference.number == 2
    assert (difference.earlier.name, difference.later.name) == ("Иван Петров", "Иван Петроф")
    # A third pass that agrees with the first settles it.
    third = _import(runner, petition, _csv(tmp_path, GOOD_CSV, "third.csv"))
    assert third.output == "sheet 1: the passes agree; 2 lines counted\n"
    assert len(_paper_rows(db)) == 2


def test_a_wrong_check_code_is_refused_and_nothing_is_written(runner, db, make_petition, tmp_path):
    petition = make_petition()
    path = _csv(tmp_path, GOOD_CSV)
    wrong = _import(runner, petition, path, number=1, code=_code(petition, 2))
    assert wrong.exit_code == 1
    assert wrong.output == (
        f"Error: {path}: the check code is not sheet 1's: check the number and the code on the "
        "sheet\n"
    )
    assert (_count(db, PaperSheet), _count(db, PaperPass)) == (0, 0)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            GOOD_CSV + "3,=HYPERLINK(1),Алматы,KZ\n",
            "line 3: name: cannot begin with =, +, - or @",
        ),
        (GOOD_CSV + "3,Айгерім,,KZ\n", "line 3: city: missing"),
        (GOOD_CSV + "3,Айгерім,Алматы,XX\n", "line 3: country: not a two-letter country code"),
        (
            GOOD_CSV + "3,Айгерім\u202e,Алматы,KZ\n",
            "line 3: name: remove invisible or control characters",
        ),
        (GOOD_CSV + "2,Айгерім,Алматы,KZ\n", "line 2: given twice"),
        (GOOD_CSV + "21,Айгерім,Алматы,KZ\n", "line 21: a sheet has lines 1 to 20"),
        (GOOD_CSV + "x,Айгерім,Алматы,KZ\n", "row 4: the line number 'x' is not a whole number"),
        (GOOD_CSV + "3,Айгерім,Алматы\n", "row 4: 3 cells, expected 4"),
        (
            "number,name,city,country\n1,A,B,KZ\n",
            "the first row must be the header line,name,city,country",
        ),
        ("line,name,city,country\n", "the sheet has no line"),
    ],
)
def test_import_refuses_a_bad_line_and_writes_nothing(
    runner, db, make_petition, tmp_path, text, message
):
    petition = make_petition()
    path = _csv(tmp_path, text)
    result = _import(runner, petition, path)
    assert result.exit_code == 1
    assert result.output == f"Error: {path}: {message}\n"
    assert (_count(db, PaperSheet), _count(db, PaperPass), _count(db, AuditEvent)) == (0, 0, 0)


def test_import_refuses_a_file_that_is_not_utf8(runner, db, make_petition, tmp_path):
    petition = make_petition()
    path = tmp_path / "latin.csv"
    path.write_bytes("line,name,city,country\n1,Jos\xe9,Almaty,KZ\n".encode("latin-1"))
    result = _import(runner, petition, path)
    assert result.exit_code == 1
    assert result.output == f"Error: {path}: the file is not UTF-8 text\n"


def test_a_scan_keeps_only_its_hash_and_must_be_an_image(runner, db, make_petition, tmp_path):
    petition = make_petition()
    path = _csv(tmp_path, GOOD_CSV)
    text = tmp_path / "scan.txt"
    text.write_bytes(b"not an image at all")
    args = ["petitions", "paper-import", petition.slug, str(path), "--sheet", "1"]
    args += ["--check-code", _code(petition, 1)]
    refused = runner.invoke(args=[*args, "--scan", str(text)])
    assert refused.exit_code == 1
    assert refused.output == f"Error: {path}: the scan is not a PNG, JPEG, WebP or TIFF image\n"
    assert _count(db, PaperSheet) == 0
    png = tmp_path / "scan.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    accepted = runner.invoke(args=[*args, "--scan", str(png)])
    assert accepted.exit_code == 0, accepted.output
    sheet = db.session.scalars(sa.select(PaperSheet)).one()
    assert sheet.scan_sha256 == hashlib.sha256(png.read_bytes()).hexdigest()


def test_a_delivered_petition_takes_no_more_sheets(runner, db, make_petition, tmp_path):
    petition = make_petition(state=PetitionState.DELIVERED)
    path = _csv(tmp_path, GOOD_CSV)
    result = _import(runner, petition, path)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: sheets cannot be entered in a petition that is delivered\n"
    )


# Entry on the dashboard.


@pytest.fixture
def owned(db, make_account, make_petition, client):
    organiser = make_account(email="owner@example.org")
    petition = make_petition(organiser=organiser, title="Paper petition")
    login(client, "owner@example.org", PASSWORD)
    return petition


def _enter(client, petition, lines, number=1, code=None):
    path = f"/organiser/petitions/{petition.id}/paper/enter"
    data = {
        "csrf_token": csrf_token(client, path),
        "sheet": str(number),
        "check_code": code or _code(petition, number),
    }
    for line, (name, city, country) in enumerate(lines, start=1):
        data |= {f"name-{line}": name, f"city-{line}": city, f"country-{line}": country}
    return client.post(path, data=data)


def test_an_organiser_enters_a_sheet_twice_on_the_dashboard_and_it_counts(client, db, owned):
    lines = [(KAZAKH, "Алматы", "KZ"), ("Иван Петров", "Астана", "KZ")]
    page = client.get(f"/organiser/petitions/{owned.id}/paper/enter")
    assert page.status_code == 200
    first = _enter(client, owned, lines)
    assert first.status_code == 303
    assert first.headers["Location"] == f"/organiser/petitions/{owned.id}/paper"
    sheets = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "Sheet 1: first pass saved." in sheets
    assert "Waiting for a second pass" in sheets
    # The second pass starts from an empty form: nothing of the first is shown.
    blank = client.get(f"/organiser/petitions/{owned.id}/paper/enter").get_data(as_text=True)
    assert KAZAKH not in blank
    second = _enter(client, owned, lines)
    assert second.status_code == 303
    sheets = client.get(second.headers["Location"]).get_data(as_text=True)
    assert "Sheet 1: the two passes agree. 2 lines counted." in sheets
    assert len(_paper_rows(db)) == 2
    entered = db.session.scalars(sa.select(PaperPass.entered_by)).all()
    assert entered == ["owner@example.org", "owner@example.org"]
    dashboard = client.get(f"/organiser/petitions/{owned.id}").get_data(as_text=True)
    assert "<dt>Counted on paper</dt><dd>2</dd>" in dashboard
    assert "<dt>Counted online</dt><dd>0</dd>" in dashboard
    assert "<dt>Counted in total</dt><dd>2</dd>" in dashboard


def test_the_dashboard_shows_differences_line_by_line(client, db, owned):
    _enter(client, owned, [("Айгерім Сейітова", "Алматы", "KZ"), ("Иван", "Астана", "KZ")])
    _enter(client, owned, [("Айгерім Сейітова", "Алматы", "KZ"), ("Иван", "Астана", "RU")])
    page = client.get(f"/organiser/petitions/{owned.id}/paper").get_data(as_text=True)
    assert "The passes differ: enter the sheet again" in page
    assert "Sheet 1: where the last two passes differ" in page
    assert "<td>2</td>" in page and "Астана</bdi> · RU" in page
    assert "Айгерім Сейітова</bdi> · <bdi>Алматы</bdi> · KZ</td>\n      <td>" not in page
    assert _paper_rows(db) == []


def test_the_dashboard_refuses_a_wrong_code_with_the_message_and_keeps_the_typing(
    client, db, owned
):
    response = _enter(client, owned, [("Айгерім", "Алматы", "KZ")], code="AAAA-AAAA")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert (
        '<p class="notice" role="alert" id="entry-error">The check code is not sheet 1\'s: '
        "check the number and the code printed on the sheet.</p>" in page
    )
    assert 'value="Айгерім"' in page
    assert _count(db, PaperSheet) == 0


def test_another_organisers_petition_answers_404(client, db, owned, make_petition):
    other = make_petition()
    for path in ("paper", "paper/enter", "paper/sheets.pdf?first=1&count=1"):
        assert client.get(f"/organiser/petitions/{other.id}/{path}").status_code == 404
    response = _enter(client, other, [("Айгерім", "Алматы", "KZ")])
    assert response.status_code == 404


def test_the_dashboard_downloads_sheets(client, db, owned, tmp_path):
    response = client.get(f"/organiser/petitions/{owned.id}/paper/sheets.pdf?first=4&count=2")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    path = tmp_path / "sheets.pdf"
    path.write_bytes(response.data)
    text = _text(path)
    assert _code(owned, 4) in text and _code(owned, 5) in text
    assert text.count("Paper petition") == 2
    refused = client.get(f"/organiser/petitions/{owned.id}/paper/sheets.pdf?first=1&count=500")
    assert refused.status_code == 422


# Repeats, invalidation, counts.


def test_a_paper_line_repeating_an_online_signature_is_flagged_until_a_person_decides(
    client, runner, db, owned, tmp_path
):
    assert sign(client, owned.slug, name="Ali Khan", city="Almaty").status_code == 303
    db.session.execute(
        sa.update(Signature).values(state=SignatureState.CONFIRMED, confirmed_at=utcnow())
    )
    db.session.commit()
    # Another case, an accent, an invisible character: still the same person to look at.
    text = "line,name,city,country\n1,ALI KHÁN\u200b,almaty,KZ\n2,Dana Sarsen,Almaty,KZ\n"
    path = _csv(tmp_path, text)
    _import(runner, owned, path)
    _import(runner, owned, path)
    flagged = paper.repeats(owned)
    assert [repeat.line.paper_line for repeat in flagged] == [1]
    assert [other.paper_sheet for other in flagged[0].others] == [None]
    login(client, "owner@example.org", PASSWORD)
    page = client.get(f"/organiser/petitions/{owned.id}/signatures").get_data(as_text=True)
    assert "Paper lines that look like repeats" in page
    assert "paper, sheet 1, line 1</strong>" in page
    line = flagged[0].line
    token = csrf_token(client, f"/organiser/petitions/{owned.id}/signatures")
    kept = client.post(
        f"/organiser/petitions/{owned.id}/paper/repeats/{line.id}/keep",
        data={"csrf_token": token},
    )
    assert kept.status_code == 303
    assert paper.repeats(owned) == []
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "paper_repeat_kept")
    ).one()
    assert event.detail == {"sheet": 1, "line": 1}


def test_a_paper_line_is_invalidated_with_a_reason_in_the_audit_log(
    client, runner, db, owned, tmp_path
):
    path = _csv(tmp_path, GOOD_CSV)
    _import(runner, owned, path)
    _import(runner, owned, path)
    line = _paper_rows(db)[1]
    token = csrf_token(client, f"/organiser/petitions/{owned.id}/signatures")
    response = client.post(
        f"/organiser/petitions/{owned.id}/paper/lines/{line.id}/invalidate",
        data={"csrf_token": token, "reason": "Signed twice on sheet 1"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Signature, line.id).state == SignatureState.INVALIDATED
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "invalidate")).one()
    assert event.detail["reason"] == "Signed twice on sheet 1"
    assert event.detail["count"] == 1
    data = client.get(f"/petitions/{owned.slug}.json").get_json()
    assert (data["online_count"], data["paper_count"], data["signature_count"]) == (0, 1, 1)
    assert data["invalidated_count"] == 1


def test_public_page_and_json_count_online_and_paper_apart(
    client, runner, db, owned, make_signature, tmp_path
):
    make_signature(owned)
    path = _csv(tmp_path, GOOD_CSV)
    _import(runner, owned, path)
    _import(runner, owned, path)
    page = client.get(f"/petitions/{owned.slug}").get_data(as_text=True)
    assert "Online: 1. On paper: 2. Total: 3." in page
    data = client.get(f"/petitions/{owned.slug}.json").get_json()
    assert (data["online_count"], data["paper_count"], data["signature_count"]) == (1, 2, 3)


def test_the_purge_removes_paper_lines_and_what_was_typed(runner, db, make_petition, tmp_path):
    petition = make_petition()
    path = _csv(tmp_path, GOOD_CSV)
    _import(runner, petition, path)
    _import(runner, petition, path)
    _import(runner, petition, _csv(tmp_path, GOOD_CSV, "other.csv"), number=2)
    petition.state = PetitionState.CLOSED
    assert retention.preview(petition).signatures == 2
    report = retention.purge(petition, petition.closes_at)
    db.session.commit()
    assert report.signatures == 2
    rows = _paper_rows(db)
    assert {(r.name, r.city, r.person_hash) for r in rows} == {
        (retention.PLACEHOLDER_NAME, "", None)
    }
    assert db.session.scalars(sa.select(PaperPass.lines)).all() == [None, None, None]
    assert retention.preview(petition).signatures == 0


# The bundle.


@pytest.mark.committed
def test_the_bundle_lists_paper_lines_after_online_ones_and_verifies(
    runner, db, make_petition, make_signature, tmp_path
):
    petition = make_petition(title="Paper and online")
    make_signature(petition, name="Online One")
    make_signature(petition, name="Online Two")
    db.session.commit()
    for number in (2, 1):
        path = _csv(tmp_path, GOOD_CSV, f"sheet-{number}.csv")
        scan = tmp_path / f"sheet-{number}.jpg"
        scan.write_bytes(SCAN)
        extra = ["--scan", str(scan)] if number == 2 else []
        first = _import(runner, petition, path, number=number, extra=extra)
        assert first.exit_code == 0, first.output
        _import(runner, petition, path, number=number)
    output = tmp_path / "bundle.zip"
    result = runner.invoke(args=["petitions", "export", petition.slug, "--output", str(output)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(output) as archive:
        table = list(csv.reader(io.StringIO(archive.read("signatures.csv").decode("utf-8-sig"))))
        manifest = json.loads(archive.read("manifest.json"))
        archive.extract("petition.pdf", tmp_path)
    header, *rows = table
    assert header[-2:] == ["leaf", "source"]
    assert [row[-1] for row in rows] == [
        "online",
        "online",
        "paper, sheet 1, line 1",
        "paper, sheet 1, line 2",
        "paper, sheet 2, line 1",
        "paper, sheet 2, line 2",
    ]
    assert [row[1] for row in rows] == [
        "Online One",
        "Online Two",
        KAZAKH,
        "Иван Петров",
        KAZAKH,
        "Иван Петров",
    ]
    assert (manifest["counts"]["online"], manifest["counts"]["paper"]) == (2, 4)
    assert manifest["counts"]["signatures"] == 6
    assert manifest["paper_sheets"] == [
        {"sheet": 1, "lines": 2, "scan_sha256": None},
        {"sheet": 2, "lines": 2, "scan_sha256": hashlib.sha256(SCAN).hexdigest()},
    ]
    # Whoever holds sheet 2 computes its lines' leaves and finds them in the tree.
    code = _code(petition, 2)
    assert rows[4][-2] == paper_leaf(petition.public_id, code, 1).hex()
    tree = Tree(bytes.fromhex(row[-2]) for row in rows)
    assert manifest["receipts"]["root"] == tree.root.hex()
    text = _text(tmp_path / "petition.pdf")
    assert "paper, sheet 1, line 2" in text
    assert "Of these, 2 were signed online and 4 on paper sheets" in " ".join(text.split())
    verified = runner.invoke(args=["bundles", "verify", str(output)])
    assert verified.exit_code == 0, verified.output
    assert "sources: 2 rows online and 4 on paper, as counted" in verified.output


@pytest.mark.committed
def test_a_sealed_petition_seals_paper_lines_and_its_export_unseals_with_them(
    client, runner, db, make_organiser, make_petition, tmp_path
):
    identity = SealingIdentity.generate()
    organiser = make_organiser()
    petition = make_petition(organiser=organiser, slug="sealed-paper")
    lifecycle.seal(petition, identity.public_key.line, organiser)
    db.session.commit()
    assert sign(client, petition.slug, name="Ali Khan", city="Almaty").status_code == 303
    db.session.execute(
        sa.update(Signature).values(state=SignatureState.CONFIRMED, confirmed_at=utcnow())
    )
    db.session.commit()
    text = "line,name,city,country\n1,Ali Khan,ALMATY,KZ\n2,Иван Петров,Астана,KZ\n"
    path = _csv(tmp_path, text)
    _import(runner, petition, path)
    typo = _import(runner, petition, _csv(tmp_path, text.replace("Астана", "Астна"), "typo.csv"))
    assert typo.output.startswith("sheet 1: this pass differs")
    # Sealed: nothing typed is kept readable, so only the line's number is shown.
    sheet = db.session.scalars(sa.select(PaperSheet)).one()
    assert [d.number for d in paper.differences(sheet)] == [2]
    assert [entry.lines for entry in sheet.passes] == [None, None]
    assert _import(runner, petition, path).output == "sheet 1: the passes agree; 2 lines counted\n"
    rows = _paper_rows(db)
    assert [(r.name, r.city) for r in rows] == [(None, None), (None, None)]
    assert all(r.sealed for r in rows)
    # The keyed hashes still find the repeat of the online signature.
    assert [repeat.line.paper_line for repeat in paper.repeats(petition)] == [1]
    output = tmp_path / "sealed.zip"
    exported = runner.invoke(args=["petitions", "export", petition.slug, "--output", str(output)])
    assert exported.exit_code == 0, exported.output
    with zipfile.ZipFile(output) as archive:
        contents = b"".join(archive.read(name) for name in archive.namelist())
        sealed_rows = archive.read("rows.csv").decode("ascii").splitlines()
    assert "Иван Петров".encode() not in contents
    assert sealed_rows[0].endswith(",leaf,source")
    assert [row.rsplit(",", 1)[1] for row in sealed_rows[1:]] == [
        "online",
        "paper/1/1",
        "paper/1/2",
    ]
    key = load_signing_key(ensure_development_key(tmp_path), None)
    bundle = unseal(output, identity, tmp_path / "open", key, workers=0)
    assert verify_bundle(bundle.path).valid
    with zipfile.ZipFile(bundle.path) as archive:
        table = list(csv.reader(io.StringIO(archive.read("signatures.csv").decode("utf-8-sig"))))
        manifest = json.loads(archive.read("manifest.json"))
    assert [(row[1], row[-1]) for row in table[1:]] == [
        ("Ali Khan", "online"),
        ("Ali Khan", "paper, sheet 1, line 1"),
        ("Иван Петров", "paper, sheet 1, line 2"),
    ]
    assert (manifest["counts"]["online"], manifest["counts"]["paper"]) == (1, 2)


def test_the_paper_leaf_command_in_the_receipt_guide_gives_the_leaf(tmp_path):
    doc = Path(__file__).resolve().parents[2] / "docs" / "verifying-a-receipt.md"
    text = doc.read_text(encoding="utf-8")
    [command] = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    printed = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert printed[:64] == paper_leaf("k3Rz8QeVw2Jm0TnYb5LqXa", "K7QD-2MXA", 3).hex()


def _sheets_csv(petition, *sheets: tuple[int, list[tuple[str, str, str]]]) -> str:
    rows = ["sheet,check_code,line,name,city,country"]
    for number, lines in sheets:
        code = _code(petition, number)
        for line, (name, city, country) in enumerate(lines, start=1):
            rows.append(f"{number},{code},{line},{name},{city},{country}")
    return "\n".join(rows) + "\n"


def test_a_file_of_many_sheets_is_one_pass_of_each_and_counts_them_the_second_time(
    runner, db, make_petition, tmp_path
):
    petition = make_petition()
    lines = [(KAZAKH, "Алматы", "KZ"), ("Иван Петров", "Астана", "RU")]
    path = _csv(tmp_path, _sheets_csv(petition, (4, lines), (5, lines[:1])))
    first = runner.invoke(args=["petitions", "paper-import", petition.slug, str(path)])
    assert first.exit_code == 0, first.output
    assert first.output == (
        "sheet 4: first pass recorded; enter it once more to count it\n"
        "sheet 5: first pass recorded; enter it once more to count it\n"
    )
    second = runner.invoke(args=["petitions", "paper-import", petition.slug, str(path)])
    assert second.output == (
        "sheet 4: the passes agree; 2 lines counted\nsheet 5: the passes agree; 1 lines counted\n"
    )
    assert [(r.paper_sheet, r.paper_line, r.country) for r in _paper_rows(db)] == [
        (4, 1, "KZ"),
        (4, 2, "RU"),
        (5, 1, "KZ"),
    ]
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "paper_passes").order_by(AuditEvent.id)
    ).all()[-1]
    assert event.detail == {"sheets": 2, "lines": 3, "counted": 3}


def test_a_bad_line_on_any_sheet_of_a_file_refuses_every_sheet(runner, db, make_petition, tmp_path):
    petition = make_petition()
    good = [(KAZAKH, "Алматы", "KZ")]
    text = _sheets_csv(petition, (1, good), (2, [*good, ("@evil", "Алматы", "KZ")]))
    path = _csv(tmp_path, text)
    result = runner.invoke(args=["petitions", "paper-import", petition.slug, str(path)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: sheet 2: line 2: name: cannot begin with =, +, - or @\n"
    )
    assert (_count(db, PaperSheet), _count(db, PaperPass), _count(db, AuditEvent)) == (0, 0, 0)
    wrong = text.replace(_code(petition, 1), _code(petition, 3))
    refused = runner.invoke(
        args=["petitions", "paper-import", petition.slug, str(_csv(tmp_path, wrong, "w.csv"))]
    )
    assert refused.exit_code == 1
    assert "sheet 1: the check code is not sheet 1's" in refused.output
    mixed = runner.invoke(
        args=["petitions", "paper-import", petition.slug, str(path), "--sheet", "1"]
    )
    assert mixed.exit_code == 2
    assert "--sheet and --check-code go together" in mixed.output


def test_the_dashboard_takes_a_scan_as_the_browser_sends_it_and_refuses_a_non_image(
    client, db, owned
):
    path = f"/organiser/petitions/{owned.id}/paper/enter"

    def post(scan: bytes, name: str):
        data = {
            "csrf_token": csrf_token(client, path),
            "sheet": "1",
            "check_code": _code(owned, 1),
            "name-1": "Айгерім",
            "city-1": "Алматы",
            "country-1": "KZ",
            "scan": (io.BytesIO(scan), name),
        }
        return client.post(path, data=data, content_type="multipart/form-data")

    refused = post(b"%PDF-1.7 not an image", "sheet.pdf")
    assert refused.status_code == 422
    assert "The scan is not a PNG, JPEG, WebP or TIFF image." in refused.get_data(as_text=True)
    assert _count(db, PaperSheet) == 0
    with pytest.raises(paper.PaperError, match=r"^the scan is larger than 10 MB$"):
        paper.check_scan(b"\x89PNG\r\n\x1a\n" + b"\0" * paper.MAX_SCAN_BYTES)
    accepted = post(SCAN, "sheet.jpg")
    assert accepted.status_code == 303
    assert db.session.scalars(sa.select(PaperSheet.scan_sha256)).one() == (
        hashlib.sha256(SCAN).hexdigest()
    )
    # Without a file chosen, the browser still sends an empty part: no scan, no refusal.
    assert post(b"", "").status_code == 303


def test_a_file_naming_a_counted_sheet_refuses_every_sheet_of_it(
    runner, db, make_petition, tmp_path
):
    petition = make_petition()
    good = [(KAZAKH, "Алматы", "KZ")]
    counted = _csv(tmp_path, _sheets_csv(petition, (2, good)), "counted.csv")
    for _ in range(2):
        assert (
            runner.invoke(args=["petitions", "paper-import", petition.slug, str(counted)]).exit_code
            == 0
        )
    before = (_count(db, PaperSheet), _count(db, PaperPass), len(_paper_rows(db)))
    assert before == (1, 2, 1)
    path = _csv(tmp_path, _sheets_csv(petition, (1, good), (2, good), (3, good)))
    result = runner.invoke(args=["petitions", "paper-import", petition.slug, str(path)])
    assert result.exit_code == 1
    assert result.output == f"Error: {path}: sheet 2: sheet 2 is already counted\n"
    assert (_count(db, PaperSheet), _count(db, PaperPass), len(_paper_rows(db))) == before


def _statements_of_import(runner, db, petition, path: Path) -> int:
    executed: list[str] = []

    def record(connection, cursor, statement, parameters, context, executemany):
        executed.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        result = runner.invoke(args=["petitions", "paper-import", petition.slug, str(path)])
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert result.exit_code == 0, result.output
    return len(executed)


def test_a_file_takes_as_many_statements_for_forty_sheets_as_for_two(
    runner, db, make_petition, tmp_path
):
    lines = [(f"{KAZAKH} {n}", "Алматы", "KZ") for n in range(1, paper.LINES_PER_SHEET + 1)]
    counts = []
    for slug, sheets in (("two-sheets", 2), ("forty-sheets", 40)):
        petition = make_petition(slug=slug)
        text = _sheets_csv(petition, *((number, lines) for number in range(1, sheets + 1)))
        path = _csv(tmp_path, text, f"{slug}.csv")
        first = _statements_of_import(runner, db, petition, path)
        counting = _statements_of_import(runner, db, petition, path)
        counts.append((first, counting))
    assert counts[0] == counts[1]
    assert len(_paper_rows(db)) == 42 * paper.LINES_PER_SHEET


def test_a_sheet_given_twice_to_one_import_is_refused(db, make_petition):
    petition = make_petition()
    lines = [paper.PaperLine(1, KAZAKH, "Алматы", "KZ")]
    typed = paper.TypedSheet(7, _code(petition, 7), lines)
    with pytest.raises(paper.PaperError, match=r"^sheet 7: given twice$"):
        paper.enter_passes(petition, [typed, typed], None, utcnow())
    assert _count(db, PaperSheet) == 0
