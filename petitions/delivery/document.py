"""The PDF: a cover letter, the petition's text, a summary with a chart, then the numbered list.

Rows have a fixed height and cells never wrap (long names end in "…"), so the number of pages is
known from the number of signatures before anything is drawn: every page can say "page X of Y",
numbered across all volumes, and a very large list can be drawn as several volumes at once, each
a separate PDF (`petition-vol-01.pdf`, …) with its own canvas, so memory stays flat. Volume 1
starts with the cover letter, the text and the summary; every volume numbers its pages globally.
"""

from __future__ import annotations

import dataclasses
import marshal
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Protocol

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal
from markdown_it import MarkdownIt
from markdown_it.token import Token
from reportlab import rl_config
from reportlab.graphics import renderPDF
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from petitions.delivery.fonts import (
    BOLD,
    REGULAR,
    ColumnText,
    clean_text,
    draw_text,
    measure,
    register_fonts,
    right_to_left,
    visual,
)
from petitions.delivery.model import (
    FOREIGN_KINDS,
    ExportInfo,
    Labels,
    PetitionInfo,
    ReceiptTree,
    Summary,
)

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 42.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
BODY_TOP = PAGE_HEIGHT - 60
BODY_BOTTOM = 52.0

#: The list: fixed-height rows, so pages and volumes can be counted before drawing.
ROWS_PER_PAGE = 50
ROW_SIZE = 8.0
ROW_LEADING = 14.4
LIST_HEADINGS_Y = PAGE_HEIGHT - 66
LIST_FIRST_Y = PAGE_HEIGHT - 84
#: No., name, city, country, date signed (or, for a paper line, its sheet and line).
COLUMN_WIDTHS = (44.0, 166.0, 98.0, 82.0, CONTENT_WIDTH - 390.0)
COLUMN_X = tuple(MARGIN + sum(COLUMN_WIDTHS[:i]) for i in range(len(COLUMN_WIDTHS)))
CELL_PADDING = 6.0

#: PDF colour operators: grey text for the running header and footer, light grey rules.
GREY_TEXT = "0.333 0.333 0.333 rg"
RULE_GREY = "0.733 0.733 0.733 RG"
BAR = colors.HexColor("#3d6a9e")
DEFAULT_ROWS_PER_VOLUME = 100_000

#: One list row as the renderer receives it: number, name, city, country code and the local
#: time of signing as "YYYY-MM-DD HH:MM"; names and cities are already cleaned.
DisplayRow = tuple[int, str, str, str, str]

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable(["table", "strikethrough"])


def country_names(language: str) -> dict[str, str]:
    """Return ISO alpha-2 code to country name in `language` (CLDR, through Babel)."""
    return {code: name for code, name in Locale(language).territories.items() if len(code) == 2}


@dataclass(frozen=True)
class DocumentPlan:
    """Everything a volume needs to be drawn, in any process, and where its pages fall."""

    petition: PetitionInfo
    export: ExportInfo
    summary: Summary
    labels: Labels
    development: bool
    pages_per_volume: int
    countries: Mapping[str, str]
    front_pages: int = 0
    #: Whether the rows carry receipt leaves: the cover letter then prints their tree's root.
    receipts: bool = False
    #: The tree, known once every row is read; volume 1, which prints it, is drawn last.
    tree: ReceiptTree | None = None

    @property
    def list_pages(self) -> int:
        """Return how many pages the numbered list takes."""
        return math.ceil(self.summary.total / ROWS_PER_PAGE)

    @property
    def total_pages(self) -> int:
        """Return the pages of all volumes together."""
        return self.front_pages + self.list_pages

    @property
    def volumes(self) -> int:
        """Return how many PDF volumes the list is split into."""
        return max(1, math.ceil(self.list_pages / self.pages_per_volume))

    @property
    def rows_per_volume(self) -> int:
        """Return how many rows a full volume holds."""
        return self.pages_per_volume * ROWS_PER_PAGE

    def first_page(self, volume: int) -> int:
        """Return the global number of the first page of `volume` (counting from 1)."""
        if volume == 1:
            return 1
        return self.front_pages + (volume - 1) * self.pages_per_volume + 1

    def list_pages_in(self, volume: int) -> int:
        """Return how many list pages `volume` holds."""
        start = (volume - 1) * self.pages_per_volume
        return max(0, min(self.pages_per_volume, self.list_pages - start))

    def volume_name(self, volume: int) -> str:
        """Return the file name of `volume`: `petition.pdf` when there is only one."""
        if self.volumes == 1:
            return "petition.pdf"
        return f"petition-vol-{volume:0{max(2, len(str(self.volumes)))}d}.pdf"


def plan_document(
    petition: PetitionInfo,
    export: ExportInfo,
    summary: Summary,
    labels: Labels,
    *,
    development: bool,
    rows_per_volume: int = DEFAULT_ROWS_PER_VOLUME,
    receipts: bool = False,
) -> DocumentPlan:
    """Lay out the document: count the front pages and split the list into volumes.

    With `receipts`, the cover letter has room for the tree's root, which is not known yet: the
    root takes one line whatever its digits, so the layout does not depend on it.
    """
    plan = DocumentPlan(
        petition=petition,
        export=export,
        summary=summary,
        labels=labels,
        development=development,
        pages_per_volume=max(1, rows_per_volume // ROWS_PER_PAGE),
        countries=country_names(petition.language),
        receipts=receipts,
    )
    return dataclasses.replace(plan, front_pages=len(front_matter(plan)))


# The front matter: a small flow of fixed-height items, paginated by hand so that its page count
# is known before the volumes are drawn.


class Item(Protocol):
    """Something of fixed height in the front matter's flow."""

    height: float
    space_before: float
    keep_with_next: bool

    def draw(self, canvas: Canvas, top: float) -> None:
        """Draw the item with its top at `top`."""


@dataclass
class Line:
    """One line of text; `x` is measured from the left margin."""

    text: str
    font: str = REGULAR
    size: float = 10.0
    height: float = 14.0
    x: float = 0.0
    align: str = "left"
    space_before: float = 0.0
    keep_with_next: bool = False

    def draw(self, canvas: Canvas, top: float) -> None:
        """Draw the line with its top at `top`."""
        x = MARGIN + self.x
        if self.align == "right":
            x = MARGIN + CONTENT_WIDTH - measure(self.font, self.size).width(self.text)
        draw_text(canvas, x, top - self.size, self.text, self.font, self.size)


@dataclass
class Cells:
    """A table row: (text, x, right-aligned) cells in one font."""

    cells: Sequence[tuple[str, float, bool]]
    font: str = REGULAR
    size: float = 9.0
    height: float = 13.0
    space_before: float = 0.0
    keep_with_next: bool = False

    def draw(self, canvas: Canvas, top: float) -> None:
        """Draw the cells with their top at `top`."""
        metrics = measure(self.font, self.size)
        for text, x, right in self.cells:
            left = MARGIN + x - (metrics.width(text) if right else 0.0)
            draw_text(canvas, left, top - self.size, text, self.font, self.size)


@dataclass
class Figure:
    """A ReportLab drawing, such as the chart of signatures by day."""

    drawing: Drawing
    space_before: float = 6.0
    keep_with_next: bool = False

    @property
    def height(self) -> float:
        """Return the drawing's height."""
        return float(self.drawing.height)

    def draw(self, canvas: Canvas, top: float) -> None:
        """Draw the figure with its top at `top`."""
        renderPDF.draw(self.drawing, canvas, MARGIN, top - self.height)


PAGE_BREAK = None
Page = list[tuple[Item, float]]


def paginate(items: Sequence[Item | None]) -> list[Page]:
    """Place items on pages top to bottom; None starts a new page."""
    pages: list[Page] = [[]]
    top = BODY_TOP
    for index, item in enumerate(items):
        if item is PAGE_BREAK:
            if pages[-1]:
                pages.append([])
                top = BODY_TOP
            continue
        gap = item.space_before if pages[-1] else 0.0
        following = items[index + 1] if index + 1 < len(items) else None
        extra = following.height if item.keep_with_next and following is not None else 0.0
        if pages[-1] and top - gap - item.height - extra < BODY_BOTTOM:
            pages.append([])
            top, gap = BODY_TOP, 0.0
        pages[-1].append((item, top - gap))
        top -= gap + item.height
    return [page for page in pages if page]


def paragraph(
    text: str,
    *,
    font: str = REGULAR,
    size: float = 10.0,
    leading: float = 14.0,
    indent: float = 0.0,
    space_before: float = 7.0,
    prefix: str = "",
) -> list[Item]:
    """Wrap text into lines; a prefix such as "• " hangs in front of the first line.

    Lines are wrapped in logical order, then each is put in visual order; a paragraph whose
    first strong character is right to left is aligned right, as a browser shows it.
    """
    metrics = measure(font, size)
    hang = metrics.width(prefix)
    # Keep hard line breaks; shaping joins Arabic letters before they are measured.
    text = "\n".join(metrics.chain.shape(clean_text(part)) for part in text.split("\n"))
    lines = metrics.wrap(text, CONTENT_WIDTH - indent - hang)
    align = "right" if right_to_left(text) else "left"
    items: list[Item] = []
    for number, line in enumerate(lines):
        first = number == 0
        items.append(
            Line(
                text=visual((prefix + line) if first else line),
                font=font,
                size=size,
                height=leading,
                x=indent if first else indent + hang,
                align=align,
                space_before=space_before if first else 0.0,
            )
        )
    return items


def heading(text: str, size: float = 13.0, space_before: float = 12.0) -> list[Item]:
    """Return a bold heading that stays on the page of what follows it."""
    items = paragraph(text, font=BOLD, size=size, leading=size * 1.4, space_before=space_before)
    items[-1].keep_with_next = True
    return items


def front_matter(plan: DocumentPlan) -> list[Page]:
    """Return the laid-out pages before the list: letter, petition text, summary."""
    items = [
        *cover_letter(plan),
        PAGE_BREAK,
        *petition_text(plan),
        PAGE_BREAK,
        *summary_items(plan),
    ]
    return paginate(items)


def local_moment(plan: DocumentPlan, moment: datetime) -> str:
    """Format a moment as a long date and a time in the petition's language and zone."""
    local = moment.astimezone(plan.petition.zone)
    day = format_date(local.date(), format="long", locale=plan.petition.language)
    return f"{day} {local:%H:%M}"


def count_text(plan: DocumentPlan, count: int) -> str:
    """Format a count with the language's digit grouping."""
    return format_decimal(count, locale=plan.petition.language)


def cover_letter(plan: DocumentPlan) -> list[Item]:
    """Return the letter to the recipient, in the petition's language."""
    labels, petition, export = plan.labels, plan.petition, plan.export
    today = format_date(
        export.generated_at.astimezone(petition.zone).date(),
        format="long",
        locale=petition.language,
    )
    window = labels.window.format(
        opens=local_moment(plan, petition.opens_at),
        closes=local_moment(plan, petition.closes_at),
        timezone=petition.timezone,
    )
    items: list[Item] = [
        Line(labels.date.format(date=today), align="right"),
        Line(labels.final if export.final else labels.interim, font=BOLD, align="right"),
        *addressee_items(plan),
        *applicant_items(plan),
        *paragraph(labels.subject.format(title=petition.title), font=BOLD, space_before=16),
        *paragraph(salutation(plan), space_before=14),
        *paragraph(labels.intro.format(title=petition.title), space_before=6),
        *paragraph(window),
    ]
    if not export.final:
        items += paragraph(labels.still_open, font=BOLD)
    items += paragraph(labels.count.format(count=count_text(plan, plan.summary.total)))
    if plan.summary.paper:
        online, on_paper = plan.summary.online, plan.summary.paper
        items += paragraph(
            labels.paper_count.format(
                online=count_text(plan, online), paper=count_text(plan, on_paper)
            )
        )
    items += paragraph(labels.contents)
    items += answer_items(plan)
    items += paragraph(labels.verification)
    if plan.receipts:
        items += receipts_items(plan)
    if plan.development:
        items += paragraph(labels.development, font=BOLD, space_before=12)
    items += paragraph(labels.closing, space_before=18)
    items += signature_items(plan)
    return items


def addressee_items(plan: DocumentPlan) -> list[Item]:
    """Return the formal line of the recipient's kind, then the recipient as typed."""
    labels, petition = plan.labels, plan.petition
    items: list[Item] = []
    if petition.recipient_kind != "other":
        formal = getattr(labels, f"addressee_{petition.recipient_kind}")
        items += paragraph(formal, font=BOLD, space_before=18)
    items += paragraph(
        labels.to.format(recipient=petition.recipient), space_before=2 if items else 18
    )
    return items


def applicant_items(plan: DocumentPlan) -> list[Item]:
    """Return who files the appeal and how to reach them; the organiser when there is none.

    An interim export may have no applicant yet: it names the organiser, as before.
    """
    labels, applicant = plan.labels, plan.petition.applicant
    if applicant is None:
        return paragraph(labels.sender.format(organiser=plan.petition.organiser), space_before=8)
    first = labels.applicant if applicant.is_person else labels.applicant_organisation
    items = paragraph(first.format(applicant=applicant.full_name), font=BOLD, space_before=8)
    if applicant.id_number:
        number = labels.iin if applicant.is_person else labels.bin
        items += paragraph(number.format(number=applicant.id_number), space_before=0)
    if not applicant.is_person and applicant.signatory:
        items += paragraph(labels.signatory.format(signatory=applicant.signatory), space_before=0)
    items += paragraph(labels.postal_address.format(address=applicant.address), space_before=0)
    items += paragraph(labels.email.format(email=applicant.email), space_before=0)
    if applicant.phone:
        items += paragraph(labels.phone.format(phone=applicant.phone), space_before=0)
    if applicant.demonstration:
        items += paragraph(labels.demonstration, font=BOLD, space_before=4)
    return items


def salutation(plan: DocumentPlan) -> str:
    """Return the letter's salutation for the recipient's kind."""
    return getattr(plan.labels, f"salutation_{plan.petition.recipient_kind}")


def answer_items(plan: DocumentPlan) -> list[Item]:
    """Ask for the answer at the applicant's address; say which languages it may come in."""
    labels, petition = plan.labels, plan.petition
    if petition.applicant is None:
        return []
    applicant = petition.applicant
    items = paragraph(labels.answer.format(address=applicant.address, email=applicant.email))
    if petition.recipient_kind not in FOREIGN_KINDS:
        items += paragraph(labels.answer_language)
    return items


def signature_items(plan: DocumentPlan) -> list[Item]:
    """Return whoever signs the letter: the applicant (for an organisation, its signatory)."""
    petition = plan.petition
    applicant = petition.applicant
    if applicant is None:
        return paragraph(petition.organiser, space_before=4)
    if applicant.is_person:
        return paragraph(applicant.full_name, space_before=4)
    items = paragraph(applicant.signatory, space_before=4) if applicant.signatory else []
    return items + paragraph(applicant.name, space_before=0 if items else 4)


#: Stands for the root while the front matter is only being counted.
_ROOT_PLACEHOLDER = "0" * 64


def root_text(root_hex: str) -> str:
    """Return a root as two groups of 32 hex digits, which fit the line and read back whole."""
    return f"{root_hex[:32]} {root_hex[32:]}"


def receipts_items(plan: DocumentPlan) -> list[Item]:
    """Return the receipts' paragraph and the line of the tree's root under it.

    The size printed is the summary's total, which the rows are checked against, so that the
    paragraph wraps the same before and after the tree is known.
    """
    labels = plan.labels
    root = plan.tree.root_hex if plan.tree is not None else _ROOT_PLACEHOLDER
    items = paragraph(labels.receipts.format(count=count_text(plan, plan.summary.total)))
    items[-1].keep_with_next = True
    return [*items, Line(root_text(root), height=14.0)]


def petition_text(plan: DocumentPlan) -> list[Item]:
    """Return the petition's title and its Markdown body as headings and paragraphs."""
    return [
        *heading(plan.labels.text_heading, size=14, space_before=0),
        *paragraph(plan.petition.title, font=BOLD, size=12, leading=16, space_before=6),
        *markdown_items(plan.petition.body),
    ]


# Markdown: block structure only. Emphasis is dropped, links keep their address in brackets,
# raw HTML is shown as the text it is.


@dataclass
class _Context:
    items: list[Item] = dataclasses.field(default_factory=list)
    lists: list[list[int]] = dataclasses.field(default_factory=list)  # [ordered?, next number]
    quote: int = 0
    heading: int = 0
    prefix: str = ""
    row: list[str] | None = None


def markdown_items(source: str) -> list[Item]:
    """Turn Markdown into plain paragraphs, list items, headings and preformatted lines."""
    context = _Context()
    for token in _markdown.parse(source or ""):
        _markdown_token(context, token)
    return context.items


def _markdown_token(context: _Context, token: Token) -> None:
    kind = token.type
    if kind in ("bullet_list_open", "ordered_list_open"):
        start = int(token.attrGet("start") or 1)
        context.lists.append([kind == "ordered_list_open", start])
    elif kind in ("bullet_list_close", "ordered_list_close"):
        context.lists.pop()
    elif kind == "list_item_open":
        ordered, number = context.lists[-1]
        context.prefix = f"{number}. " if ordered else "• "
        context.lists[-1][1] += 1
    elif kind in ("blockquote_open", "blockquote_close"):
        context.quote += 1 if kind == "blockquote_open" else -1
    elif kind == "heading_open":
        context.heading = int(token.tag[1:])
    elif kind == "tr_open":
        context.row = []
    elif kind == "tr_close":
        context.items += paragraph(" | ".join(context.row or []), space_before=2)
        context.row = None
    elif kind == "inline":
        _markdown_inline(context, token)
    elif kind in ("fence", "code_block"):
        _markdown_code(context, token.content)


def _markdown_inline(context: _Context, token: Token) -> None:
    text = _inline_text(token.children or [])
    if context.row is not None:
        context.row.append(text.replace("\n", " "))
        return
    indent = 16.0 * (len(context.lists) - 1 if context.lists else 0) + 16.0 * context.quote
    if context.heading:
        size = max(10.0, 14.0 - context.heading)
        context.items += heading(text, size=size)
        context.heading = 0
        return
    context.items += paragraph(text, indent=indent, prefix=context.prefix)
    context.prefix = ""


def _inline_text(children: Sequence[Token]) -> str:
    parts: list[str] = []
    links: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "link_open":
            links.append(str(child.attrGet("href") or ""))
        elif child.type == "link_close" and links:
            address = links.pop()
            if address and parts[-1:] != [address]:
                parts.append(f" ({address})")
    return "".join(parts)


def _markdown_code(context: _Context, content: str) -> None:
    for number, line in enumerate(content.rstrip("\n").split("\n")):
        context.items += paragraph(
            line, size=9, leading=12, indent=16, space_before=7 if number == 0 else 0
        )


# The summary: totals, a chart of signatures per day and a table of countries.


def summary_items(plan: DocumentPlan) -> list[Item]:
    """Return the summary: the total, the chart by day and the table by country."""
    labels, summary = plan.labels, plan.summary
    items: list[Item] = [
        *heading(labels.summary_heading, size=14, space_before=0),
        *paragraph(labels.total.format(count=count_text(plan, summary.total)), space_before=6),
    ]
    if summary.total == 0:
        return items + paragraph(labels.no_signatures)
    if summary.by_day:
        items += heading(labels.by_day.format(timezone=plan.petition.timezone), size=11)
        items.append(Figure(day_chart(summary.by_day)))
    items += heading(labels.by_country, size=11)
    items += country_table(plan)
    return items


def country_table(plan: DocumentPlan) -> list[Item]:
    """Return the table rows of signatures by country, the largest first."""
    labels = plan.labels
    head = Cells(
        [
            (labels.country, 0, False),
            (labels.country_code, 300, False),
            (labels.signatures, 420, True),
        ],
        font=BOLD,
        space_before=4,
        keep_with_next=True,
    )
    cell = measure(REGULAR, 9).cell
    ordered = sorted(plan.summary.by_country.items(), key=lambda pair: (-pair[1], pair[0]))
    rows: list[Item] = [head]
    for code, count in ordered:
        name = cell(clean_text(plan.countries.get(code, code)), 290)
        cells = [
            (name, 0, False),
            (cell(clean_text(code), 100), 300, False),
            (count_text(plan, count), 420, True),
        ]
        rows.append(Cells(cells))
    return rows


def day_chart(by_day: Mapping[date, int]) -> Drawing:
    """Draw the signatures per day as bars, every day of the range, empty days included."""
    first, last = min(by_day), max(by_day)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    values = [by_day.get(day, 0) for day in days]
    drawing = Drawing(CONTENT_WIDTH, 170, initialFontName=REGULAR, initialFontSize=7)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 44, 28, CONTENT_WIDTH - 54, 130
    chart.data = [values]
    chart.bars[0].fillColor = BAR
    chart.bars[0].strokeColor = None
    _scale_axis(chart, max(values))
    stride = math.ceil(len(days) / 12)
    chart.categoryAxis.categoryNames = [
        f"{day:%m-%d}" if index % stride == 0 else "" for index, day in enumerate(days)
    ]
    for labels in (chart.categoryAxis.labels, chart.valueAxis.labels):
        labels.fontName, labels.fontSize = REGULAR, 7
    chart.categoryAxis.labels.boxAnchor = "n"
    drawing.add(chart)
    return drawing


def _scale_axis(chart: VerticalBarChart, highest: int) -> None:
    """Use whole-number steps of 1, 2 or 5 times a power of ten, about five of them."""
    rough = max(1, highest) / 5
    power = 10 ** math.floor(math.log10(rough))
    step = next((m * power for m in (1, 2, 5, 10) if m * power >= rough), 10 * power)
    step = max(1, int(step))
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueStep = step
    chart.valueAxis.valueMax = max(step, math.ceil(highest / step) * step)
    chart.valueAxis.labelTextFormat = lambda value: f"{int(value):,}".replace(",", " ")


# Drawing the volumes. What is the same on every page (headings, rules, title, bundle) is
# encoded once per volume and added as ready operators; only the page number changes.


def _grey(operators: str) -> str:
    return f"q {GREY_TEXT} {operators} Q"


def _rule(y: float) -> str:
    return f"{MARGIN:.2f} {y:.2f} m {MARGIN + CONTENT_WIDTH:.2f} {y:.2f} l S"


class PageFurniture:
    """The operators every page of one volume carries, built once for the volume."""

    def __init__(self, canvas: Canvas, plan: DocumentPlan, volume: int) -> None:
        self.plan = plan
        self.small = ColumnText(canvas, REGULAR, 7.5, 9.0)
        self.bold = ColumnText(canvas, BOLD, ROW_SIZE, ROW_LEADING)
        self.frame = self._frame(volume)
        self.list_frame = self._list_frame()

    def _frame(self, volume: int) -> str:
        plan, labels, small = self.plan, self.plan.labels, self.small
        metrics = measure(REGULAR, 7.5)
        kind = labels.final if plan.export.final else labels.interim
        title = metrics.cell(
            clean_text(plan.petition.title), CONTENT_WIDTH - metrics.width(kind) - 16
        )
        right = MARGIN + CONTENT_WIDTH
        texts = [
            small.line(MARGIN, PAGE_HEIGHT - 32, title),
            small.line(right - metrics.width(kind), PAGE_HEIGHT - 32, kind),
            small.line(MARGIN, 28, labels.bundle.format(identifier=plan.export.identifier)),
        ]
        if plan.volumes > 1:
            text = labels.volume.format(volume=volume, volumes=plan.volumes)
            texts.append(small.line((PAGE_WIDTH - metrics.width(text)) / 2, 28, text))
        rules = f"{RULE_GREY} 0.5 w {_rule(PAGE_HEIGHT - 38)} {_rule(40)}"
        return _grey(" ".join(texts) + " " + rules)

    def _list_frame(self) -> str:
        labels, fit = self.plan.labels, measure(BOLD, ROW_SIZE).cell
        titles = (labels.number, labels.name, labels.city, labels.country, labels.signed_at)
        headings = [
            self.bold.line(x, LIST_HEADINGS_Y, fit(title, width - CELL_PADDING))
            for x, width, title in zip(COLUMN_X, COLUMN_WIDTHS, titles, strict=True)
        ]
        first = LIST_FIRST_Y + ROW_LEADING - 4
        rules = [_rule(first - group * ROW_LEADING) for group in range(0, ROWS_PER_PAGE + 1, 5)]
        return "\n".join([*headings, f"q {RULE_GREY} 0.4 w", *rules, "Q"])

    def page_number(self, page: int) -> str:
        """Return the operators of "page X of Y", right-aligned in the footer."""
        text = self.plan.labels.page.format(page=page, pages=self.plan.total_pages)
        x = MARGIN + CONTENT_WIDTH - measure(REGULAR, 7.5).width(text)
        return _grey(self.small.line(x, 28, text))


class _Countries(dict[str, str]):
    """Country code to its name cut to the column, computed once per code."""

    def __init__(self, names: Mapping[str, str]) -> None:
        super().__init__()
        self._names = names
        self._fit = measure(REGULAR, ROW_SIZE).cell

    def __missing__(self, code: str) -> str:
        name = self._fit(clean_text(self._names.get(code, code)), COLUMN_WIDTHS[3] - CELL_PADDING)
        self[code] = name
        return name


def list_columns(
    rows: Sequence[DisplayRow], countries: _Countries
) -> tuple[list[str], list[str], list[str], list[str], list[str]]:
    """Return the five columns of a page of rows, each cell cut to fit its column."""
    fit = measure(REGULAR, ROW_SIZE).cell
    name_width = COLUMN_WIDTHS[1] - CELL_PADDING
    city_width = COLUMN_WIDTHS[2] - CELL_PADDING
    return (
        [str(row[0]) for row in rows],
        [fit(row[1], name_width) for row in rows],
        [fit(row[2], city_width) for row in rows],
        [countries[row[3]] for row in rows],
        [row[4] for row in rows],
    )


def list_operators(text: ColumnText, rows: Sequence[DisplayRow], countries: _Countries) -> str:
    """Return the operators that draw up to a page of rows, column by column."""
    columns = list_columns(rows, countries)
    return "\n".join(
        text.column(x, LIST_FIRST_Y, cells, repeated=index >= 2)
        for index, (x, cells) in enumerate(zip(COLUMN_X, columns, strict=True))
    )


@contextmanager
def _plain_streams() -> Iterator[None]:
    # ReportLab wraps compressed streams in ASCII85 by default: a quarter more bytes and time
    # for nothing in a binary file. The switch is global, so it is restored at once.
    previous = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = previous


class VolumeWriter:
    """Draw one volume page by page; call `add_page` per list page, then `close`."""

    def __init__(self, plan: DocumentPlan, volume: int, path: Path) -> None:
        register_fonts()
        self.plan, self.volume, self.path = plan, volume, path
        self.page = plan.first_page(volume)
        self.expected = plan.list_pages_in(volume) + (plan.front_pages if volume == 1 else 0)
        self.drawn = 0
        self._countries = _Countries(plan.countries)
        # Setting the font before the first page leaves no unembedded Helvetica in the file.
        self.canvas = Canvas(
            str(path),
            pagesize=A4,
            pageCompression=1,
            initialFontName=REGULAR,
            initialFontSize=ROW_SIZE,
            lang=plan.petition.language,
        )
        self._text = ColumnText(self.canvas, REGULAR, ROW_SIZE, ROW_LEADING)
        self._furniture = PageFurniture(self.canvas, plan, volume)
        self._describe()
        if volume == 1:
            if plan.receipts and plan.tree is None:
                raise ValueError("the cover letter needs the receipts' tree: draw volume 1 last")
            for page in front_matter(plan):
                self._draw_front_page(page)

    def _describe(self) -> None:
        plan, canvas = self.plan, self.canvas
        canvas.setTitle(clean_text(plan.petition.title))
        canvas.setAuthor(clean_text(plan.petition.organiser))
        canvas.setSubject(plan.labels.bundle.format(identifier=plan.export.identifier))
        canvas.setCreator(f"petitions {plan.export.generator_version}")

    def _draw_front_page(self, page: Page) -> None:
        for item, top in page:
            item.draw(self.canvas, top)
        self._finish_page()

    def add_page(self, rows: Sequence[DisplayRow]) -> None:
        """Draw one list page of at most ROWS_PER_PAGE rows."""
        self.canvas.addLiteral(self._furniture.list_frame)
        self.canvas.addLiteral(list_operators(self._text, rows, self._countries))
        self._finish_page()

    def _finish_page(self) -> None:
        self.canvas.addLiteral(self._furniture.frame)
        self.canvas.addLiteral(self._furniture.page_number(self.page))
        self.canvas.showPage()
        self.page += 1
        self.drawn += 1

    def close(self) -> None:
        """Write the volume; fail if it does not have the pages its numbering promised."""
        if self.drawn != self.expected:
            raise RuntimeError(
                f"{self.plan.volume_name(self.volume)}: drew {self.drawn} pages, "
                f"expected {self.expected}"
            )
        with _plain_streams():
            self.canvas.save()


# Volumes drawn in worker processes read their pages from a spool file the reading process wrote.
# This module is all a worker imports (no signing library), which keeps workers small.


def spool_page(file: IO[bytes], rows: list[DisplayRow]) -> None:
    """Append one page of rows to a spool file."""
    marshal.dump(rows, file)


def draw_spooled_volume(plan: DocumentPlan, volume: int, spool: Path, target: Path) -> Path:
    """Draw a volume from its spooled pages into `target`, then remove the spool."""
    writer = VolumeWriter(plan, volume, target)
    with spool.open("rb") as file:
        while True:
            try:
                rows = marshal.load(file)  # noqa: S302 - our own spool, written moments ago
            except EOFError:
                break
            writer.add_page(rows)
    writer.close()
    spool.unlink()
    return target
