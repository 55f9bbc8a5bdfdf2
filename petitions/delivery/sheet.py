"""A paper signature sheet: one A4 page in the petition's language, for an office printer.

Flask-free, like the bundle. The sheet shows what a signer on paper must know before signing
(the petition's title, recipient and summary, and what the recipient will receive, in the
signing form's own words), a sheet number and its check code (services.paper), a QR code of the
petition's public address (segno, drawn here as rectangles: no image, no network), and numbered
lines for a name, a city, a signature and a date.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import segno
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from petitions.delivery.fonts import BOLD, REGULAR, clean_text, draw_text, measure, register_fonts
from petitions.delivery.model import N_, catalogue_of

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 36.0
WIDTH = PAGE_WIDTH - 2 * MARGIN
QR_SIZE = 86.0
#: No., name, city, signature, date.
COLUMNS = (26.0, 168.0, 112.0, 132.0, WIDTH - 438.0)
ROW_HEIGHT = 25.0
#: The signing form's consent, word for word (templates/public/_sign_form.html): a signer on
#: paper agrees to what a signer online agrees to.
CONSENT = (
    "I agree that my name, city, country and the date I sign will be sent to %(recipient)s "
    "with this petition. My email address will not be sent."
)


@dataclass(frozen=True)
class SheetLabels:
    """The words of a sheet in one language; `{…}` fields are filled in."""

    heading: str
    to: str
    consent_heading: str
    consent: str
    sheet: str
    check_code: str
    number: str
    name: str
    city: str
    signature: str
    date: str
    footer: str


ENGLISH = SheetLabels(
    heading=N_("sheet:heading", "Petition signature sheet"),
    to=N_("sheet:to", "To: {recipient}"),
    consent_heading=N_("sheet:consent_heading", "By signing this sheet, each signer declares:"),
    consent=CONSENT,
    sheet=N_("sheet:sheet", "Sheet {number}"),
    check_code=N_("sheet:check_code", "Check code: {code}"),
    number=N_("sheet:number", "No."),
    name=N_("sheet:name", "Surname and name"),
    city=N_("sheet:city", "City"),
    signature=N_("sheet:signature", "Signature"),
    date=N_("sheet:date", "Date"),
    footer=N_(
        "sheet:footer",
        "Sheet {number} · check code {code}. Please return the sheet to the organisers; "
        "each line is entered twice and delivered with the online signatures.",
    ),
)


@functools.cache
def sheet_labels(language: str) -> SheetLabels:
    """Return a sheet's words in a language, from its compiled catalogue."""
    catalogue = catalogue_of(language)
    words = {}
    for name in SheetLabels.__dataclass_fields__:
        english = getattr(ENGLISH, name)
        # The consent is the signing form's message, which has no context of its own.
        words[name] = (
            catalogue.gettext(english)
            if name == "consent"
            else catalogue.pgettext(f"sheet:{name}", english)
        )
    return SheetLabels(**words)


@dataclass(frozen=True)
class SheetInfo:
    """What one printed sheet shows."""

    title: str
    recipient: str
    summary: str
    language: str
    #: The petition's public address, for the QR code and the line under it.
    url: str
    number: int
    code: str
    lines: int


def write_sheets(sheets: Sequence[SheetInfo], path: Path) -> Path:
    """Write one page per sheet into a PDF at `path`."""
    register_fonts()
    canvas = Canvas(
        str(path),
        pagesize=A4,
        pageCompression=1,
        initialFontName=REGULAR,
        initialFontSize=10,
        lang=sheets[0].language if sheets else "en",
    )
    if sheets:
        canvas.setTitle(clean_text(sheets[0].title))
    for sheet in sheets:
        _draw(canvas, sheet, sheet_labels(sheet.language))
        canvas.showPage()
    canvas.save()
    return path


def _lines(text: str, font: str, size: float, width: float, most: int) -> list[str]:
    metrics = measure(font, size)
    lines = metrics.wrap(metrics.chain.shape(clean_text(text)), width)
    if len(lines) > most:
        lines = [*lines[: most - 1], metrics.cell(" ".join(lines[most - 1 :]), width)]
    return lines


def _paragraph(
    canvas: Canvas, text: str, top: float, *, font: str, size: float, width: float, most: int
) -> float:
    """Draw wrapped text from `top` down; return the y under its last line."""
    y = top
    for line in _lines(text, font, size, width, most):
        y -= size * 1.3
        draw_text(canvas, MARGIN, y, line, font, size)
    return y


def _draw(canvas: Canvas, sheet: SheetInfo, labels: SheetLabels) -> None:
    left = WIDTH - QR_SIZE - 14
    top = PAGE_HEIGHT - MARGIN
    draw_text(canvas, MARGIN, top - 9, labels.heading, REGULAR, 9)
    y = _paragraph(canvas, sheet.title, top - 12, font=BOLD, size=14, width=left, most=2)
    to = labels.to.format(recipient=sheet.recipient)
    y = _paragraph(canvas, to, y - 2, font=REGULAR, size=10, width=left, most=2)
    y = _paragraph(canvas, sheet.summary, y - 4, font=REGULAR, size=9, width=left, most=4)
    _draw_corner(canvas, sheet, labels, top)
    y = min(y, top - QR_SIZE - 40) - 8
    y = _paragraph(canvas, labels.consent_heading, y, font=BOLD, size=9, width=WIDTH, most=1)
    consent = labels.consent % {"recipient": sheet.recipient}
    y = _paragraph(canvas, consent, y, font=REGULAR, size=9, width=WIDTH, most=3)
    _draw_table(canvas, labels, y - 14, sheet.lines)
    footer = labels.footer.format(number=sheet.number, code=sheet.code)
    _paragraph(canvas, footer, MARGIN + 22, font=REGULAR, size=7.5, width=WIDTH, most=2)


def _draw_corner(canvas: Canvas, sheet: SheetInfo, labels: SheetLabels, top: float) -> None:
    """Draw the QR code, the address, the sheet's number and its check code, top right."""
    x = MARGIN + WIDTH - QR_SIZE
    _draw_qr(canvas, sheet.url, x, top - QR_SIZE, QR_SIZE)
    small = measure(REGULAR, 6.5)
    url = small.cell(sheet.url, WIDTH / 2)
    draw_text(canvas, MARGIN + WIDTH - small.width(url), top - QR_SIZE - 9, url, REGULAR, 6.5)
    for offset, text, face, size in (
        (22, labels.sheet.format(number=sheet.number), BOLD, 11),
        (35, labels.check_code.format(code=sheet.code), BOLD, 9),
    ):
        width = measure(face, size).width(text)
        draw_text(canvas, MARGIN + WIDTH - width, top - QR_SIZE - offset, text, face, size)


def _draw_qr(canvas: Canvas, url: str, x: float, y: float, size: float) -> None:
    """Draw a QR code of `url` as black squares, with its quiet zone, into a size x size box."""
    code = segno.make(url, error="m", micro=False)
    matrix = code.matrix
    modules = len(matrix) + 8  # four modules of quiet zone each side
    unit = size / modules
    canvas.saveState()
    canvas.setFillColorRGB(0, 0, 0)
    for row, cells in enumerate(matrix):
        for column, dark in enumerate(cells):
            if dark:
                canvas.rect(
                    x + (column + 4) * unit,
                    y + size - (row + 5) * unit,
                    unit,
                    unit,
                    stroke=0,
                    fill=1,
                )
    canvas.restoreState()


def _draw_table(canvas: Canvas, labels: SheetLabels, top: float, lines: int) -> None:
    headings = (labels.number, labels.name, labels.city, labels.signature, labels.date)
    xs = [MARGIN + sum(COLUMNS[:i]) for i in range(len(COLUMNS) + 1)]
    bold = measure(BOLD, 8.5)
    for x, width, heading in zip(xs, COLUMNS, headings, strict=False):
        draw_text(canvas, x + 3, top - 12, bold.cell(heading, width - 6), BOLD, 8.5)
    bottom = top - 17 - lines * ROW_HEIGHT
    canvas.saveState()
    canvas.setLineWidth(0.6)
    canvas.setStrokeColorRGB(0.35, 0.35, 0.35)
    for row in range(lines + 1):
        y = top - 17 - row * ROW_HEIGHT
        canvas.line(MARGIN, y, MARGIN + WIDTH, y)
    canvas.line(MARGIN, top, MARGIN + WIDTH, top)
    for x in xs:
        canvas.line(x, top, x, bottom)
    canvas.restoreState()
    for row in range(lines):
        y = top - 17 - (row + 1) * ROW_HEIGHT + 8
        draw_text(canvas, MARGIN + 4, y, str(row + 1), REGULAR, 9)
