"""Paper sheets entered through the import: N lines, every sheet imported twice (two passes).

Writes one CSV of N / 20 sheets (20 lines each, Kazakh, Russian and Latin names; each row with
its sheet's number and check code), then runs `flask petitions paper-import SLUG FILE` on it
twice, in process through Click's runner (the command's own code path: reading, checking,
hashing, encrypting, one transaction per import). The second import counts every sheet. Prints
the time of both passes, lines per second, whether both stayed under the 10 s asked for, and
how many statements each pass sent to the database.

    .venv/bin/python benchmarks/paper_import.py [lines] [database-url]

Default: 10,000 lines on a fresh SQLite file; for PostgreSQL, pass a URL to an empty database.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from benchmarks.common import arguments, demo_app
from petitions.extensions import db
from petitions.models import Petition, Signature
from petitions.services import paper

BUDGET_SECONDS = 10.0
FIRST = ["Әлия", "Нұрлан", "Айгерім", "Иван", "Ольга", "Dana", "Timur", "Жанар"]
LAST = ["Қасымқызы", "Сейітов", "Петрова", "Ахметов", "Smith", "Үмбетова", "Ким"]
CITIES = ["Алматы", "Астана", "Шымкент", "Қарағанды", "Oral", "Атырау"]


def write_sheets(path: Path, lines: int, public_id: str) -> int:
    """Write one CSV of every sheet (LINES_PER_SHEET lines each, the last may be shorter), each
    row with its sheet's number and check code; return the number of sheets."""
    rows, per = ["sheet,check_code,line,name,city,country"], paper.LINES_PER_SHEET
    sheets = (lines + per - 1) // per
    for sheet in range(1, sheets + 1):
        code = paper.check_code(public_id, sheet)
        for line in range(1, min(per, lines - (sheet - 1) * per) + 1):
            n = sheet * per + line
            name = f"{FIRST[n % len(FIRST)]} {LAST[n % len(LAST)]} {n}"
            rows.append(f"{sheet},{code},{line},{name},{CITIES[n % len(CITIES)]},KZ")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return sheets


def run_pass(runner, slug: str, path: Path) -> tuple[float, int]:
    """Import the file once (one pass of every sheet); return the seconds it took and the
    statements it sent to the database (an executemany counts once)."""
    statements = 0

    def count(*_arguments) -> None:
        nonlocal statements
        statements += 1

    sa.event.listen(db.engine, "before_cursor_execute", count)
    started = time.perf_counter()
    result = runner.invoke(args=["petitions", "paper-import", slug, str(path)])
    seconds = time.perf_counter() - started
    sa.event.remove(db.engine, "before_cursor_execute", count)
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return seconds, statements


def main() -> None:
    lines, url, workdir = arguments(10_000)
    app, petition_id = demo_app(url, workdir)
    path = Path(workdir) / "sheets.csv"
    with app.app_context():
        petition = db.session.get(Petition, petition_id)
        slug = petition.slug
        sheets = write_sheets(path, lines, petition.public_id)
        runner = app.test_cli_runner()
        first, first_statements = run_pass(runner, slug, path)
        second, second_statements = run_pass(runner, slug, path)
        counted = db.session.scalar(
            sa.select(sa.func.count()).where(Signature.paper_sheet.is_not(None))
        )
    if counted != lines:
        raise SystemExit(f"{counted} lines counted, not {lines}")
    total = first + second
    verdict = "under" if total < BUDGET_SECONDS else "OVER"
    print(
        f"{lines} lines on {sheets} sheets, {url.split(':', 1)[0]}: first pass {first:.2f} s, "
        f"second pass (counting) {second:.2f} s, both {total:.2f} s "
        f"({2 * lines / total:,.0f} lines a second): {verdict} {BUDGET_SECONDS:.0f} s; "
        f"{first_statements} and {second_statements} statements"
    )
    if total >= BUDGET_SECONDS:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
