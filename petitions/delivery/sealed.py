"""The sealed export: what the server delivers of a sealed petition, and unsealing it offline.

    <slug>-<YYYYMMDD>.sealed.zip
        petition.json       every field of the petition, and the public key it is sealed to
        counts.json         the counts: in all, by country, by day in the petition's time zone
        rows.csv            number, signature_id, country, signed_at (UTC), sealed (base64 of a
                            libsodium sealed box of the row's name, email, city and comment),
                            leaf (the row's receipt leaf, hex)
        signer.pem          the server's signing certificate
        manifest.json       format, identifier, kind, time, generator, the sealing key, the
                            counts, the receipts' tree over rows.csv's leaves (size and root)
                            and every other file's SHA-256
        manifest.json.p7s   detached CMS signature (DER) of manifest.json by the server's key

Nothing in it is readable without the organiser's private key: the server hands over only
sealed bytes. `write_sealed_export` writes one on the server, streaming the rows as
`build_bundle` does. On the organiser's machine `verify_sealed_export` checks one, and `unseal`
checks it, opens every row in worker processes and hands the rows, each with its leaf, to
`build_bundle`, which makes the usual signed bundle; its tree must have the root the server
published. docs/sealed-petitions.md describes every format.
"""

from __future__ import annotations

import base64
import binascii
import csv
import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
import re
import tempfile
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from pathlib import Path
from typing import IO, Any, NamedTuple
from zoneinfo import ZoneInfo

from nacl.bindings import crypto_box_SEALBYTES

from petitions.delivery import opening
from petitions.delivery.archive import CHUNK, add_bytes, add_file, publish, target_path, utc_text
from petitions.delivery.bundle import (
    MANIFEST,
    PROGRESS_EVERY,
    SIGNER,
    BundleError,
    BundleResult,
    Progress,
    Tally,
    add_signed_manifest,
    build_bundle,
    check_tally,
    csv_cell,
    json_bytes,
    paper_sheets_entry,
    receipts_entry,
    signer_entry,
    summary_counts,
    tally_problems,
    written,
)
from petitions.delivery.keys import SigningKey
from petitions.delivery.model import ApplicantInfo, ExportInfo, PetitionInfo, ReceiptTree, Summary
from petitions.delivery.signature import Timestamping
from petitions.delivery.verify import (
    DAMAGED,
    VerificationReport,
    check_signed_manifest,
    claimed_tree,
    open_zip,
)
from petitions.merkle import HASH_SIZE, RootBuilder
from petitions.sealing import SealingError, SealingIdentity, SealingPublicKey

SEALED_FORMAT = "petitions-sealed-export/1"
SEALED_SUFFIX = ".sealed.zip"
PETITION_NAME = "petition.json"
COUNTS_NAME = "counts.json"
ROWS_NAME = "rows.csv"
ROW_COLUMNS = ("number", "signature_id", "country", "signed_at", "sealed", "leaf")
_HEADER = ",".join(ROW_COLUMNS).encode("ascii")
#: An export with paper lines has a last column: `online`, or `paper/<sheet>/<line>`.
SOURCE_COLUMNS = (*ROW_COLUMNS, "source")
_SOURCE_HEADER = ",".join(SOURCE_COLUMNS).encode("ascii")
_PAPER_CELL = re.compile(r"paper/([1-9][0-9]*)/([1-9][0-9]*)")
#: The columns of the decrypted rows `unseal` writes for offline moderation.
MODERATION_COLUMNS = (
    "signature_id",
    "number",
    "name",
    "email",
    "city",
    "country",
    "comment",
    "signed_at",
)
#: Rows sent to a worker process at a time, and chunks under way per worker at the most.
CHUNK_ROWS = 1000
CHUNKS_PER_WORKER = 3
#: `unseal`'s progress: a row checked counts one step, a row opened and written this many.
UNSEAL_STEPS = 6

_SIGNATURE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_SIGNED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_DIGITS = re.compile(r"[1-9][0-9]*")
_HEX_LEAF = re.compile(r"[0-9a-f]{64}")


class SealedExportError(Exception):
    """A sealed export cannot be read, is not intact, or does not open; the message says why."""


class SealedRow(NamedTuple):
    """One counted signature of a sealed petition, in signing order, as the server has it."""

    #: 1 to N in signing order.
    number: int
    #: The signature's public id, which its sealed box names too.
    signature_id: str
    #: ISO 3166 alpha-2.
    country: str
    #: An aware UTC datetime.
    signed_at: datetime
    #: A libsodium sealed box (`SealingPublicKey.seal`) of the signer's fields.
    sealed: bytes
    #: The signature's receipt leaf (32 bytes), which says nothing of the signer.
    leaf: bytes
    #: A paper line's (sheet, line); None online. Paper lines follow the online rows.
    source: tuple[int, int] | None = None


@dataclass(frozen=True)
class SealedExport:
    """A sealed export that passed every check: what it holds, except the rows themselves."""

    path: Path
    petition: PetitionInfo
    export: ExportInfo
    summary: Summary
    sealing_key: SealingPublicKey
    #: The server certificate's subject, its SHA-256 (hex, of the DER) and whether it is a
    #: development key.
    signer: str
    certificate_sha256: str
    development_key: bool
    #: SHA-256 of each file the manifest lists.
    files: dict[str, str]
    #: The receipts' tree the manifest publishes over rows.csv's leaves.
    tree: ReceiptTree


# Writing, on the server.


def write_sealed_export(
    petition: PetitionInfo,
    export: ExportInfo,
    summary: Summary,
    rows: Iterable[SealedRow | tuple[int, str, str, datetime, bytes, bytes]],
    key: SigningKey,
    sealing_key: SealingPublicKey,
    output: Path | str,
    *,
    progress: Progress | None = None,
    overwrite: bool = False,
) -> BundleResult:
    """Write a sealed export to `output` (a .sealed.zip path, or a directory for the default).

    `rows` is consumed once, in signing order, as `build_bundle` consumes its rows; rows that
    disagree with `summary` raise BundleError. `progress(rows done, total)` is called every
    1,000 rows and when the ZIP is written. The ZIP appears atomically: on any error nothing is
    left at `output`.
    """
    day = export.generated_at.astimezone(petition.zone)
    target = target_path(Path(output), petition.slug, day, SEALED_SUFFIX, overwrite)
    summary = dataclasses.replace(
        summary, by_country=dict(summary.by_country), by_day=dict(summary.by_day)
    )
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as name:
        work = Path(name)
        tally, tree = _write_rows(rows, work / ROWS_NAME, petition, summary, progress)
        check_tally(summary, tally)
        partial = work / "export.zip"
        files = _write_zip(partial, work, petition, export, summary, key, sealing_key, tree)
        publish(partial, target)
    if progress:
        progress(summary.total, summary.total)
    return written(target, export, summary, files, tree=tree)


def _write_zip(
    path: Path,
    work: Path,
    petition: PetitionInfo,
    export: ExportInfo,
    summary: Summary,
    key: SigningKey,
    sealing_key: SealingPublicKey,
    tree: ReceiptTree,
) -> dict[str, str]:
    day = export.generated_at.astimezone(petition.zone)
    with zipfile.ZipFile(path, "w", allowZip64=True) as archive:
        petition_json = _petition_json(petition, sealing_key)
        counts_json = json_bytes(summary_counts(summary))
        files = {
            PETITION_NAME: add_bytes(archive, PETITION_NAME, petition_json, day),
            COUNTS_NAME: add_bytes(archive, COUNTS_NAME, counts_json, day),
            # Stored: base64 of sealed boxes deflates by a third only, and at 15 MB/s.
            ROWS_NAME: add_file(archive, ROWS_NAME, work / ROWS_NAME, day, compress=False),
            SIGNER: add_bytes(archive, SIGNER, key.certificate_pem, day),
        }
        manifest = _manifest(petition, export, summary, key, sealing_key, files, tree)
        add_signed_manifest(archive, manifest, key, day)
    return files


def _write_rows(
    rows: Iterable[SealedRow | tuple[int, str, str, datetime, bytes, bytes]],
    path: Path,
    petition: PetitionInfo,
    summary: Summary,
    progress: Progress | None,
) -> tuple[Tally, ReceiptTree]:
    """Write rows.csv; return the rows' tally and the receipts' tree over the leaves written."""
    tally, day_of, previous, tree = Tally(), _LocalDays(petition.zone), None, RootBuilder()
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        with_source = summary.paper > 0
        writer.writerow(SOURCE_COLUMNS if with_source else ROW_COLUMNS)
        for row in rows:
            row = SealedRow(*row)
            problem = row_problem(row, tally.rows + 1, previous)
            if problem:
                raise BundleError(f"row {row.number}: {problem}")
            sealed = base64.b64encode(row.sealed).decode("ascii")
            signed_at = utc_text(row.signed_at)
            cells = [row.number, row.signature_id, row.country, signed_at, sealed, row.leaf.hex()]
            writer.writerow([*cells, source_cell(row.source)] if with_source else cells)
            tree.append(row.leaf)
            _count(tally, row, day_of)
            previous = row
            if tally.rows > summary.total:
                raise BundleError(
                    f"more rows than the {summary.total} signatures the summary counts"
                )
            if progress and tally.rows % PROGRESS_EVERY == 0:
                progress(tally.rows, summary.total)
    return tally, ReceiptTree(tree.size, tree.root)


def source_cell(source: tuple[int, int] | None) -> str:
    """Return rows.csv's `source` cell: `online`, or `paper/<sheet>/<line>`."""
    return "online" if source is None else f"paper/{source[0]}/{source[1]}"


def _order_problem(row: SealedRow, previous: SealedRow | None) -> str | None:
    """Online rows come first, in signing order; then paper lines by sheet and line."""
    if previous is None:
        return None
    if row.source is None:
        if previous.source is not None:
            return "is signed online but comes after a paper line"
        if row.signed_at < previous.signed_at:
            return "was signed before the row above it: rows must be in signing order"
        return None
    if previous.source is not None and row.source <= previous.source:
        return "is a paper line out of the order of sheets and lines"
    return None


def row_problem(row: SealedRow, expected: int, previous: SealedRow | None) -> str | None:
    """Return what is wrong with a row that should be number `expected`, or None."""
    if row.number != expected:
        return f"is numbered {row.number}, not {expected}: rows are numbered from 1 in order"
    if not isinstance(row.signature_id, str) or not _SIGNATURE_ID.fullmatch(row.signature_id):
        return "has a signature id that is not 1 to 64 letters, digits, - and _"
    if not isinstance(row.country, str) or not _COUNTRY.fullmatch(row.country):
        return "has a country that is not an ISO 3166 alpha-2 code"
    if row.signed_at.tzinfo is None:
        return "signed_at must be an aware (UTC) datetime"
    order = _order_problem(row, previous)
    if order:
        return order
    if len(row.sealed) < crypto_box_SEALBYTES:
        return "holds no sealed box (too short)"
    if not isinstance(row.leaf, bytes) or len(row.leaf) != HASH_SIZE:
        return f"has a receipt leaf that is not {HASH_SIZE} bytes"
    return None


def _count(tally: Tally, row: SealedRow, day_of: _LocalDays) -> None:
    tally.rows += 1
    tally.paper += row.source is not None
    tally.countries[row.country] += 1
    tally.days[day_of(row.signed_at)] += 1


class _LocalDays:
    """The calendar day (ISO) in a time zone of moments that come in order, worked out per day.

    Rows are in signing order: most follow one in the same local day, and a comparison with that
    day's bounds replaces a conversion to the zone for each of a million rows.
    """

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.start = self.end = datetime.min.replace(tzinfo=UTC)
        self.day = ""

    def __call__(self, moment: datetime) -> str:
        if not self.start <= moment < self.end:
            self._enter(moment)
        return self.day

    def _enter(self, moment: datetime) -> None:
        day = moment.astimezone(self.zone).date()
        self.day = day.isoformat()
        start = datetime.combine(day, time(), self.zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(), self.zone).astimezone(UTC)
        # Keep the bounds only when they hold this day alone: around a midnight that a clock
        # change skips or repeats they may not, and each such moment is converted on its own.
        held = start <= moment < end and (
            start.astimezone(self.zone).date() == day
            and (end - timedelta(microseconds=1)).astimezone(self.zone).date() == day
        )
        self.start, self.end = (start, end) if held else (moment, moment)


def _key_entry(sealing_key: SealingPublicKey) -> dict[str, str]:
    return {"public_key": sealing_key.line, "fingerprint": sealing_key.fingerprint}


def _petition_json(petition: PetitionInfo, sealing_key: SealingPublicKey) -> bytes:
    document: dict[str, Any] = {}
    for field in dataclasses.fields(PetitionInfo):
        value = getattr(petition, field.name)
        if isinstance(value, ApplicantInfo):
            value = dataclasses.asdict(value)
        document[field.name] = utc_text(value) if isinstance(value, datetime) else value
    document["sealing_key"] = _key_entry(sealing_key)
    return json_bytes(document)


def _manifest(
    petition: PetitionInfo,
    export: ExportInfo,
    summary: Summary,
    key: SigningKey,
    sealing_key: SealingPublicKey,
    files: dict[str, str],
    tree: ReceiptTree,
) -> bytes:
    return json_bytes(
        {
            "format": SEALED_FORMAT,
            "identifier": export.identifier,
            "export": "final" if export.final else "interim",
            "generated_at": utc_text(export.generated_at),
            "generator": {"name": "petitions", "version": export.generator_version},
            "petition": petition.slug,
            "sealing_key": _key_entry(sealing_key),
            "counts": summary_counts(summary),
            **paper_sheets_entry(summary),
            "receipts": receipts_entry(tree),
            "signer": signer_entry(key),
            "files": files,
        }
    )


# Reading and checking, on the organiser's machine.


def verify_sealed_export(
    path: Path | str,
    sealing_key: SealingPublicKey | None = None,
    *,
    server_certificate_sha256: str | None = None,
    progress: Progress | None = None,
) -> SealedExport:
    """Check a sealed export and return what it holds; raise SealedExportError with the reason.

    Checks the manifest's CMS signature against signer.pem, every file's SHA-256, that signer.pem
    is the certificate pinned (when `server_certificate_sha256` is given), that the export is
    sealed to `sealing_key` (when given), that rows.csv is numbered 1 to N in signing order and
    adds up to counts.json, and that its leaves make the manifest's receipts' root.
    `progress(rows checked, total)` is called every 1,000 rows.
    """
    report = VerificationReport(Path(path))
    archive = open_zip(report)
    if archive is None:
        raise _failure(report)
    with archive:
        required = (PETITION_NAME, COUNTS_NAME, ROWS_NAME, SIGNER)
        manifest, certificate = check_signed_manifest(archive, report, required)
        if manifest is not None and manifest.get("format") != SEALED_FORMAT:
            raise SealedExportError(
                f"{report.path.name}: not a sealed export "
                f"(its manifest's format is {manifest.get('format')!r})"
            )
        if report.problems or manifest is None or certificate is None:
            raise _failure(report)
        pinned = hashlib.sha256(certificate.dump()).hexdigest()
        _check_pin(report.path.name, pinned, server_certificate_sha256)
        sealed = _describe(report, archive, manifest, pinned)
    if sealing_key is not None and sealing_key != sealed.sealing_key:
        raise SealedExportError(
            f"{report.path.name}: sealed to the key {sealed.sealing_key.fingerprint}, "
            f"not to this one ({sealing_key.fingerprint})"
        )
    _check_rows(sealed, progress)
    return sealed


def _failure(report: VerificationReport) -> SealedExportError:
    name = report.path.name
    reasons = [p.message if p.file == name else f"{p.file} {p.message}" for p in report.problems]
    return SealedExportError(f"{name}: {'; '.join(reasons)}")


def _check_pin(name: str, actual: str, expected: str | None) -> None:
    if expected is None:
        return
    wanted = re.sub(r"[\s:]", "", expected).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", wanted):
        raise SealedExportError("a certificate's SHA-256 is 64 hexadecimal digits")
    if wanted != actual:
        raise SealedExportError(
            f"{name}: signed by another certificate than the one expected "
            f"(its SHA-256 is {actual}, not {wanted})"
        )


def _describe(
    report: VerificationReport, archive: zipfile.ZipFile, manifest: dict[str, Any], pinned: str
) -> SealedExport:
    name = report.path.name
    petition, key = _read_json(name, archive, PETITION_NAME, "a petition", _petition_from)
    summary = _read_json(name, archive, COUNTS_NAME, "counts", _summary_from)
    export, manifest_key = _read_json(name, archive, MANIFEST, "a sealed export", _export_from)
    summary = _with_sheets(name, summary, manifest.get("paper_sheets", []))
    if not _same_counts(summary, manifest.get("counts")):
        raise SealedExportError(f"{name}: counts.json differs from the counts in manifest.json")
    if key != manifest_key or manifest.get("petition") != petition.slug:
        raise SealedExportError(f"{name}: petition.json and manifest.json name other petitions")
    tree = _published_tree(report, manifest)
    return SealedExport(
        path=report.path,
        petition=petition,
        export=export,
        summary=summary,
        sealing_key=key,
        signer=report.signer or "",
        certificate_sha256=pinned,
        development_key=bool(report.development_key),
        files=manifest["files"],
        tree=tree,
    )


def _published_tree(report: VerificationReport, manifest: dict[str, Any]) -> ReceiptTree:
    """Return the receipts' tree the manifest publishes, or raise why it has none."""
    if "receipts" not in manifest:
        raise SealedExportError(
            f"{report.path.name}: its manifest publishes no receipts' tree (a sealed export made "
            "before receipts): ask the server for a new export"
        )
    claimed = claimed_tree(manifest, report)
    if claimed is None or report.problems:
        raise _failure(report)
    size, root = claimed
    return ReceiptTree(size, bytes.fromhex(root))


def _with_sheets(name: str, summary: Summary, listed: Any) -> Summary:
    """Carry the manifest's paper sheets (number, lines, scan's SHA-256) into the bundle's."""
    try:
        sheets = tuple(
            (_count_of(entry["sheet"]), _count_of(entry["lines"]), _scan_of(entry["scan_sha256"]))
            for entry in listed
        )
    except (KeyError, TypeError, ValueError) as error:
        message = f"{name}: manifest.json's paper_sheets are damaged ({error})"
        raise SealedExportError(message) from None
    return dataclasses.replace(summary, sheets=sheets)


def _scan_of(value: Any) -> str | None:
    if value is not None and not (isinstance(value, str) and _HEX_LEAF.fullmatch(value)):
        raise ValueError(f"{value!r} is not a SHA-256 in hex")
    return value


def _same_counts(summary: Summary, counted: Any) -> bool:
    """Compare counts.json with the manifest's counts; an export made before paper sheets
    counts no rows online and on paper apart."""
    if not isinstance(counted, dict):
        return False
    # "online" is the total less the paper lines: the rows are checked against those two.
    expected = {key: value for key, value in summary_counts(summary).items() if key != "online"}
    counted = {key: value for key, value in counted.items() if key != "online"}
    if "paper" not in counted and not summary.paper:
        expected.pop("paper")
    return expected == counted


def _read_json(
    name: str, archive: zipfile.ZipFile, member: str, what: str, parse: Callable[[Any], Any]
) -> Any:
    try:
        return parse(json.loads(archive.read(member)))
    except (ValueError, KeyError, TypeError, AttributeError, SealingError) as error:
        raise SealedExportError(f"{name}: {member} is not {what} ({error})") from None


def _petition_from(document: dict[str, Any]) -> tuple[PetitionInfo, SealingPublicKey]:
    values: dict[str, Any] = {}
    for field in dataclasses.fields(PetitionInfo):
        if field.name == "applicant":
            values["applicant"] = _applicant_from(document.get("applicant"))
            continue
        # An export made before recipients had kinds names none: its letter names the recipient.
        value = (
            document.get(field.name, "other")
            if field.name == "recipient_kind"
            else document[field.name]
        )
        if not isinstance(value, str):
            raise TypeError(f"{field.name} is not text")
        values[field.name] = _parse_utc(value) if field.name.endswith("_at") else value
    key = SealingPublicKey.parse(document["sealing_key"]["public_key"])
    return PetitionInfo(**values), key


def _applicant_from(entry: Any) -> ApplicantInfo | None:
    """Read the applicant written by `_petition_json`: None, or an object of its fields."""
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise TypeError("applicant is not an object")
    names = {field.name: field.type for field in dataclasses.fields(ApplicantInfo)}
    for name, value in entry.items():
        wanted = bool if name == "demonstration" else str
        if name not in names or not isinstance(value, wanted):
            raise TypeError(f"applicant.{name} is not what an applicant holds")
    return ApplicantInfo(**entry)


def _summary_from(document: dict[str, Any]) -> Summary:
    by_country = {str(code): _count_of(n) for code, n in document["by_country"].items()}
    by_day = {date.fromisoformat(day): _count_of(n) for day, n in document["by_day"].items()}
    paper = _count_of(document.get("paper", 0))
    return Summary(_count_of(document["signatures"]), by_country, by_day, paper)


def _count_of(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{value!r} is not a count")
    return value


def _export_from(document: dict[str, Any]) -> tuple[ExportInfo, SealingPublicKey]:
    if document["export"] not in ("final", "interim"):
        raise ValueError(f"export is {document['export']!r}, not final or interim")
    export = ExportInfo(
        identifier=str(document["identifier"]),
        generated_at=_parse_utc(document["generated_at"]),
        final=document["export"] == "final",
        generator_version=str(document["generator"]["version"]),
    )
    return export, SealingPublicKey.parse(document["sealing_key"]["public_key"])


def _parse_utc(text: str) -> datetime:
    if not isinstance(text, str) or not _SIGNED_AT.fullmatch(text):
        raise ValueError(f"{text!r} is not a UTC time such as 2021-09-14T04:00:00Z")
    return datetime.fromisoformat(text)


def _check_rows(sealed: SealedExport, progress: Progress | None) -> None:
    """Read rows.csv once: numbering, order and form of each row, ids unique, counts right."""
    tally, seen, twice, tree = Tally(), set(), set(), RootBuilder()
    day_of, total = _LocalDays(sealed.petition.zone), sealed.summary.total
    for row in read_sealed_rows(sealed):
        _count(tally, row, day_of)
        tree.append(row.leaf)
        # Ids are compared by their hash to keep memory small; a clash is looked at closely.
        hashed = hash(row.signature_id)
        if hashed in seen:
            twice.add(hashed)
        seen.add(hashed)
        if progress and tally.rows % PROGRESS_EVERY == 0:
            progress(tally.rows, total)
    del seen
    if twice:
        _check_unique(sealed, twice)
    problems = tally_problems(sealed.summary, tally)
    if problems:
        reasons = "; ".join(problems)
        raise SealedExportError(
            f"{sealed.path.name}: rows.csv disagrees with counts.json: {reasons}"
        )
    _check_tree(sealed, ReceiptTree(tree.size, tree.root), "rows.csv's leaves make")


def _check_tree(sealed: SealedExport, tree: ReceiptTree | None, what: str) -> None:
    """Raise SealedExportError unless `tree` is the one the manifest publishes."""
    published = sealed.tree
    if tree is None or (tree.size, tree.root) != (published.size, published.root):
        made = f"a tree of {tree.size} with the root {tree.root_hex}" if tree else "no tree"
        raise SealedExportError(
            f"{sealed.path.name}: {what} {made}, not the manifest's receipts' tree of "
            f"{published.size} with the root {published.root_hex}"
        )


def _check_unique(sealed: SealedExport, hashes: set[int]) -> None:
    numbers: dict[str, int] = {}
    for row in read_sealed_rows(sealed):
        if hash(row.signature_id) in hashes:
            if row.signature_id in numbers:
                raise SealedExportError(
                    f"{sealed.path.name}: rows.csv rows {numbers[row.signature_id]} and "
                    f"{row.number} are the same signature ({row.signature_id})"
                )
            numbers[row.signature_id] = row.number


def read_sealed_rows(sealed: SealedExport) -> Iterator[SealedRow]:
    """Yield the rows of a checked sealed export, checking each again and rows.csv's SHA-256.

    The file is read again, not trusted from an earlier pass: a file changed since
    `verify_sealed_export` raises SealedExportError at its end, before the last row is yielded.
    """
    name = sealed.path.name
    digest = hashlib.sha256()
    previous: SealedRow | None = None
    expected = 0
    try:
        with zipfile.ZipFile(sealed.path) as archive, archive.open(ROWS_NAME) as member:
            # Lines split at commas, not the csv module: no field the server writes can hold a
            # comma, a quote or a line break, and a row in any other form is refused as it is.
            lines = io.BufferedReader(_Hashing(member, digest), CHUNK)
            header = next(lines, b"").rstrip(b"\r\n")
            if header not in (_HEADER, _SOURCE_HEADER):
                raise SealedExportError(f"{name}: rows.csv does not start with its header")
            columns = SOURCE_COLUMNS if header == _SOURCE_HEADER else ROW_COLUMNS
            for expected, line in enumerate(lines, start=1):
                fields = line.rstrip(b"\r\n").decode("ascii").split(",")
                row = _parse_row(name, expected, fields, previous, columns)
                if previous is not None:
                    yield previous
                previous = row
    except (*DAMAGED, UnicodeDecodeError) as error:
        raise SealedExportError(f"{name}: rows.csv is damaged ({error})") from None
    if digest.hexdigest() != sealed.files[ROWS_NAME]:
        raise SealedExportError(f"{name}: rows.csv changed while it was being read")
    if previous is not None:
        yield previous


def _parse_source(cell: str) -> tuple[int, int] | None:
    if cell == "online":
        return None
    match = _PAPER_CELL.fullmatch(cell)
    if match is None:
        raise ValueError(f"its source {cell!r} is neither online nor paper/<sheet>/<line>")
    return int(match[1]), int(match[2])


def _parse_row(
    name: str,
    expected: int,
    fields: list[str],
    previous: SealedRow | None,
    columns: tuple[str, ...] = ROW_COLUMNS,
) -> SealedRow:
    where = f"{name}: rows.csv row {expected}"
    if len(fields) != len(columns):
        raise SealedExportError(f"{where}: has {len(fields)} fields, not {len(columns)}")
    number, signature_id, country, signed_at, sealed, leaf = fields[:6]
    try:
        source = _parse_source(fields[6]) if len(fields) > 6 else None
        if not _DIGITS.fullmatch(number):
            raise ValueError(f"{number!r} is not a row number")
        if not _HEX_LEAF.fullmatch(leaf):
            raise ValueError("its leaf is not 64 lowercase hex digits")
        row = SealedRow(
            int(number),
            signature_id,
            country,
            _parse_utc(signed_at),
            binascii.a2b_base64(sealed, strict_mode=True),
            bytes.fromhex(leaf),
            source,
        )
    except (ValueError, binascii.Error) as error:
        raise SealedExportError(f"{where}: {error}") from None
    problem = row_problem(row, expected, previous)
    if problem:
        raise SealedExportError(f"{where}: {problem}")
    return row


class _Hashing(io.RawIOBase):
    """A binary stream that adds what is read from it to a hash."""

    def __init__(self, stream: IO[bytes], digest: Any) -> None:
        super().__init__()
        self.stream, self.digest = stream, digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(len(buffer))
        self.digest.update(data)
        buffer[: len(data)] = data
        return len(data)


# Unsealing: every row opened, then the usual bundle.


def unseal(
    path: Path | str,
    identity: SealingIdentity,
    output: Path | str,
    signing_key: SigningKey,
    *,
    timestamping: Timestamping = None,
    progress: Progress | None = None,
    rows_out: Path | None = None,
    workers: int | None = None,
    server_certificate_sha256: str | None = None,
) -> BundleResult:
    """Check a sealed export, open every row with `identity` and build the signed bundle.

    The bundle is `build_bundle`'s, signed with `signing_key`, at `output` (a .zip path, or a
    directory for `<slug>-<YYYYMMDD>.zip`). `rows_out`, if given, receives the opened rows with
    their signature ids (CSV, 0600) for moderation. `workers` processes open the rows (default:
    one per core; 0 opens them here). `progress(steps done, steps in all)` is called as rows are
    checked and opened. The bundle's receipts' tree must be the one the server published. Any
    failure raises SealedExportError (or OSError, SigningKeyError from the output and the key)
    and leaves nothing at `output` or `rows_out`.
    """
    steps = _Steps(progress)
    sealed = verify_sealed_export(
        path,
        identity.public_key,
        server_certificate_sha256=server_certificate_sha256,
        progress=steps.checked,
    )
    if rows_out is not None and rows_out.exists():
        raise FileExistsError(f"{rows_out} exists already")
    with _Moderation(rows_out) as moderation, _Openers(identity, sealed, workers) as openers:
        rows = _bundle_rows(sealed, openers, moderation)
        try:
            result = build_bundle(
                sealed.petition,
                sealed.export,
                sealed.summary,
                rows,
                signing_key,
                output,
                receipts=True,
                timestamping=timestamping,
                progress=steps.opened,
            )
        except BundleError as error:
            raise SealedExportError(f"{sealed.path.name}: {error}") from None
        _check_bundle_tree(sealed, result)
        moderation.publish(result.path)
    return result


def _check_bundle_tree(sealed: SealedExport, result: BundleResult) -> None:
    """Take the bundle away unless the rows opened make the root the server published."""
    try:
        _check_tree(sealed, result.tree, "the rows opened make")
    except SealedExportError:
        result.path.unlink()
        raise


class _Steps:
    """Turn the checking pass and the opening pass into one progress from 0 to the end."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress

    def checked(self, done: int, total: int) -> None:
        if self.progress:
            self.progress(done, total * (1 + UNSEAL_STEPS))

    def opened(self, done: int, total: int) -> None:
        if self.progress:
            self.progress(total + done * UNSEAL_STEPS, total * (1 + UNSEAL_STEPS))


def _bundle_rows(
    sealed: SealedExport, openers: _Openers, moderation: _Moderation
) -> Iterator[tuple[int, str, str, str, datetime, bytes, tuple[int, int] | None]]:
    for row, (name, email, city, comment) in openers.open(read_sealed_rows(sealed)):
        moderation.write(row, name, email, city, comment)
        yield row.number, name or "", city or "", row.country, row.signed_at, row.leaf, row.source


class _Openers:
    """Open rows in worker processes, a few chunks ahead of the reader and never more.

    A pool's `map` would read every row ahead into its queue; here each chunk is submitted only
    when one comes back, so memory stays flat however long the list.
    """

    def __init__(self, identity: SealingIdentity, sealed: SealedExport, workers: int | None):
        self.identity, self.sealed = identity, sealed
        count = (os.cpu_count() or 1) if workers is None else workers
        self.pool: ProcessPoolExecutor | None = None
        # A daemonic process (a multiprocessing job runner, say) may not start processes.
        if count > 0 and not multiprocessing.current_process().daemon:
            self.pool = ProcessPoolExecutor(
                max_workers=count,
                # spawn, not fork: the caller may hold threads and locks.
                mp_context=multiprocessing.get_context("spawn"),
                initializer=opening.start,
                initargs=(identity, sealed.petition.slug),
            )
        self.window = CHUNKS_PER_WORKER * max(count, 1)

    def open(self, rows: Iterable[SealedRow]) -> Iterator[tuple[SealedRow, opening.Opened]]:
        """Yield each row with what it held, in order."""
        pending: deque[tuple[list[SealedRow], Future[list[opening.Opened]]]] = deque()
        iterator = iter(rows)
        while chunk := list(islice(iterator, CHUNK_ROWS)):
            pending.append((chunk, self._submit(chunk)))
            if len(pending) >= self.window:
                yield from self._take(*pending.popleft())
        while pending:
            yield from self._take(*pending.popleft())

    def _submit(self, chunk: list[SealedRow]) -> Future[list[opening.Opened]]:
        payload = [(row.number, row.signature_id, row.sealed) for row in chunk]
        if self.pool is not None:
            return self.pool.submit(opening.open_chunk, payload)
        future: Future[list[opening.Opened]] = Future()
        try:
            future.set_result(opening.open_rows(self.identity, self.sealed.petition.slug, payload))
        except SealingError as error:
            future.set_exception(error)
        return future

    def _take(
        self, chunk: list[SealedRow], future: Future[list[opening.Opened]]
    ) -> Iterator[tuple[SealedRow, opening.Opened]]:
        try:
            opened = future.result()
        except SealingError as error:
            raise SealedExportError(f"{self.sealed.path.name}: rows.csv {error}") from None
        return zip(chunk, opened, strict=True)

    def __enter__(self) -> _Openers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class _Moderation:
    """The opened rows for the organiser's moderation, written beside their final name."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.partial: Path | None = None
        self.file: IO[str] | None = None
        self.writer: Any = None

    def __enter__(self) -> _Moderation:
        if self.path is not None:
            descriptor, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            self.partial = Path(name)
            # With a BOM, so that spreadsheets read Cyrillic right; 0600 from mkstemp.
            self.file = os.fdopen(descriptor, "w", encoding="utf-8-sig", newline="")
            self.writer = csv.writer(self.file)
            self.writer.writerow(MODERATION_COLUMNS)
        return self

    def write(
        self,
        row: SealedRow,
        name: str | None,
        email: str | None,
        city: str | None,
        comment: str | None,
    ) -> None:
        """Add one opened row."""
        if self.writer is None:
            return
        cells = [csv_cell(value or "") for value in (name, email, city)]
        self.writer.writerow(
            (
                row.signature_id,
                row.number,
                *cells,
                row.country,
                csv_cell(comment or ""),
                utc_text(row.signed_at),
            )
        )

    def publish(self, bundle: Path) -> None:
        """Move the rows to their name; if that fails, take the bundle away too."""
        if self.file is None or self.partial is None or self.path is None:
            return
        self.file.close()
        try:
            publish(self.partial, self.path)
        except OSError:
            bundle.unlink()
            raise
        self.partial = None

    def __exit__(self, *exc_info: object) -> None:
        if self.file is not None:
            self.file.close()
        if self.partial is not None:
            self.partial.unlink(missing_ok=True)
