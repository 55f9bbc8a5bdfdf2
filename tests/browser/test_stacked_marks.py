"""A name of stacked combining marks (stored before they were limited) stays inside its row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CSS = Path(__file__).resolve().parents[2] / "static" / "css"
#: 120 characters: a letter under 119 marks, drawn far above and below its line.
STACKED = "Z" + "\u0336\u0334\u0335\u0337\u0338\u0489\u0310" * 17
ROWS = {
    "public list": (
        ["site.css"],
        f'<ul class="recent__list"><li><span class="recent__name">{STACKED}</span> · KZ</li>'
        '<li id="next">Next signer · KZ</li></ul>',
        ".recent__list li",
    ),
    "moderation table": (
        ["site.css", "organiser.css"],
        f'<table class="data-table"><tbody><tr><td>{STACKED}</td><td>Almaty</td></tr>'
        '<tr><td id="next">Next signer</td><td>Almaty</td></tr></tbody></table>',
        ".data-table td",
    ),
}


@pytest.mark.parametrize("where", ROWS)
def test_stacked_marks_are_clipped_to_their_own_row(new_page: Any, where: str) -> None:
    sheets, html, cell = ROWS[where]
    page = new_page()
    page.set_content(f"<!doctype html><html lang='en'><body>{html}</body></html>")
    for sheet in sheets:
        page.add_style_tag(content=(CSS / sheet).read_text(encoding="utf-8"))
    # Marks drawn past a glyph's box are ink, not content: no scroll size shows them, only the
    # box's clipping keeps them off the next row.
    clipped = page.locator(cell).evaluate_all(
        "(cells) => cells.map((e) => getComputedStyle(e).overflow)"
    )
    assert clipped == ["hidden"] * len(clipped) and len(clipped) >= 2
