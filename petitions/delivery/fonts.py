"""The embedded font (DejaVu Sans, shipped in static/fonts) and text that always fits it.

Every text the PDF shows goes through `clean_text`, so that a control character in a name cannot
break a line or the export; characters the font lacks still export and show as its empty box.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONT_DIR = Path(__file__).resolve().parents[2] / "static" / "fonts"
REGULAR = "PetitionsSans"
BOLD = "PetitionsSans-Bold"
_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}

ELLIPSIS = "…"
#: A longer cell is cut before measuring: nothing that long fits any column.
_MAX_MEASURED = 400

#: C0/C1 controls, line and paragraph separators, and lone surrogates (which cannot even be
#: encoded as UTF-8). Whitespace among them becomes a space, the rest U+FFFD.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SPACES = frozenset("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")


def register_fonts() -> None:
    """Register the regular and bold faces with ReportLab, once per process."""
    registered = set(pdfmetrics.getRegisteredFontNames())
    for name, filename in _FILES.items():
        if name not in registered:
            # asciiReadable: printable ASCII keeps its own codes; ColumnText relies on it.
            font = TTFont(name, str(FONT_DIR / filename), asciiReadable=True)
            pdfmetrics.registerFont(font)


def _replacement(match: re.Match[str]) -> str:
    return " " if match.group() in _SPACES else "\ufffd"


def clean_text(text: str) -> str:
    """Replace control characters and lone surrogates so the text can be drawn and encoded."""
    if text.isprintable():
        return text
    return _UNSAFE.sub(_replacement, text)


class _Widths(dict[str, float]):
    """Glyph advance by character; a character the font lacks gets the default width."""

    def __init__(self, by_code: dict[int, float], default: float) -> None:
        super().__init__((chr(code), width) for code, width in by_code.items())
        self.default = default

    def __missing__(self, char: str) -> float:
        return self.default


class Measure:
    """String widths and fitting for one font at one size, faster than ReportLab's own."""

    def __init__(self, font_name: str, size: float) -> None:
        register_fonts()
        face = pdfmetrics.getFont(font_name).face
        self._widths = _Widths(face.charWidths, face.defaultWidth)
        self._scale = size / 1000
        self.ellipsis_width = self.width(ELLIPSIS)

    def width(self, text: str) -> float:
        """Return the width of `text` in points."""
        return sum(map(self._widths.__getitem__, text)) * self._scale

    def fit(self, text: str, width: float) -> str:
        """Return `text`, or its longest prefix that fits `width` with an ellipsis after it."""
        if len(text) > _MAX_MEASURED:
            text = text[:_MAX_MEASURED]
        elif self.width(text) <= width:
            return text
        room = width - self.ellipsis_width
        low, high = 0, len(text)
        while low < high:  # the longest prefix no wider than `room`
            middle = (low + high + 1) // 2
            if self.width(text[:middle]) <= room:
                low = middle
            else:
                high = middle - 1
        return text[:low].rstrip() + ELLIPSIS

    def wrap(self, text: str, width: float) -> list[str]:
        """Break `text` into lines no wider than `width`; newlines always break."""
        lines: list[str] = []
        for paragraph in text.split("\n"):
            lines.extend(self._wrap_paragraph(paragraph, width))
        return lines

    def _wrap_paragraph(self, paragraph: str, width: float) -> list[str]:
        lines: list[str] = []
        current = ""
        for word in filter(None, paragraph.split(" ")):  # not split(): no-break spaces hold
            candidate = f"{current} {word}" if current else word
            if self.width(candidate) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = word
            while (head := self._longest_prefix(current, width)) < len(current):
                lines.append(current[:head])  # a word wider than the line is cut
                current = current[head:]
        lines.append(current)
        return lines

    def _longest_prefix(self, text: str, width: float) -> int:
        total = 0.0
        for index, char in enumerate(text):
            total += self._widths[char] * self._scale
            if total > width:
                return max(index, 1)
        return len(text)


@functools.cache
def measure(font_name: str, size: float) -> Measure:
    """Return the shared `Measure` for a font and size."""
    return Measure(font_name, size)


class ColumnText:
    """Encode one-line texts for one canvas and font as ready PDF operators, fast.

    ReportLab's text objects pass every line through several calls that re-encode and re-escape
    it; at a million rows that is most of the export's time. This writes the operators itself:
    the font's own subsetting (`splitString`) assigns the codes, so the embedded subsets and their
    ToUnicode maps stay ReportLab's and `pdftotext` reads the names back exactly. Codes it has
    seen are remembered per subset, so a text whose characters are all known is encoded by one
    `str.translate`; hex strings need no escaping; repeated texts are encoded once.
    """

    _CACHE_LIMIT = 50_000

    def __init__(self, canvas: Canvas, font_name: str, size: float, leading: float) -> None:
        register_fonts()
        self.font = pdfmetrics.getFont(font_name)
        # Subset assignments live per document; ReportLab's own text objects use the same.
        self.doc = canvas._doc
        self.size, self.leading = size, leading
        self.selects: dict[int, str] = {}
        self.cache: dict[str, tuple[tuple[int, str], ...]] = {}
        # Printable ASCII keeps its own codes in subset 0 (asciiReadable fonts).
        self.known = set(map(chr, range(32, 127)))
        self.codes = {code: code for code in range(32, 127)}

    def _pieces(self, text: str) -> tuple[tuple[int, str], ...]:
        if self.known.issuperset(text):
            return ((0, f"<{text.translate(self.codes).encode('latin-1').hex()}> Tj"),)
        pieces = self.font.splitString(text, self.doc)
        self._learn(text, pieces)
        return tuple((subset, f"<{data.hex()}> Tj") for subset, data in pieces)

    def _learn(self, text: str, pieces: list[tuple[int, bytes]]) -> None:
        # One code per character, in order (no-break space is drawn as a space, code 32).
        codes = [(subset, code) for subset, data in pieces for code in data]
        for char, (subset, code) in zip(text, codes, strict=True):
            if subset == 0:
                self.known.add(char)
                self.codes[ord(char)] = code

    def _cached(self, text: str) -> tuple[tuple[int, str], ...]:
        pieces = self.cache.get(text)
        if pieces is None:
            if len(self.cache) >= self._CACHE_LIMIT:
                self.cache.clear()
            pieces = self.cache[text] = self._pieces(text)
        return pieces

    def _select(self, subset: int) -> str:
        select = self.selects.get(subset)
        if select is None:
            name = self.font.getSubsetInternalName(subset, self.doc)
            select = self.selects[subset] = f"{name} {self.size} Tf"
        return select

    def column(self, x: float, y: float, texts: Iterable[str], *, repeated: bool = False) -> str:
        """Return the operators that show `texts`, one per line, from (x, y) downwards."""
        parts = [f"BT 1 0 0 1 {x:.2f} {y:.2f} Tm {self.leading} TL"]
        add, current = parts.append, -1
        encode = self._cached if repeated else self._pieces
        for text in texts:
            for subset, show in encode(text):
                if subset != current:
                    add(self._select(subset))
                    current = subset
                add(show)
            add("T*")
        add("ET")
        return "\n".join(parts)

    def line(self, x: float, y: float, text: str) -> str:
        """Return the operators that show one text with its baseline starting at (x, y)."""
        return self.column(x, y, (text,), repeated=True)
