"""Paper sheets: the printed sheet, double entry, the import, repeats, counts and the bundle."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from petitions.models import AuditEvent, PaperPass, PaperSheet, PetitionState, Signature
from petitions.services import paper
from petitions.services.paper import PaperLine, PassResult

KAZAKH = "Әлия Қасымқызы Үмбетова"


def _text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def _code(petition, number: int) -> str:
    return paper.check_code(petition.public_id, number)


def _lines(*rows: tuple[str, str, str]) -> list[PaperLine]:
    return [PaperLine(n, *row) for n, row in enumerate(rows, start=1)]


def _csv(tmp_path: Path, text: str, name: str = "sheet.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _count(db, **where) -> int:
    query = sa.select(sa.func.count()).select_from(Signature)
    for column, value in where.items():
        query = query.where(getattr(Signature, column) == value)
    return db.session.scalar(query)


def _paper_rows(db) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Signature).where(Signature.paper_sheet.is_not(None))
    )


# The sheet.


def test_paper_sheet_command_writes_a_kazakh_sheet_with_its_number_and_code(
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
