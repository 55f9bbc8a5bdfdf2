"""The embedded fonts (shipped in static/fonts, each with its licence) and text that fits them.

Every text the PDF shows goes through `clean_text`, so that a control character in a name cannot
break a line or the export. Each face is a chain of fonts, one per group of scripts: DejaVu Sans
(Latin, Cyrillic, Greek, Arabic, Hebrew, Georgian, Armenian and many symbols), then Noto Sans
Arabic (what DejaVu lacks of it), Noto Sans Devanagari, WenQuanYi Micro Hei (Chinese, Japanese,
Korean, fullwidth forms) and Symbola (monochrome emoji). Every character is drawn with the first
font of the chain that has it; a visible character none has is drawn as its code point,
"[U+E000]", and an invisible one (a format character or variation selector) is left out of the
drawing. The CSV keeps the text as it is.

ReportLab neither shapes nor reorders: `shape` joins Arabic letters into their presentation forms
and `visual` puts a line into the order the Unicode bidi algorithm displays it (python-bidi), the
order a browser shows in a `<bdi>` element.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from arabic_reshaper import ArabicReshaper
from arabic_reshaper.ligatures import LIGATURES
from bidi import get_display
from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONT_DIR = Path(__file__).resolve().parents[2] / "static" / "fonts"
REGULAR = "PetitionsSans"
BOLD = "PetitionsSans-Bold"
ARABIC = "PetitionsSans-Arabic"
ARABIC_BOLD = "PetitionsSans-Arabic-Bold"
DEVANAGARI = "PetitionsSans-Devanagari"
DEVANAGARI_BOLD = "PetitionsSans-Devanagari-Bold"
CJK = "PetitionsSans-CJK"
SYMBOLS = "PetitionsSans-Symbols"
#: Registered name: (file, subfont of a collection). WenQuanYi Micro Hei comes as a TrueType
#: collection whose first face is the proportional one; all four have TrueType outlines, which
#: ReportLab can subset and embed (it cannot embed CFF outlines, so no Noto Sans CJK).
_FILES = {
    REGULAR: ("DejaVuSans.ttf", 0),
    BOLD: ("DejaVuSans-Bold.ttf", 0),
    ARABIC: ("NotoSansArabic-Regular.ttf", 0),
    ARABIC_BOLD: ("NotoSansArabic-Bold.ttf", 0),
    DEVANAGARI: ("NotoSansDevanagari-Regular.ttf", 0),
    DEVANAGARI_BOLD: ("NotoSansDevanagari-Bold.ttf", 0),
    CJK: ("WenQuanYiMicroHei.ttc", 0),
    SYMBOLS: ("Symbola.ttf", 0),
}
#: The fonts a face is drawn with, the first that has a character wins. Noto Sans Arabic draws
#: the letters DejaVu Sans lacks (Urdu's heh goal and yeh barree, and some joined forms). CJK and
#: symbols have no bold here: a bold heading shows them in the regular weight.
CHAINS = {
    REGULAR: (REGULAR, ARABIC, DEVANAGARI, CJK, SYMBOLS),
    BOLD: (BOLD, ARABIC_BOLD, DEVANAGARI_BOLD, CJK, SYMBOLS),
}

ELLIPSIS = "…"
#: A longer cell is cut before measuring: nothing that long fits any column.
_MAX_MEASURED = 400

#: C0/C1 controls, line and paragraph separators, and lone surrogates (which cannot even be
#: encoded as UTF-8). Whitespace among them becomes a space, the rest U+FFFD.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SPACES = frozenset("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")


def _to_unicode_cmap(font_name: str, subset: Sequence[int]) -> str:
    """Return the ToUnicode CMap of one subset, characters beyond U+FFFF as UTF-16 pairs."""
    pairs = (
        f"<{code:02X}> <{chr(char).encode('utf-16-be').hex().upper()}>"
        for code, char in enumerate(subset)
    )
    return "\n".join(
        [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo",
            f"<< /Registry ({font_name})",
            f"/Ordering ({font_name})",
            "/Supplement 0",
            ">> def",
            f"/CMapName /{font_name} def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            f"<00> <{len(subset) - 1:02X}>",
            "endcodespacerange",
            f"{len(subset)} beginbfchar",
            *pairs,
            "endbfchar",
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
    )


def register_fonts(names: Iterable[str] = (REGULAR, BOLD)) -> None:
    """Register fonts with ReportLab once per process: by default the first of each chain."""
    # ReportLab writes an emoji's code point as five hex digits in the ToUnicode map, which
    # readers take for a different character; the PDF specification wants UTF-16 there. For the
    # characters below U+10000 this map is the same as ReportLab's, byte for byte.
    ttfonts.makeToUnicodeCMap = _to_unicode_cmap
    registered = set(pdfmetrics.getRegisteredFontNames())
    for name in names:
        if name not in registered:
            filename, index = _FILES[name]
            # asciiReadable: printable ASCII keeps its own codes; ColumnText relies on it.
            font = TTFont(name, str(FONT_DIR / filename), subfontIndex=index, asciiReadable=True)
            pdfmetrics.registerFont(font)


def _replacement(match: re.Match[str]) -> str:
    return " " if match.group() in _SPACES else "\ufffd"


def clean_text(text: str) -> str:
    """Replace control characters and lone surrogates so the text can be drawn and encoded."""
    if text.isprintable():
        return text
    return _UNSAFE.sub(_replacement, text)


#: Invisible characters: left out of the drawing when no font has a glyph for them.
_INVISIBLE = "Cf"
_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
#: Characters of right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, NKo, Samaritan, …, and
#: their presentation forms) and the marks that make a line right to left.
_RIGHT_TO_LEFT = re.compile(
    "[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\u200f\u202b\u202e\u2067"
    "\U00010800-\U00010fff\U0001e800-\U0001efff]"
)
#: Explicit direction marks, embeddings, overrides and isolates: they steer the bidi algorithm
#: and are not drawn (its rule X9 removes them).
_DIRECTION_CONTROLS = dict.fromkeys(
    map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")


class _Widths(dict[str, float]):
    """Glyph advance by character; a character the chain lacks gets the default width."""

    def __init__(self, default: float) -> None:
        super().__init__()
        self.default = default

    def __missing__(self, char: str) -> float:
        return self.default


class _Settings:
    """The reshaper's settings, read once: it asks configparser for six on every text."""

    def __init__(self, section: Mapping[str, str]) -> None:
        self._text = dict(section)
        self._flags = {
            key: value.lower() in ("1", "yes", "true", "on") for key, value in self._text.items()
        }

    def get(self, key: str) -> str:
        """Return one setting as text."""
        return self._text[key.lower()]

    def getboolean(self, key: str) -> bool:
        """Return one setting as a flag."""
        return self._flags[key.lower()]


class Chain:
    """One face as a chain of fonts: which font draws each character, and how wide it is.

    The fonts after the first are read only when a text needs one of them: the CJK font alone
    adds about 45 MB to a process, which a list in Latin and Cyrillic letters never pays.
    """

    def __init__(self, face: str) -> None:
        self.names = CHAINS[face]
        register_fonts(self.names[:1])
        first = pdfmetrics.getFont(self.names[0]).face
        self.primary = frozenset(map(chr, first.charWidths))
        self.covered = self.primary
        self.widths = _Widths(first.defaultWidth)
        self.widths.update((chr(code), width) for code, width in first.charWidths.items())
        #: Index in the chain of the font that draws each character the first font lacks.
        self.font_of: dict[str, int] = {}
        self.loaded = False
        self.reshaper = ArabicReshaper(configuration=self._reshaping())
        self.reshaper.configuration = _Settings(self.reshaper.configuration)
        #: Cities and common names repeat: each is joined once.
        self.reshape = functools.lru_cache(maxsize=4096)(self.reshaper.reshape)

    def _load(self) -> None:
        if self.loaded:
            return
        register_fonts(self.names[1:])
        # The last font first, so that an earlier font of the chain overwrites a later one.
        for index in range(len(self.names) - 1, 0, -1):
            for code, width in pdfmetrics.getFont(self.names[index]).face.charWidths.items():
                char = chr(code)
                if char not in self.primary:
                    self.font_of[char] = index
                    self.widths[char] = width
        self.covered = self.primary | frozenset(self.font_of)
        self.loaded = True

    def _reshaping(self) -> dict[str, bool]:
        # Keep the vowel marks (harakat): nothing a signer typed is dropped. A ligature is used
        # only when the first font has it (DejaVu Sans lacks the word ligature of "Allah").
        config = {"delete_harakat": False, "support_ligatures": True}
        for name, (_, forms) in LIGATURES:
            config[name] = self.primary.issuperset("".join(forms))
        return config

    def drawable(self, text: str) -> str:
        """Return `text` with what no font of the chain has shown as code points or left out."""
        if self.primary.issuperset(text):
            return text
        self._load()
        if self.covered.issuperset(text):
            return text
        return "".join(map(self._drawable_char, text))

    def _drawable_char(self, char: str) -> str:
        if char in self.covered:
            return char
        if unicodedata.category(char) == _INVISIBLE or _VARIATION_SELECTORS.match(char):
            return ""
        return f"[U+{ord(char):04X}]"

    def shape(self, text: str) -> str:
        """Return `text` drawable, Arabic letters in their joined forms, still in logical order."""
        text = self.drawable(text)
        if text.isascii() or not _ARABIC.search(text):
            return text
        joined = self.reshape(text)
        if self.covered.issuperset(joined):
            return joined
        # A joined form the fonts lack (DejaVu has no Urdu heh goal or yeh barree forms) is
        # drawn as its plain letter, which `drawable` has just found in the chain.
        return "".join(
            char if char in self.covered else unicodedata.normalize("NFKC", char) for char in joined
        )

    def runs(self, text: str) -> list[tuple[str, str]]:
        """Split a drawable text into (font name, text) runs, each drawn with one font."""
        if self.primary.issuperset(text):
            return [(self.names[0], text)]
        self._load()
        runs: list[tuple[str, str]] = []
        current, start = -1, 0
        for position, char in enumerate(text):
            index = self.font_of.get(char, 0)
            if index != current:
                if position > start:
                    runs.append((self.names[current], text[start:position]))
                current, start = index, position
        if len(text) > start:
            runs.append((self.names[current], text[start:]))
        return runs


@functools.cache
def chain(face: str) -> Chain:
    """Return the shared `Chain` of a face (REGULAR or BOLD)."""
    return Chain(face)


def draw_text(canvas: Canvas, x: float, y: float, text: str, face: str, size: float) -> None:
    """Draw one drawable line from (x, y) through ReportLab's canvas, a run per font."""
    for name, run in chain(face).runs(text):
        canvas.setFont(name, size)
        canvas.drawString(x, y, run)
        x += pdfmetrics.stringWidth(run, name, size)
    canvas.setFont(face, size)


def visual(text: str) -> str:
    """Return one line in the order the bidi algorithm displays it; left-to-right text as it is."""
    if text.isascii() or not _RIGHT_TO_LEFT.search(text):
        return text
    return get_display(text).translate(_DIRECTION_CONTROLS)


def right_to_left(text: str) -> bool:
    """Tell whether a paragraph's first strong character makes it right to left."""
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in ("R", "AL"):
            return True
        if direction == "L":
            return False
    return False


class Measure:
    """String widths and fitting for one face at one size, faster than ReportLab's own."""

    def __init__(self, font_name: str, size: float) -> None:
        self.chain = chain(font_name)
        self._widths = self.chain.widths
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

    def cell(self, text: str, width: float) -> str:
        """Return a cleaned text ready to draw in one line of `width`: shaped, cut, reordered."""
        if text.isascii():
            return self.fit(text, width)
        return visual(self.fit(self.chain.shape(text), width))

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
    """Encode one-line texts for one canvas and face as ready PDF operators, fast.

    ReportLab's text objects pass every line through several calls that re-encode and re-escape
    it; at a million rows that is most of the export's time. This writes the operators itself:
    each font's own subsetting (`splitString`) assigns the codes, so the embedded subsets and their
    ToUnicode maps stay ReportLab's and `pdftotext` reads the names back exactly. A text is drawn
    in runs, one per font of the face's chain (texts come drawable, shaped and in visual order,
    from `Measure.cell`). Codes it has seen are remembered for the first subset of the first font,
    so a text whose characters are all known is encoded by one `str.translate`; hex strings need
    no escaping; repeated texts are encoded once.
    """

    _CACHE_LIMIT = 50_000

    def __init__(self, canvas: Canvas, font_name: str, size: float, leading: float) -> None:
        self.chain = chain(font_name)
        self.font = pdfmetrics.getFont(font_name)
        self.fonts = {font_name: self.font}  # the others once a text needs them
        # Subset assignments live per document; ReportLab's own text objects use the same.
        self.doc = canvas._doc
        self.size, self.leading = size, leading
        self.selects: dict[tuple[str, int], str] = {}
        self.cache: dict[str, tuple[tuple[str, str], ...]] = {}
        # Printable ASCII keeps its own codes in subset 0 (asciiReadable fonts).
        self.known = set(map(chr, range(32, 127)))
        self.codes = {code: code for code in range(32, 127)}
        self.first = self._select(font_name, 0)

    def _pieces(self, text: str) -> tuple[tuple[str, str], ...]:
        if self.known.issuperset(text):
            return ((self.first, f"<{text.translate(self.codes).encode('latin-1').hex()}> Tj"),)
        pieces: list[tuple[str, str]] = []
        for name, run in self.chain.runs(text):
            font = self.fonts.get(name) or self.fonts.setdefault(name, pdfmetrics.getFont(name))
            split = font.splitString(run, self.doc)
            if name == self.font.fontName:
                self._learn(run, split)
            pieces.extend(
                (self._select(name, subset), f"<{data.hex()}> Tj") for subset, data in split
            )
        return tuple(pieces)

    def _learn(self, text: str, pieces: list[tuple[int, bytes]]) -> None:
        # One code per character, in order (no-break space is drawn as a space, code 32).
        codes = [(subset, code) for subset, data in pieces for code in data]
        for char, (subset, code) in zip(text, codes, strict=True):
            if subset == 0:
                self.known.add(char)
                self.codes[ord(char)] = code

    def _cached(self, text: str) -> tuple[tuple[str, str], ...]:
        pieces = self.cache.get(text)
        if pieces is None:
            if len(self.cache) >= self._CACHE_LIMIT:
                self.cache.clear()
            pieces = self.cache[text] = self._pieces(text)
        return pieces

    def _select(self, name: str, subset: int) -> str:
        select = self.selects.get((name, subset))
        if select is None:
            internal = self.fonts[name].getSubsetInternalName(subset, self.doc)
            select = self.selects[name, subset] = f"{internal} {self.size} Tf"
        return select

    def column(self, x: float, y: float, texts: Iterable[str], *, repeated: bool = False) -> str:
        """Return the operators that show `texts`, one per line, from (x, y) downwards."""
        parts = [f"BT 1 0 0 1 {x:.2f} {y:.2f} Tm {self.leading} TL"]
        add, current = parts.append, ""
        encode = self._cached if repeated else self._pieces
        for text in texts:
            for select, show in encode(text):
                if select != current:
                    add(select)
                    current = select
                add(show)
            add("T*")
        add("ET")
        return "\n".join(parts)

    def line(self, x: float, y: float, text: str) -> str:
        """Return the operators that show one text with its baseline starting at (x, y)."""
        return self.column(x, y, (text,), repeated=True)
