"""The bundle's PDF, read back by real readers: pdftotext, pdffonts, pdfinfo and qpdf."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from petitions.delivery.document import (
    CELL_PADDING,
    COLUMN_WIDTHS,
    ROW_SIZE,
    DocumentPlan,
    VolumeWriter,
    markdown_items,
    plan_document,
)
from petitions.delivery.fonts import ELLIPSIS, REGULAR, clean_text, measure
from petitions.delivery.model import LABELS, Labels
from tests.delivery_fixtures import (
    KAZAKH_NAME,
    Row,
    make_export,
    make_petition,
    make_rows,
    run,
    summary_of,
)

DELIVERY = Path(__file__).resolve().parents[2] / "petitions" / "delivery"
OTHER_SCRIPTS = [
    "محمد بن عبد الله",
    "王小明",
    "Emoji 😀🎉 👨‍👩‍👧",
    "Bad\x00Name\x07\x1b[31m",
    "\u202eRTL override",
    "Lone \ud800 surrogate",
    "Z̷̢a̵l̸g̶o̷ combining",
    "Line\nbreak\r\nand\ttab",
    "",
    "W" * 10_000,
]


def draw(
    path: Path, rows: list[Row], *, development: bool = True, **petition: object
) -> DocumentPlan:
    """Draw a one-volume PDF of `rows` (unsigned) and return its plan."""
    info = make_petition(**petition)
    plan = plan_document(
        info, make_export(), summary_of(rows, info), LABELS[info.language], development=development
    )
    writer = VolumeWriter(plan, 1, path)
    for start in range(0, len(rows), 50):
        page = rows[start : start + 50]
        writer.add_page(
            [(n, clean_text(a), clean_text(b), c, f"{d:%Y-%m-%d %H:%M}") for n, a, b, c, d in page]
        )
    writer.close()
    return plan


def text_of(path: Path, *pages: int) -> str:
    """Return the text pdftotext reads, whitespace collapsed."""
    span = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    return " ".join(run("pdftotext", *span, path, "-").stdout.split())


@pytest.fixture(scope="module")
def kazakh_pdf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DocumentPlan]:
    path = tmp_path_factory.mktemp("pdf") / "petition.pdf"
    return path, draw(path, make_rows(120, [KAZAKH_NAME]))


def test_kazakh_name_reads_back_exactly(kazakh_pdf):
    path, _ = kazakh_pdf
    assert KAZAKH_NAME in run("pdftotext", path, "-").stdout


def test_every_font_is_embedded_and_none_is_helvetica(kazakh_pdf):
    path, _ = kazakh_pdf
    fonts = run("pdffonts", path).stdout.splitlines()[2:]
    assert fonts, "the PDF lists no fonts"
    for line in fonts:
        assert "DejaVuSans" in line, line
        assert re.search(r"\byes\s+yes\s+yes\b", line), f"not embedded: {line}"
    assert "Helvetica" not in run("pdffonts", path).stdout


def test_qpdf_finds_no_error(kazakh_pdf):
    path, _ = kazakh_pdf
    assert "No syntax or stream encoding errors" in run("qpdf", "--check", path).stdout


def test_page_count_is_known_before_drawing(kazakh_pdf):
    path, plan = kazakh_pdf
    pages = int(re.search(r"Pages:\s+(\d+)", run("pdfinfo", path).stdout).group(1))
    assert pages == plan.total_pages == plan.front_pages + 3


def test_every_page_carries_title_page_x_of_y_and_bundle(kazakh_pdf):
    path, plan = kazakh_pdf
    for page in range(1, plan.total_pages + 1):
        text = text_of(path, page)
        assert f"{plan.total_pages} беттің {page}-беті" in text
        assert f"Пакет {make_export().identifier}" in text
        assert "Арон Атабекті кешіріңіз" in text
        assert LABELS["kk"].final in text


def test_cover_letter_names_recipient_window_count_and_development_key(kazakh_pdf):
    path, _ = kazakh_pdf
    letter = text_of(path, 1)
    assert "Кімге: Қазақстан Республикасының Президенті" in letter
    assert "Қол жинау кезеңі: 2021 ж. 14 қыркүйек 10:00 – 2021 ж. 19 қыркүйек 10:00" in letter
    assert "Расталған қолдар саны: 120." in letter
    assert "сынақ кілтімен қол қойылған" in letter


def test_cover_letter_of_an_organisation_key_says_nothing_of_development(tmp_path):
    path = tmp_path / "p.pdf"
    draw(path, make_rows(3), development=False)
    assert "сынақ кілтімен" not in text_of(path, 1)


@pytest.mark.parametrize("language", ["ru", "en"])
def test_letter_summary_and_list_speak_the_petition_language(tmp_path, language):
    path = tmp_path / "p.pdf"
    plan = draw(path, make_rows(60), language=language)
    labels = LABELS[language]
    text = text_of(path)
    assert labels.summary_heading in text
    assert {"ru": "Казахстан", "en": "Kazakhstan"}[language] in text
    assert labels.page.format(page=1, pages=plan.total_pages) in text
    assert labels.signed_at in text


def test_interim_export_is_marked_on_every_page(tmp_path):
    path = tmp_path / "p.pdf"
    info = make_petition()
    rows = make_rows(60)
    plan = plan_document(
        info, make_export(final=False), summary_of(rows, info), LABELS["kk"], development=True
    )
    writer = VolumeWriter(plan, 1, path)
    writer.add_page([(n, a, b, c, "2021-09-14 10:00") for n, a, b, c, _ in rows[:50]])
    writer.add_page([(n, a, b, c, "2021-09-14 10:00") for n, a, b, c, _ in rows[50:]])
    writer.close()
    for page in range(1, plan.total_pages + 1):
        assert LABELS["kk"].interim in text_of(path, page)


def test_names_in_any_script_never_break_the_pdf(tmp_path):
    path = tmp_path / "p.pdf"
    rows = make_rows(len(OTHER_SCRIPTS) + 2, [KAZAKH_NAME, *OTHER_SCRIPTS])
    draw(path, rows)
    assert "No syntax or stream encoding errors" in run("qpdf", "--check", path).stdout
    text = run("pdftotext", path, "-").stdout
    assert KAZAKH_NAME in text
    # The override reverses the line, as a browser shows it; the control itself is not drawn.
    assert "edirrevo LTR" in text
    assert "\u202e" not in text
    assert "Line break and tab" in text
    # Every row is there.
    assert all(f"\n{number}\n" in text for number in range(1, len(rows) + 1))


def test_long_names_are_cut_to_one_line_with_an_ellipsis():
    fit = measure(REGULAR, ROW_SIZE)
    width = COLUMN_WIDTHS[1] - CELL_PADDING
    for name in ("Ш" * 500, "i" * 5000, KAZAKH_NAME * 20, "\u0301" * 1000 + "x"):
        cut = fit.fit(name, width)
        assert fit.width(cut) <= width
        assert cut.endswith(ELLIPSIS)
        assert "\n" not in cut
    assert fit.fit(KAZAKH_NAME, width) == KAZAKH_NAME


def test_clean_text_replaces_controls_and_lone_surrogates():
    assert clean_text("Әлия\tҚасымқызы\r\n") == "Әлия Қасымқызы  "
    assert clean_text("a\x00b\x7fc\ud800") == "a\ufffdb\ufffdc\ufffd"
    assert clean_text("\u00a0no-break\u200dzwj") == "\u00a0no-break\u200dzwj"
    clean_text("x\udfff").encode("utf-8")  # encodable once cleaned


def test_markdown_becomes_headings_paragraphs_and_list_items():
    source = (
        "# Өтініш\n\nБіз **сұраймыз** [осы](https://example.org).\n\n- бір\n- екі\n\n"
        "1. first\n2. second\n\n> quoted\n\n```\ncode <b>\n```\n\n<script>x</script>"
    )
    texts = [item.text for item in markdown_items(source)]
    assert texts[0] == "Өтініш"
    assert "Біз сұраймыз осы (https://example.org)." in texts
    assert [t for t in texts if t[:2] in ("• ", "1.", "2.")] == [
        "• бір",
        "• екі",
        "1. first",
        "2. second",
    ]
    assert "quoted" in texts
    assert "code <b>" in texts
    assert "<script>x</script>" in texts  # shown as text, never interpreted


def test_every_label_set_is_complete_and_fills_in():
    fields = {
        "page": 1,
        "pages": 2,
        "identifier": "x",
        "volume": 1,
        "volumes": 2,
        "recipient": "r",
        "organiser": "o",
        "date": "d",
        "title": "t",
        "opens": "a",
        "closes": "b",
        "timezone": "z",
        "count": "3",
    }
    for language in ("kk", "ru", "en"):
        labels = LABELS[language]
        for name in Labels.__dataclass_fields__:
            assert getattr(labels, name).format(**fields), (language, name)


def test_delivery_library_imports_neither_flask_nor_the_database():
    forbidden = ("flask", "petitions.models", "petitions.extensions", "sqlalchemy", "petitions.cli")
    for module in DELIVERY.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(forbidden), f"{module.name} imports {name}"
