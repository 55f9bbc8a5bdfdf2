"""Paper sheets: their check codes, entering their lines twice, and the lines that count.

A sheet is printed with a number and a short check code, derived with the keyring's keyed hash
from the petition's public id and the number: the server recognises its own sheets without
storing them. A sheet's lines are typed in two passes (by two organisers, or by one a second
time, never shown the first); only when two passes agree exactly do its lines join the list, as
confirmed signatures marked with their sheet and line. Each line's receipt leaf comes from the
petition's public id, the sheet's check code and the line's number (petitions.receipts), so
whoever holds the sheet can find its lines in a bundle's tree.

A line that looks like a repeat of another counted line or of an online signature (the same
normalised name and city, compared by keyed hash, so that sealed petitions are compared too)
is flagged for moderators, never dropped.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import enum
import hashlib
import hmac
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import selectinload

from petitions.crypto import Keyring
from petitions.delivery.sheet import SheetInfo, write_sheets
from petitions.extensions import db
from petitions.i18n import COUNTRY_CODES
from petitions.models import (
    COUNTED_STATES,
    Organiser,
    PaperPass,
    PaperSheet,
    Petition,
    PetitionState,
    Signature,
    SignatureState,
    new_public_id,
)
from petitions.receipts import paper_leaf
from petitions.sealing import SealingPublicKey
from petitions.services import audit, milestones
from petitions.services.privacy import keyring

#: Numbered lines on one printed sheet.
LINES_PER_SHEET = 20
#: Sheet numbers an organiser may print and enter.
MAX_SHEET_NUMBER = 99_999
#: Longest name and city a line may hold, as on the signing form.
MAX_NAME = 120
MAX_CITY = 120
#: Check codes: 40 bits of the keyed hash in base32, printed as two groups of four.
_CODE_BYTES = 5
_CODE_PATTERN = re.compile(r"[A-Z2-7]{8}")
#: Petitions whose sheets can be entered: published and not yet delivered.
ENTERABLE_STATES = frozenset({PetitionState.OPEN, PetitionState.CLOSED})
#: A scan or photo of a sheet may be at most this large.
MAX_SCAN_BYTES = 10 * 1024 * 1024
#: The images a scan may be, by their first bytes: PNG, JPEG and TIFF (WebP is checked apart).
_IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"II*\x00",
    b"MM\x00*",
)
#: Bidirectional classes that reorder text around them: refused, as on the signing form.
_REORDERING = frozenset({"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})
#: Control characters (Cc) and the bidirectional controls of `_REORDERING`.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_URL = re.compile(r"(://|www\.|\w\.(com|ru|kz|org|net|info|io|me|xyz|top)\b)", re.I)
_FORMULA_STARTS = ("=", "+", "-", "@")
CSV_COLUMNS = ("line", "name", "city", "country")


class PaperError(ValueError):
    """Input about a sheet refused as a whole; `user_message` says why in the reader's language.

    `str(error)` stays plain English for the command line.
    """

    def __init__(self, message: str, user_message: str | LazyString) -> None:
        super().__init__(message)
        self.user_message = user_message


@dataclass(frozen=True)
class PaperLine:
    """One line of a sheet as typed: its number on the sheet, the name, city and country."""

    number: int
    name: str
    city: str
    country: str

    def as_list(self) -> list[object]:
        return [self.number, self.name, self.city, self.country]


class PassResult(enum.StrEnum):
    #: The first pass: the sheet waits for a second.
    WAITING = "waiting"
    #: This pass differs from every earlier one: the differences are shown, another pass settles.
    DIFFERS = "differs"
    #: Two passes agree: the sheet's lines are counted.
    COUNTED = "counted"


@dataclass(frozen=True)
class PassOutcome:
    result: PassResult
    sheet: PaperSheet
    #: The lines counted, when the sheet was counted.
    counted: int = 0


# The check code, and the normalised form of a person.


def check_code(petition_public_id: str, number: int, ring: Keyring | None = None) -> str:
    """Return the check code printed on sheet `number`, as "ABCD-EFGH"."""
    digest = (ring or keyring()).keyed_hash("paper-sheet", f"{petition_public_id}:{number}")
    code = base64.b32encode(digest[:_CODE_BYTES]).decode("ascii")
    return f"{code[:4]}-{code[4:]}"


def canonical_code(text: str) -> str:
    """Return a typed check code without spaces and dashes, upper case."""
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", text or "")).upper()


def code_matches(petition_public_id: str, number: int, typed: str) -> bool:
    """Tell whether `typed` is sheet `number`'s check code (case, spaces and dashes aside)."""
    typed = canonical_code(typed)
    if not _CODE_PATTERN.fullmatch(typed):
        return False
    expected = canonical_code(check_code(petition_public_id, number))
    return hmac.compare_digest(typed.encode("ascii"), expected.encode("ascii"))


def normalised_person(name: str, city: str) -> str:
    """Return the form in which two lines are taken for the same person: NFKC, case folded,
    without invisible characters and combining marks, spaces collapsed; name, then city."""

    def fold(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text or "")
        kept = "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Me", "Cf"))
        folded = unicodedata.normalize("NFKC", kept).casefold()
        return " ".join(folded.split())

    return f"{fold(name)}\x00{fold(city)}"


def person_hash(name: str, city: str, ring: Keyring | None = None) -> bytes:
    """Hash a normalised name and city, as signatures and paper lines store it."""
    return (ring or keyring()).keyed_hash("person", normalised_person(name, city))


#: Sheets one download may hold.
MAX_SHEETS_AT_ONCE = 200


def write_sheet_pdf(petition: Petition, first: int, count: int, url: str, path: Path) -> Path:
    """Write `count` sheets numbered from `first` for `petition`, one A4 page each, at `path`.

    `url` is the petition's public address (from BASE_URL, never from a request).
    """
    if petition.state == PetitionState.DRAFT:
        raise PaperError(
            "a draft has no public page for the sheet to point to: publish it first",
            _l("Publish the petition first: a sheet points to its public page."),
        )
    last = first + count - 1
    if not (first >= 1 and 1 <= count <= MAX_SHEETS_AT_ONCE and last <= MAX_SHEET_NUMBER):
        raise PaperError(
            f"sheets are numbered 1 to {MAX_SHEET_NUMBER}, at most {MAX_SHEETS_AT_ONCE} at once",
            _l(
                "Sheets are numbered 1 to %(most)d, at most %(count)d at once.",
                most=MAX_SHEET_NUMBER,
                count=MAX_SHEETS_AT_ONCE,
            ),
        )
    ring = keyring()
    sheets = [
        SheetInfo(
            title=petition.title,
            recipient=petition.recipient,
            summary=petition.summary,
            language=petition.language,
            url=url,
            number=number,
            code=check_code(petition.public_id, number, ring),
            lines=LINES_PER_SHEET,
        )
        for number in range(first, last + 1)
    ]
    return write_sheets(sheets, path)


# Checking what was typed.


def clean(text: str | None) -> str:
    """NFC, without invisible format characters, spaces trimmed and collapsed."""
    value = unicodedata.normalize("NFC", text or "")
    if not value.replace(" ", "").isprintable():  # only then can a format character be there
        value = "".join(c for c in value if unicodedata.category(c) != "Cf" or _reorders(c))
    return " ".join(value.split())


def _reorders(character: str) -> bool:
    return unicodedata.bidirectional(character) in _REORDERING


def _text_problem(value: str, longest: int) -> tuple[str, LazyString] | None:
    """Say what is wrong with a name or city, in English and for the reader, or None."""
    if _CONTROL.search(value):
        return "remove invisible or control characters", _l(
            "remove invisible or control characters"
        )
    if len(value) > longest:
        return f"at most {longest} characters", _l("at most %(count)d characters", count=longest)
    if value.startswith(_FORMULA_STARTS):
        return "cannot begin with =, +, - or @", _l("cannot begin with =, +, - or @")
    if _URL.search(value):
        return "cannot contain a web address", _l("cannot contain a web address")
    return None


def _line_error(number: int, field: str, english: str, problem: LazyString) -> PaperError:
    words = {"name": _l("name"), "city": _l("city"), "country": _l("country")}
    return PaperError(
        f"line {number}: {field}: {english}",
        _l(
            "Line %(line)d, %(field)s: %(problem)s.",
            line=number,
            field=words[field],
            problem=problem,
        ),
    )


def check_line(number: int, name: str, city: str, country: str) -> PaperLine:
    """Return a typed line cleaned, or raise PaperError saying what is wrong with it."""
    if not 1 <= number <= LINES_PER_SHEET:
        raise PaperError(
            f"line {number}: a sheet has lines 1 to {LINES_PER_SHEET}",
            _l(
                "Line %(line)d: a sheet has lines 1 to %(count)d.",
                line=number,
                count=LINES_PER_SHEET,
            ),
        )
    name, city, country = clean(name), clean(city), clean(country).upper()
    for field, value, longest in (("name", name, MAX_NAME), ("city", city, MAX_CITY)):
        if not value:
            raise _line_error(number, field, "missing", _l("missing"))
        problem = _text_problem(value, longest)
        if problem is not None:
            raise _line_error(number, field, *problem)
    if country not in COUNTRY_CODES:
        raise _line_error(
            number, "country", "not a two-letter country code", _l("not a two-letter country code")
        )
    return PaperLine(number, name, city, country)


def check_lines(lines: Iterable[PaperLine]) -> list[PaperLine]:
    """Check every line; refuse a sheet with no line or a line number given twice."""
    checked, seen = [], set()
    for line in lines:
        cleaned = check_line(line.number, line.name, line.city, line.country)
        if cleaned.number in seen:
            raise PaperError(
                f"line {line.number}: given twice",
                _l("Line %(line)d is given twice.", line=line.number),
            )
        seen.add(cleaned.number)
        checked.append(cleaned)
    if not checked:
        raise PaperError("the sheet has no line", _l("Enter at least one line of the sheet."))
    return sorted(checked, key=lambda line: line.number)


def read_csv(data: bytes) -> list[PaperLine]:
    """Read a sheet's lines from CSV (a header `line,name,city,country`), as typed; raise
    PaperError for a file that is not such a CSV. `enter_pass` checks the lines."""
    return [_csv_line(row_number, row) for row_number, row in _csv_rows(data, CSV_COLUMNS)]


SHEETS_CSV_COLUMNS = ("sheet", "check_code", *CSV_COLUMNS)


@dataclass(frozen=True)
class TypedSheet:
    """One sheet's pass as a file gives it: its number, the check code typed and its lines."""

    number: int
    code: str
    lines: list[PaperLine]


def read_sheets_csv(data: bytes) -> list[TypedSheet]:
    """Read several sheets from CSV (header `sheet,check_code,line,name,city,country`), in the
    order they first appear; raise PaperError for a file that is not such a CSV."""
    rows = _csv_rows(data, SHEETS_CSV_COLUMNS)
    sheets: dict[int, TypedSheet] = {}
    for row_number, row in rows:
        number = _whole(row_number, row[0], "sheet number")
        sheet = sheets.setdefault(number, TypedSheet(number, row[1], []))
        if canonical_code(row[1]) != canonical_code(sheet.code):
            raise PaperError(
                f"row {row_number}: sheet {number} has another check code above",
                _l(
                    "Row %(row)d: sheet %(number)d has another check code above.",
                    row=row_number,
                    number=number,
                ),
            )
        sheet.lines.append(_csv_line(row_number, row[2:]))
    if not sheets:
        raise PaperError("the file has no line", _l("Enter at least one line of the sheet."))
    return list(sheets.values())


def _csv_rows(data: bytes, columns: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    """Return a CSV's non-empty rows with their numbers, after a header that must be `columns`,
    each row with exactly as many cells."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PaperError("the file is not UTF-8 text", _l("The file is not UTF-8 text.")) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [cell.strip().lower() for cell in next(reader, [])]
    if tuple(header) != columns:
        names = ",".join(columns)
        raise PaperError(
            f"the first row must be the header {names}",
            _l("The first row must be the header %(names)s.", names=names),
        )
    rows = []
    for row_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            raise PaperError(
                f"row {row_number}: {len(row)} cells, expected {len(columns)}",
                _l(
                    "Row %(row)d: %(count)d cells, expected %(expected)d.",
                    row=row_number,
                    count=len(row),
                    expected=len(columns),
                ),
            )
        rows.append((row_number, row))
    return rows


def _whole(row_number: int, cell: str, what: str) -> int:
    value = cell.strip()
    if not value.isdigit() or len(value) > 6:
        messages = {
            "line number": _l(
                "Row %(row)d: the line number is not a whole number.", row=row_number
            ),
            "sheet number": _l(
                "Row %(row)d: the sheet number is not a whole number.", row=row_number
            ),
        }
        raise PaperError(
            f"row {row_number}: the {what} {value!r} is not a whole number", messages[what]
        )
    return int(value)


def _csv_line(row_number: int, row: list[str]) -> PaperLine:
    """Read a row's line number, name, city and country; `check_lines` checks them."""
    return PaperLine(_whole(row_number, row[0], "line number"), row[1], row[2], row[3])


def check_scan(data: bytes) -> str:
    """Return the SHA-256 of a sheet's scan or photo; refuse what is not an image, or too big."""
    if len(data) > MAX_SCAN_BYTES:
        raise PaperError(
            f"the scan is larger than {MAX_SCAN_BYTES // (1024 * 1024)} MB",
            _l("The scan is larger than %(size)d MB.", size=MAX_SCAN_BYTES // (1024 * 1024)),
        )
    webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if not (webp or data.startswith(_IMAGE_MAGIC)):
        raise PaperError(
            "the scan is not a PNG, JPEG, WebP or TIFF image",
            _l("The scan is not a PNG, JPEG, WebP or TIFF image."),
        )
    return hashlib.sha256(data).hexdigest()


# Entering a pass.


def _check_sheet(petition: Petition, number: int, code: str) -> None:
    if petition.state not in ENTERABLE_STATES or petition.purged_at is not None:
        raise PaperError(
            f"sheets cannot be entered in a petition that is {petition.state}",
            _l("Sheets can be entered only while the petition is open or closed, not delivered."),
        )
    if not 1 <= number <= MAX_SHEET_NUMBER:
        raise PaperError(
            f"the sheet number must be between 1 and {MAX_SHEET_NUMBER}",
            _l("The sheet number must be between 1 and %(most)d.", most=MAX_SHEET_NUMBER),
        )
    if not code_matches(petition.public_id, number, code):
        raise PaperError(
            f"the check code is not sheet {number}'s: check the number and the code on the sheet",
            _l(
                "The check code is not sheet %(number)d's: check the number and the code "
                "printed on the sheet.",
                number=number,
            ),
        )


def _checked(
    petition: Petition, number: int, code: str, lines: Iterable[PaperLine]
) -> list[PaperLine]:
    """Check a sheet's number, check code and lines, before anything is read or written."""
    _check_sheet(petition, number, code)
    return check_lines(lines)


#: Sheets read or made by one statement (each number is a bound parameter).
SHEETS_AT_ONCE = 500


def _locked_sheets(
    petition: Petition, numbers: Iterable[int], now: datetime
) -> dict[int, PaperSheet]:
    """Return the petition's sheets `numbers` by number, locked, with their passes, making
    those that are new: a few statements however many sheets."""
    # In order of number, so that two imports at once lock their common sheets in one order.
    wanted = sorted(set(numbers))
    found = _read_locked(petition, wanted)
    missing = [number for number in wanted if number not in found]
    if not missing:
        return found
    # Two first passes of one sheet at once: the UNIQUE (petition, number) constraint lets one
    # make the sheet; the other finds it, locked, as if it had come second.
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    for chunk in _chunks(missing, SHEETS_AT_ONCE):
        db.session.execute(
            insert(PaperSheet.__table__)
            .values([{"petition_id": petition.id, "number": n, "created_at": now} for n in chunk])
            .on_conflict_do_nothing(index_elements=["petition_id", "number"])
        )
    return found | _read_locked(petition, missing)


def _read_locked(petition: Petition, numbers: Sequence[int]) -> dict[int, PaperSheet]:
    found: dict[int, PaperSheet] = {}
    for chunk in _chunks(numbers, SHEETS_AT_ONCE):
        query = (
            sa.select(PaperSheet)
            .where(PaperSheet.petition_id == petition.id, PaperSheet.number.in_(chunk))
            .order_by(PaperSheet.number)
            .options(selectinload(PaperSheet.passes))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        found.update((sheet.number, sheet) for sheet in db.session.scalars(query))
    return found


def _chunks(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    return (items[start : start + size] for start in range(0, len(items), size))


def _line_hashes(lines: Sequence[PaperLine], ring: Keyring) -> str:
    hashes = [
        [line.number, ring.keyed_hash("paper-line", json.dumps(line.as_list())).hex()]
        for line in lines
    ]
    return json.dumps(hashes)


def enter_pass(
    petition: Petition,
    number: int,
    code: str,
    lines: Iterable[PaperLine],
    actor: Organiser | None,
    now: datetime,
    *,
    actor_label: str = "cli",
    scan: bytes | None = None,
) -> PassOutcome:
    """Record one pass of sheet `number`; count its lines if it agrees with an earlier pass.

    Refuses (PaperError, nothing written) a wrong check code, a bad line, a counted sheet.
    """
    checked = _checked(petition, number, code, lines)
    scan_sha256 = check_scan(scan) if scan else None
    sheet = _locked_sheets(petition, [number], now)[number]
    writes = _Writes()
    outcome = _add_pass(petition, sheet, checked, actor, actor_label, now, keyring(), writes)
    if scan_sha256:
        sheet.scan_sha256 = scan_sha256
    writes.insert()
    if writes.lines:
        milestones.note_goal(petition, now)  # counted lines count towards the goal too
    audit.record(
        "paper_pass",
        actor=actor,
        actor_label=actor_label,
        petition=petition,
        sheet=number,
        lines=len(checked),
        result=str(outcome.result),
    )
    return outcome


@dataclass
class _Writes:
    """The rows that passes add, inserted together once every sheet of a file is taken."""

    passes: list[dict[str, object]] = dataclasses.field(default_factory=list)
    #: The counted lines' signatures, for `insert_lines`.
    lines: list[dict[str, object]] = dataclasses.field(default_factory=list)
    sheets: list[PaperSheet] = dataclasses.field(default_factory=list)

    def insert(self) -> None:
        # Through the table, in one executemany each: the ORM inserts rows one by one where it
        # must read back each id (SQLite), and a file's passes need none.
        db.session.flush()  # the sheets' counts and scans
        if self.passes:
            db.session.execute(PaperPass.__table__.insert(), self.passes)
        for sheet in self.sheets:
            db.session.expire(sheet, ["passes"])
        insert_lines(self.lines)


def _add_pass(
    petition: Petition,
    sheet: PaperSheet,
    lines: list[PaperLine],
    actor: Organiser | None,
    actor_label: str,
    now: datetime,
    ring: Keyring,
    writes: _Writes,
) -> PassOutcome:
    """Add a checked pass of a locked sheet to `writes` (and, if it agrees with an earlier
    pass, the lines it counts); return the outcome."""
    if sheet.counted_at is not None:
        raise PaperError(
            f"sheet {sheet.number} is already counted",
            _l("Sheet %(number)d is already counted.", number=sheet.number),
        )
    hashes = _line_hashes(lines, ring)
    agrees = any(earlier.line_hashes == hashes for earlier in sheet.passes)
    first = not sheet.passes
    writes.sheets.append(sheet)
    writes.passes.append(
        {
            "sheet_id": sheet.id,
            "entered_by_id": actor.id if actor else None,
            "entered_by": actor.email if actor else actor_label,
            "created_at": now,
            "line_hashes": hashes,
            "lines": None if petition.is_sealed else json.dumps([line.as_list() for line in lines]),
        }
    )
    if not agrees:
        return PassOutcome(PassResult.WAITING if first else PassResult.DIFFERS, sheet)
    writes.lines.extend(_count(petition, sheet, lines, now, ring))
    return PassOutcome(PassResult.COUNTED, sheet, len(lines))


def enter_passes(
    petition: Petition, sheets: Sequence[TypedSheet], actor: Organiser | None, now: datetime
) -> list[PassOutcome]:
    """Record one pass of each sheet of a file, all or none (PaperError names the sheet).

    Each sheet appears once, as `read_sheets_csv` gives them.
    """
    checked, seen = [], set()
    for typed in sheets:
        if typed.number in seen:
            raise PaperError(
                f"sheet {typed.number}: given twice",
                _l("Sheet %(number)d is given twice.", number=typed.number),
            )
        seen.add(typed.number)
        with _naming(typed.number):
            checked.append(_checked(petition, typed.number, typed.code, typed.lines))
    found = _locked_sheets(petition, seen, now)
    ring, writes = keyring(), _Writes()
    outcomes = []
    for typed, lines in zip(sheets, checked, strict=True):
        with _naming(typed.number):
            sheet = found[typed.number]
            outcomes.append(_add_pass(petition, sheet, lines, actor, "cli", now, ring, writes))
    writes.insert()
    if writes.lines:
        milestones.note_goal(petition, now)  # counted lines count towards the goal too
    audit.record(
        "paper_passes",
        actor=actor,
        actor_label="cli",
        petition=petition,
        sheets=len(outcomes),
        lines=sum(len(typed.lines) for typed in sheets),
        counted=sum(outcome.counted for outcome in outcomes),
    )
    return outcomes


@contextmanager
def _naming(number: int) -> Iterator[None]:
    """Put the sheet's number before a PaperError's message, in English and for the reader."""
    try:
        yield
    except PaperError as error:
        raise PaperError(
            f"sheet {number}: {error}",
            _l("Sheet %(number)d: %(problem)s", number=number, problem=error.user_message),
        ) from None


#: Rows of counted lines inserted by one statement.
INSERT_BATCH = 2000


def insert_lines(rows: list[dict[str, object]]) -> None:
    """Insert counted lines' signatures through the table (Core), a batch at a time."""
    # An executemany: psycopg sends its rows in one pipeline. Tried and slower here: one INSERT
    # of many VALUES (compiled anew for every batch) and SQLAlchemy's batches of RETURNING.
    for start in range(0, len(rows), INSERT_BATCH):
        db.session.execute(Signature.__table__.insert(), rows[start : start + INSERT_BATCH])


def _count(
    petition: Petition, sheet: PaperSheet, lines: Sequence[PaperLine], now: datetime, ring: Keyring
) -> list[dict[str, object]]:
    """Mark an agreed sheet counted; return its lines as confirmed signatures' rows."""
    code = canonical_code(check_code(petition.public_id, sheet.number, ring))
    sealing = SealingPublicKey.parse(petition.sealing_key) if petition.sealing_key else None
    rows = []
    for line in lines:
        public_id = new_public_id()
        rows.append(
            {
                "public_id": public_id,
                "petition_id": petition.id,
                "country": line.country,
                "show_name": False,
                "locale": petition.language,
                "state": SignatureState.CONFIRMED,
                "created_at": now,
                "confirmed_at": now,
                "receipt_leaf": paper_leaf(petition.public_id, code, line.number),
                "paper_sheet": sheet.number,
                "paper_line": line.number,
                "person_hash": person_hash(line.name, line.city, ring),
                **_personal(petition, line, public_id, sealing),
            }
        )
    sheet.counted_at = now
    sheet.line_count = len(lines)
    return rows


def _personal(
    petition: Petition, line: PaperLine, public_id: str, sealing: SealingPublicKey | None
) -> dict[str, object]:
    if sealing is None:
        return {"name": line.name, "city": line.city, "sealed": None}
    sealed = sealing.seal(
        {"name": line.name, "email": None, "city": line.city, "comment": None},
        signature_id=public_id,
        petition=petition.slug,
    )
    return {"name": None, "city": None, "sealed": sealed}


# What the dashboard shows of the sheets.


@dataclass(frozen=True)
class LineDifference:
    """How one line reads in two passes; None where a pass has no such line."""

    number: int
    earlier: PaperLine | None
    later: PaperLine | None


@dataclass(frozen=True)
class SheetStatus:
    sheet: PaperSheet
    #: Who typed each pass, in order.
    entered_by: tuple[str, ...]
    #: Lines on which the two latest passes differ (only the line numbers in a sealed petition).
    differences: tuple[LineDifference, ...]
    #: Whether the passes' text is kept (not in a sealed petition) for the differences to show.
    readable: bool


def _lines_of(entry: PaperPass) -> dict[int, PaperLine]:
    if entry.lines is None:
        return {}
    return {row[0]: PaperLine(*row) for row in json.loads(entry.lines)}


def differences(sheet: PaperSheet) -> tuple[LineDifference, ...]:
    """Compare the two latest passes of a waiting sheet line by line."""
    if sheet.counted_at is not None or len(sheet.passes) < 2:
        return ()
    earlier, later = sheet.passes[-2], sheet.passes[-1]
    hashes = [dict(map(tuple, json.loads(entry.line_hashes))) for entry in (earlier, later)]
    texts = [_lines_of(earlier), _lines_of(later)]
    numbers = sorted(set(hashes[0]) | set(hashes[1]))
    return tuple(
        LineDifference(n, texts[0].get(n), texts[1].get(n))
        for n in numbers
        if hashes[0].get(n) != hashes[1].get(n)
    )


def sheets(petition: Petition) -> list[SheetStatus]:
    """Return the petition's sheets entered so far, by number, with how their passes stand."""
    found = db.session.scalars(
        sa.select(PaperSheet)
        .where(PaperSheet.petition_id == petition.id)
        .order_by(PaperSheet.number)
    )
    return [
        SheetStatus(
            sheet,
            tuple(entry.entered_by for entry in sheet.passes),
            differences(sheet),
            not petition.is_sealed and petition.purged_at is None,
        )
        for sheet in found
    ]


def next_sheet_number(petition: Petition) -> int:
    """Return the number after the highest sheet entered so far (1 for the first)."""
    highest = db.session.scalar(
        sa.select(sa.func.max(PaperSheet.number)).where(PaperSheet.petition_id == petition.id)
    )
    return min((highest or 0) + 1, MAX_SHEET_NUMBER)


# Likely repeats.


@dataclass(frozen=True)
class Repeat:
    """A paper line that looks like another counted signature (paper or online)."""

    line: Signature
    others: tuple[Signature, ...]


def repeats(petition: Petition, limit: int = 200) -> list[Repeat]:
    """Return counted paper lines whose name and city match another counted signature's."""
    counted = (Signature.petition_id == petition.id) & Signature.state.in_(COUNTED_STATES)
    shared = (
        sa.select(Signature.person_hash)
        .where(counted, Signature.person_hash.is_not(None))
        .group_by(Signature.person_hash)
        .having(sa.func.count() > 1)
    )
    found = db.session.scalars(
        sa.select(Signature)
        .where(counted, Signature.person_hash.in_(shared))
        .order_by(Signature.paper_sheet.is_(None).desc(), Signature.paper_sheet, Signature.id)
    ).all()
    groups: dict[bytes, list[Signature]] = {}
    for signature in found:
        groups.setdefault(bytes(signature.person_hash), []).append(signature)
    flagged = []
    for group in groups.values():
        for signature in group:
            if signature.on_paper and signature.repeat_kept_at is None:
                others = tuple(other for other in group if other.id != signature.id)
                flagged.append(Repeat(signature, others))
    return flagged[:limit]


def keep_repeat(petition: Petition, signature_id: int, actor: Organiser, now: datetime) -> bool:
    """Record that a moderator looked at a flagged line and kept it; False if no such line."""
    signature = db.session.scalars(
        sa.select(Signature).where(
            Signature.petition_id == petition.id,
            Signature.id == signature_id,
            Signature.paper_sheet.is_not(None),
        )
    ).one_or_none()
    if signature is None:
        return False
    signature.repeat_kept_at = now
    audit.record(
        "paper_repeat_kept",
        actor=actor,
        petition=petition,
        sheet=signature.paper_sheet,
        line=signature.paper_line,
    )
    return True
