"""The bundle's PDF, read back by real readers: pdftotext, pdffonts, pdfinfo and qpdf."""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
import unicodedata
from pathlib import Path

import arabic_reshaper
import pytest
from bidi import get_display

from petitions.delivery.document import (
    CELL_PADDING,
    COLUMN_WIDTHS,
    ROW_SIZE,
    DocumentPlan,
    VolumeWriter,
    markdown_items,
    paragraph,
    plan_document,
)
from petitions.delivery.fonts import (
    ELLIPSIS,
    REGULAR,
    chain,
    clean_text,
    measure,
    right_to_left,
)
from petitions.delivery.model import LABELS, Labels
from tests.delivery_fixtures import (
    KAZAKH_APPLICANT,
    KAZAKH_NAME,
    ORGANISATION_APPLICANT,
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
        "applicant": "a",
        "number": "123456789012",
        "address": "p",
        "email": "e",
        "phone": "f",
        "signatory": "s",
        "sheet": "4",
        "line": "5",
        "online": "6",
        "paper": "7",
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


# Every script through the PDF: the fonts that draw it, what pdftotext reads back, the pixels.

#: (name, the font that must draw it). pdftotext gives right-to-left text back in logical order,
#: Arabic as presentation forms: compare after NFKC with the direction marks it adds stripped.
SCRIPTS = {
    "latin": ("Zoë O'Brien-Łukasiewicz", "DejaVuSans"),
    "kazakh": ("әғқңөұүһі ӘҒҚҢӨҰҮҺІ", "DejaVuSans"),
    "arabic": ("محمد بن عبد الله", "DejaVuSans"),
    "persian": ("پرویز گلچین ژاله", "DejaVuSans"),
    "urdu": ("عمران یہ ہے", "NotoSansArabic-Regular"),
    "hebrew": ("דוד בן גוריון", "DejaVuSans"),
    "georgian": ("ნინო ბერიძე", "DejaVuSans"),
    "armenian": ("Արամ Խաչատրյան", "DejaVuSans"),
    "devanagari": ("अमित कुमार", "NotoSansDevanagari-Regular"),
    "chinese": ("王小明", "WenQuanYiMicroHei-0"),
    "japanese_korean_fullwidth": ("やまだ 김민준 ＡＢＣ１２３", "WenQuanYiMicroHei-0"),
    "emoji": ("Emoji 🎉👍", "Symbola"),
}
_DIRECTION_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e"))


def comparable(text: str) -> str:
    """Return text as compared: NFKC, direction marks stripped, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_DIRECTION_MARKS).split())


def fonts_of(path: Path) -> list[str]:
    """Return the base names of the embedded fonts, subset prefix dropped."""
    lines = run("pdffonts", path).stdout.splitlines()[2:]
    for line in lines:
        assert re.search(r"\byes\s+yes\s+yes\b", line), f"not embedded: {line}"
    return [line.split()[0].split("+", 1)[1] for line in lines]


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_is_drawn_with_a_font_that_has_it_and_reads_back(tmp_path, script):
    name, font = SCRIPTS[script]
    path = tmp_path / "p.pdf"
    draw(path, make_rows(2, [name]))
    assert font in fonts_of(path)
    lines = [comparable(line) for line in run("pdftotext", path, "-").stdout.splitlines()]
    assert comparable(name) in lines


def test_latin_and_cyrillic_only_embed_dejavu(kazakh_pdf):
    path, _ = kazakh_pdf
    assert sorted(fonts_of(path)) == ["DejaVuSans", "DejaVuSans-Bold"]


def test_arabic_is_drawn_joined(tmp_path):
    path = tmp_path / "p.pdf"
    draw(path, make_rows(1, ["محمد"]))
    text = run("pdftotext", path, "-").stdout
    # Initial, medial, medial, final forms of meem, hah, meem, dal: joined, not isolated letters.
    assert "\ufee3\ufea4\ufee4\ufeaa" in text
    assert "محمد" not in text


def test_mixed_direction_comes_out_in_the_bidi_algorithms_order(tmp_path):
    path = tmp_path / "p.pdf"
    draw(path, make_rows(1, ["Ali علي 123 בן"]))
    # pdftotext -raw keeps the drawing order of words but gives each right-to-left word back in
    # logical order. The bidi algorithm displays the line as "Ali", "בן", "123", "علي": drawn in
    # logical order it would read "Ali علي 123 בן".
    display = get_display(arabic_reshaper.reshape("Ali علي 123 בן")).split(" ")
    words = [word[::-1] if right_to_left(word) else word for word in display]
    assert [comparable(word) for word in words] == ["Ali", "בן", "123", "علي"]
    raw = [comparable(line) for line in run("pdftotext", "-raw", path, "-").stdout.splitlines()]
    assert "1 Ali בן 123 علي Алматы Қазақстан 2021-09-14 04:00" in raw


def test_a_right_to_left_petition_text_is_aligned_right():
    [line] = paragraph("نص العريضة")
    assert line.align == "right"
    assert line.text == get_display(arabic_reshaper.reshape("نص العريضة"))
    [latin] = paragraph("Petition text")
    assert latin.align == "left"


def test_a_character_no_font_has_is_drawn_as_its_code_point(tmp_path):
    path = tmp_path / "p.pdf"
    draw(path, make_rows(2, ["Private \ue000 use \U0010fffd", "Tag\U000e0041 invisible\U000e0100"]))
    text = run("pdftotext", path, "-").stdout
    assert "Private [U+E000] use [U+10FFFD]" in text
    # Format characters and variation selectors nobody has are invisible: left out, not boxes.
    assert "Tag invisible\n" in text


def test_drawable_keeps_covered_text_and_marks_the_rest():
    regular = chain(REGULAR)
    assert regular.drawable(KAZAKH_NAME) is KAZAKH_NAME
    assert regular.drawable("a\ue000b") == "a[U+E000]b"
    assert regular.runs("Ali 王 🎉!") == [
        ("PetitionsSans", "Ali "),
        ("PetitionsSans-CJK", "王"),
        ("PetitionsSans", " "),
        ("PetitionsSans-Symbols", "🎉"),
        ("PetitionsSans", "!"),
    ]


def _page_image(path: Path, tmp_path: Path, name: str) -> bytes:
    run("pdftoppm", "-f", "4", "-l", "4", "-r", "60", "-gray", path, tmp_path / name)
    [image] = tmp_path.glob(f"{name}*.pgm")
    return image.read_bytes()


@pytest.mark.parametrize(
    "first, second", [("王小明", "李大龙"), ("🎉👍", "😺🌍"), ("अमित", "सुनील")]
)
def test_distinct_glyphs_render_distinct_pixels_not_the_same_box(tmp_path, first, second):
    # Were these drawn as the font's empty box, both pages would be the same image.
    one, two, same = tmp_path / "1.pdf", tmp_path / "2.pdf", tmp_path / "3.pdf"
    draw(one, make_rows(1, [first]))
    draw(two, make_rows(1, [second]))
    draw(same, make_rows(1, [first]))
    assert _page_image(one, tmp_path, "one") == _page_image(same, tmp_path, "same")
    assert _page_image(one, tmp_path, "one") != _page_image(two, tmp_path, "two")


@pytest.mark.parametrize("text", ["الله محمد", "مُحَمَّد", "لا إله", "پرویز گلچین ـ", "Ali علي"])
def test_shaping_with_settings_read_once_joins_as_the_reshaper_does(text):
    regular = chain(REGULAR)
    reference = arabic_reshaper.ArabicReshaper(configuration=regular._reshaping())
    assert regular.shape(text) == reference.reshape(text)
    assert "\u064f" in regular.shape("مُحَمَّد")  # the vowel marks stay


def test_a_list_in_latin_and_cyrillic_never_reads_the_fallback_fonts(tmp_path):
    # In a fresh process: the CJK font alone is about 45 MB, which such a list must not pay.
    script = (
        "import sys; from pathlib import Path\n"
        "from reportlab.pdfbase import pdfmetrics\n"
        "from tests.unit.test_delivery_document import draw\n"
        "from tests.delivery_fixtures import make_rows\n"
        "draw(Path(sys.argv[1]), make_rows(60, ['Әлия Қасымқызы', 'John Smith']))\n"
        "print(sorted(pdfmetrics.getRegisteredFontNames()))\n"
    )
    output = run(sys.executable, "-c", script, tmp_path / "p.pdf").stdout
    assert output.strip() == "['PetitionsSans', 'PetitionsSans-Bold']"


def _letter_image(path: Path, tmp_path: Path, name: str) -> bytes:
    run("pdftoppm", "-f", "1", "-l", "1", "-r", "60", "-gray", path, tmp_path / name)
    [image] = tmp_path.glob(f"{name}*.pgm")
    return image.read_bytes()


def test_the_cover_letter_draws_the_applicant_block(tmp_path):
    person, organisation, other_number, nobody = (
        tmp_path / f"{name}.pdf" for name in ("person", "organisation", "number", "nobody")
    )
    draw(person, make_rows(3))
    draw(organisation, make_rows(3), applicant=ORGANISATION_APPLICANT, recipient_kind="mazhilis")
    draw(
        other_number,
        make_rows(3),
        applicant=dataclasses.replace(KAZAKH_APPLICANT, id_number="123456789013"),
    )
    draw(nobody, make_rows(3), applicant=None)
    assert (
        "Қазақстан Республикасының Президентіне Кімге: Қазақстан Республикасының Президенті "
        "Өтініш беруші: Үмбетова Әлия Қасымқызы ЖСН: 900101400013"
    ) in text_of(person, 1)
    assert "Кімнен: Демо ұйымдастырушы" in text_of(nobody, 1)
    # Drawn, not only written: one changed digit of the IIN changes the page's pixels.
    images = [_letter_image(path, tmp_path, path.stem) for path in (person, organisation)]
    images += [_letter_image(path, tmp_path, path.stem) for path in (other_number, nobody)]
    assert len(set(images)) == 4
