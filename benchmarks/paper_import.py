"""Paper sheets entered through the import: N lines, every sheet imported twice (two passes).

Writes the CSVs of N / 20 sheets (20 lines each, Kazakh, Russian and Latin names), then runs
`flask petitions paper-import SLUG FILE --sheet S --check-code CODE` for every sheet twice, in
process through Click's runner (the command's own code path: reading, checking, hashing,
encrypting, one transaction per pass). The second pass counts each sheet. Prints the time of
both passes, lines per second, and whether the whole stayed under the 10 s the issue asks for.

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


def write_sheets(directory: Path, lines: int) -> list[Path]:
    """Write one CSV per sheet, with LINES_PER_SHEET lines each (the last may be shorter)."""
    paths, per = [], paper.LINES_PER_SHEET
    for sheet in range(1, (lines + per - 1) // per + 1):
        rows = ["line,name,city,country"]
        for line in range(1, min(per, lines - (sheet - 1) * per) + 1):
            n = sheet * per + line
            name = f"{FIRST[n % len(FIRST)]} {LAST[n % len(LAST)]} {n}"
            rows.append(f"{line},{name},{CITIES[n % len(CITIES)]},KZ")
        path = directory / f"sheet-{sheet}.csv"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def run_pass(runner, slug: str, public_id: str, paths: list[Path]) -> float:
    """Import every sheet once; return the seconds it took."""
    started = time.perf_counter()
    for sheet, path in enumerate(paths, start=1):
        code = paper.check_code(public_id, sheet)
        args = ["petitions", "paper-import", slug, str(path), "--sheet", str(sheet)]
        result = runner.invoke(args=[*args, "--check-code", code])
        if result.exit_code != 0:
            raise SystemExit(f"sheet {sheet}: {result.output}")
    return time.perf_counter() - started


def main() -> None:
    lines, url, workdir = arguments(10_000)
    app, petition_id = demo_app(url, workdir)
    paths = write_sheets(Path(workdir), lines)
    with app.app_context():
        petition = db.session.get(Petition, petition_id)
        slug, public_id = petition.slug, petition.public_id
        runner = app.test_cli_runner()
        first = run_pass(runner, slug, public_id, paths)
        second = run_pass(runner, slug, public_id, paths)
        counted = db.session.scalar(
            sa.select(sa.func.count()).where(Signature.paper_sheet.is_not(None))
        )
    if counted != lines:
        raise SystemExit(f"{counted} lines counted, not {lines}")
    total = first + second
    verdict = "under" if total < BUDGET_SECONDS else "OVER"
    print(
        f"{lines} lines on {len(paths)} sheets, {url.split(':', 1)[0]}: first pass {first:.2f} s, "
        f"second pass (counting) {second:.2f} s, both {total:.2f} s "
        f"({2 * lines / total:,.0f} lines a second): {verdict} {BUDGET_SECONDS:.0f} s"
    )
    if total >= BUDGET_SECONDS:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
