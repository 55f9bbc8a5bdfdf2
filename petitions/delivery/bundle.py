"""The bundle: a ZIP a recipient can check without trusting us (`verify` is the check).

`build_bundle` reads the rows once, in one pass: each row goes into signatures.csv and onto a page
of the PDF at the same time, so the rows may come from a server-side database cursor and are never
held in memory. A long list is cut into volumes; a worker process draws them while the pass goes
on (their pages are spooled to disk), and this process signs each as it is done. The manifest
lists every file's SHA-256 and is signed too. docs/verifying-a-bundle.md says how a recipient
checks all of it; docs/benchmarks.md has the measurements behind these choices.

    <slug>-<YYYYMMDD>.zip
        petition.pdf            (or petition-vol-01.pdf, petition-vol-02.pdf, … for long lists)
        signatures.csv          UTF-8 with a BOM, so that spreadsheets read Cyrillic right;
                                with receipts, each row's leaf in a last column `leaf`
        scans/sheet-<N>.<ext>   the organisers' scans of paper sheets, only when they choose
                                to include them, each the one whose SHA-256 the sheet records
        signer.pem              the signing certificate
        manifest.json           petition, recipient (name, kind) and applicant (kind, name;
                                no address), window, counts, the receipts' tree (size and
                                root), generator and every file's SHA-256
        manifest.json.p7s       detached CMS signature (DER) of manifest.json
"""

from __future__ import annotations

import abc
import csv
import dataclasses
import json
import multiprocessing
import os
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives import hashes

from petitions.delivery.archive import (
    add_bytes,
    add_file,
    publish,
    sha256_file,
    target_path,
    utc_text,
    zip_names,
)
from petitions.delivery.document import (
    DEFAULT_ROWS_PER_VOLUME,
    ROWS_PER_PAGE,
    DisplayRow,
    DocumentPlan,
    VolumeWriter,
    draw_spooled_volume,
    plan_document,
    spool_page,
)
from petitions.delivery.fonts import clean_text
from petitions.delivery.keys import SigningKey
from petitions.delivery.model import (
    LABELS,
    ExportInfo,
    Labels,
    PetitionInfo,
    ReceiptTree,
    Summary,
)
from petitions.delivery.signature import Timestamping, sign_detached, sign_pdf_file
from petitions.merkle import HASH_SIZE, RootBuilder
from petitions.receipts import TREE

MANIFEST = "manifest.json"
MANIFEST_SIGNATURE = "manifest.json.p7s"
SIGNER = "signer.pem"
CSV_NAME = "signatures.csv"
#: The CSV's column of receipt leaves (lowercase hex), the same word in every language: it is
#: what a recipient's script looks for.
LEAF_COLUMN = "leaf"
#: The CSV's last column: "online", or "paper, sheet N, line L", in English in every language.
SOURCE_COLUMN = "source"
ONLINE = "online"
PAPER_SOURCE = "paper, sheet {sheet}, line {line}"
FORMAT = "petitions-bundle/1"
#: Where a paper sheet's scan goes in the ZIP; the suffix is the organiser's file's.
SCANS_FOLDER = "scans/"
PROGRESS_EVERY = 1000
#: A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = frozenset("=+-@\t\r")

#: Called with (rows read so far, total rows) during the pass, and (total, total) at the end.
Progress = Callable[[int, int], None]


class BundleError(Exception):
    """The export cannot be made as asked, for example the rows disagree with the summary."""


@dataclass(frozen=True)
class BundleResult:
    """What `build_bundle` wrote: where, its SHA-256, its files and its counts."""

    path: Path
    sha256: str
    size: int
    identifier: str
    signature_count: int
    volumes: tuple[str, ...]
    #: Every file in the ZIP, in order.
    names: tuple[str, ...]
    #: SHA-256 of each file the manifest lists.
    files: dict[str, str]
    #: The receipts' tree over the rows; None for a bundle built without receipts.
    tree: ReceiptTree | None = None


def build_bundle(
    petition: PetitionInfo,
    export: ExportInfo,
    summary: Summary,
    rows: Iterable[tuple[Any, ...]],
    key: SigningKey,
    output: Path | str,
    *,
    receipts: bool = False,
    labels: Labels | None = None,
    timestamping: Timestamping = None,
    progress: Progress | None = None,
    workers: int | None = None,
    rows_per_volume: int = DEFAULT_ROWS_PER_VOLUME,
    overwrite: bool = False,
    scans: Mapping[int, Path] | None = None,
) -> BundleResult:
    """Write the signed bundle to `output` (a .zip path, or a directory for the default name).

    `rows` is consumed once, in signing order: (number, name, city, country code, signed_at as
    an aware datetime), and with `receipts` a sixth field, the row's receipt leaf (32 bytes):
    the CSV then carries every leaf, and the manifest and the cover letter the size and root of
    their RFC 6962 tree, computed here from exactly the leaves written. It must come from the
    same snapshot as `summary` (one REPEATABLE READ transaction); rows that disagree with the
    summary's counts raise BundleError. When the list
    needs several volumes, `workers` processes draw them (default: 1 on a machine with two cores
    or more, as this process is busy reading the rows; 0 draws them here, with the least memory).
    `progress(rows done, total)` is called every 1,000 rows and once more when the ZIP is
    written. The ZIP appears atomically: on any error nothing is left at `output`.

    `scans` maps counted sheets' numbers to the organiser's scans of them, to go into the ZIP:
    each must be the file whose SHA-256 the summary records for its sheet (BundleError, before
    anything is drawn, if not).
    """
    scans = dict(scans or {})
    check_scans(summary, scans)
    day = export.generated_at.astimezone(petition.zone)
    target = target_path(Path(output), petition.slug, day, ".zip", overwrite)
    summary = dataclasses.replace(
        summary, by_country=dict(summary.by_country), by_day=dict(summary.by_day)
    )
    plan = plan_document(
        petition,
        export,
        summary,
        labels or LABELS[petition.language],
        development=key.development,
        rows_per_volume=rows_per_volume,
        receipts=receipts,
    )
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as name:
        work = Path(name)
        volumes = _volumes(plan, key, timestamping, workers, work)
        with volumes:
            tree = _write_csv(plan, rows, volumes, work / CSV_NAME, progress)
            # Volume 1's cover letter prints the tree's root, known only now.
            plan = dataclasses.replace(plan, tree=tree)
            volumes.complete(plan)
            partial = work / "bundle.zip"
            files = _write_zip(plan, key, volumes, work, partial, scans)
        publish(partial, target)
    if progress:
        progress(summary.total, summary.total)
    names = tuple(plan.volume_name(v) for v in range(1, plan.volumes + 1))
    return written(target, export, summary, files, names, tree)


def written(
    target: Path,
    export: ExportInfo,
    summary: Summary,
    files: dict[str, str],
    volumes: tuple[str, ...] = (),
    tree: ReceiptTree | None = None,
) -> BundleResult:
    """Describe a ZIP just published at `target`."""
    return BundleResult(
        path=target,
        sha256=sha256_file(target),
        size=target.stat().st_size,
        identifier=export.identifier,
        signature_count=summary.total,
        volumes=volumes,
        names=zip_names(target),
        files=files,
        tree=tree,
    )


# The pass over the rows: the CSV and the pages of the PDF, together.


def csv_cell(value: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula by prefixing a quote."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


@dataclass
class Tally:
    """What the rows add up to, to be compared with the summary."""

    rows: int = 0
    #: Rows that are lines of paper sheets.
    paper: int = 0
    countries: Counter[str] = field(default_factory=Counter)
    #: Calendar day in the petition's time zone (ISO) to count.
    days: Counter[str] = field(default_factory=Counter)


def _write_csv(
    plan: DocumentPlan,
    rows: Iterable[tuple[Any, ...]],
    volumes: _Volumes,
    path: Path,
    progress: Progress | None,
) -> ReceiptTree | None:
    """Write the CSV and hand the pages to the volumes; return the receipts' tree, if any."""
    labels = plan.labels
    tree = RootBuilder() if plan.receipts else None
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        header = [
            labels.number,
            labels.name,
            labels.city,
            labels.country_code,
            labels.country,
            labels.signed_at_csv,
        ]
        writer.writerow([*header, LEAF_COLUMN, SOURCE_COLUMN] if tree is not None else header)
        tally = _read_rows(plan, rows, writer, volumes, progress, tree)
    check_tally(plan.summary, tally)
    return ReceiptTree(tree.size, tree.root) if tree is not None else None


def _read_rows(
    plan: DocumentPlan,
    rows: Iterable[tuple[Any, ...]],
    writer: Any,
    volumes: _Volumes,
    progress: Progress | None,
    tree: RootBuilder | None,
) -> Tally:
    tally, page = Tally(), []
    zone, names, total = plan.petition.zone, plan.countries, plan.summary.total
    for row in rows:
        number, name, city, country, signed_at = row[:5]
        if signed_at.tzinfo is None:
            raise BundleError(f"row {number}: signed_at must be an aware (UTC) datetime")
        local = signed_at.astimezone(zone).isoformat(timespec="seconds")
        name, city, country = clean_text(name or ""), clean_text(city or ""), clean_text(country)
        cells = [
            number,
            csv_cell(name),
            csv_cell(city),
            csv_cell(country),
            names.get(country, country),
            local,
        ]
        source = row[6] if len(row) > 6 else None
        shown = local[:16].replace("T", " ")
        if source is not None:
            tally.paper += 1
            # The paper line's own date is on the sheet; the list says where to find it.
            shown = plan.labels.paper_row.format(sheet=source[0], line=source[1])
        if tree is not None:
            cells.append(_leaf(row, tree))
            cells.append(_source(source))
        writer.writerow(cells)
        page.append((number, name, city, country, shown))
        tally.countries[country] += 1
        tally.days[local[:10]] += 1
        if len(page) == ROWS_PER_PAGE:
            _page_done(tally, page, volumes, total, progress)
            page = []
    if page:
        _page_done(tally, page, volumes, total, progress)
    return tally


def _leaf(row: tuple[Any, ...], tree: RootBuilder) -> str:
    """Add a row's receipt leaf to the tree and return it as the CSV writes it."""
    leaf = row[5] if len(row) > 5 else None
    if not isinstance(leaf, bytes) or len(leaf) != HASH_SIZE:
        raise BundleError(f"row {row[0]}: its receipt leaf must be {HASH_SIZE} bytes")
    tree.append(leaf)
    return leaf.hex()


def _source(source: tuple[int, int] | None) -> str:
    """Return a row's `source` cell: online, or the paper sheet and line."""
    if source is None:
        return ONLINE
    return PAPER_SOURCE.format(sheet=source[0], line=source[1])


def _page_done(
    tally: Tally, page: list[DisplayRow], volumes: _Volumes, total: int, progress: Progress | None
) -> None:
    tally.rows += len(page)
    if tally.rows > total:
        raise BundleError(f"more rows than the {total} signatures the summary counts")
    volumes.add_page(page)
    if progress and tally.rows % PROGRESS_EVERY < ROWS_PER_PAGE:
        progress(tally.rows, total)


def check_tally(summary: Summary, tally: Tally) -> None:
    """Raise BundleError unless the rows add up to the summary's counts."""
    problems = tally_problems(summary, tally)
    if problems:
        raise BundleError("the rows do not match the summary: " + "; ".join(problems))


def tally_problems(summary: Summary, tally: Tally) -> list[str]:
    """Return how the rows' count, countries and days differ from the summary, if they do."""
    problems = []
    if tally.rows != summary.total:
        problems.append(f"{tally.rows} rows, but the summary counts {summary.total} signatures")
    if tally.paper != summary.paper:
        problems.append(f"{tally.paper} paper rows, but the summary counts {summary.paper}")
    if dict(tally.countries) != counts_by_country(summary):
        problems.append("the counts by country differ from the rows")
    if dict(tally.days) != counts_by_day(summary):
        problems.append("the counts by day (in the petition's time zone) differ from the rows")
    return problems


def counts_by_country(summary: Summary) -> dict[str, int]:
    """Return the summary's non-zero counts by country, sorted by code."""
    return {code: n for code, n in sorted(summary.by_country.items()) if n}


def counts_by_day(summary: Summary) -> dict[str, int]:
    """Return the summary's non-zero counts by local day, as ISO dates in order."""
    return {day.isoformat(): n for day, n in sorted(summary.by_day.items()) if n}


# The volumes: drawn in this process as pages come, or spooled and drawn by worker processes.


class _Volumes(abc.ABC):
    """Cut the stream of list pages into volumes; subclasses decide where they are drawn.

    Volume 1 opens with the cover letter, which prints what only the end of the rows tells (the
    receipts' root): its list pages are spooled to disk, and it is drawn last, by `complete`.
    """

    def __init__(self, plan: DocumentPlan, key: SigningKey, timestamping: Timestamping, work: Path):
        self.plan, self.key, self.timestamping, self.work = plan, key, timestamping, work
        self.volume = 0  # the volume being filled, 0 before the first page
        self.pages = 0
        self.first: IO[bytes] | None = None  # volume 1's spool, while it is being filled

    def add_page(self, rows: list[DisplayRow]) -> None:
        """Add one list page to the current volume, starting a new one when it is full."""
        if self.volume == 0 or self.pages == self.plan.pages_per_volume:
            if self.volume:
                self._end_volume()
            self.volume, self.pages = self.volume + 1, 0
            self._start_volume()
        if self.volume == 1:
            spool_page(self.first, rows)
        else:
            self._page(rows)
        self.pages += 1

    def complete(self, plan: DocumentPlan) -> None:
        """End the last volume, then draw volume 1 with the finished `plan`.

        A petition with no signatures still gets volume 1.
        """
        if self.volume == 0:
            self.volume = 1
            self._start_volume()
        self._end_volume()
        self.plan = plan
        self._draw_first(self.work / "1.spool", self.work / "1.unsigned")

    def _start_volume(self) -> None:
        if self.volume == 1:
            self.first = (self.work / "1.spool").open("wb")
        else:
            self._start()

    def _end_volume(self) -> None:
        if self.volume == 1:
            assert self.first is not None  # noqa: S101 - _start_volume ran
            self.first.close()
            self.first = None
        else:
            self._end()

    @abc.abstractmethod
    def signed(self) -> list[Path]:
        """Return the signed volumes in order, once they are all done."""

    @abc.abstractmethod
    def _start(self) -> None:
        """Begin a new volume after the first."""

    @abc.abstractmethod
    def _page(self, rows: list[DisplayRow]) -> None:
        """Add one page of rows to the current volume."""

    @abc.abstractmethod
    def _end(self) -> None:
        """Finish the current volume."""

    @abc.abstractmethod
    def _draw_first(self, spool: Path, unsigned: Path) -> None:
        """Draw volume 1 from its spooled pages."""

    def __enter__(self) -> _Volumes:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.first is not None:
            self.first.close()


class _InProcess(_Volumes):
    """Draw each volume here, page by page, and sign it as soon as it is complete."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.writer: VolumeWriter | None = None
        self.done: dict[int, Path] = {}

    def _start(self) -> None:
        self.writer = VolumeWriter(self.plan, self.volume, self.work / f"{self.volume}.unsigned")

    def _page(self, rows: list[DisplayRow]) -> None:
        assert self.writer is not None  # noqa: S101 - _start ran
        self.writer.add_page(rows)

    def _end(self) -> None:
        assert self.writer is not None  # noqa: S101 - _start ran
        self.writer.close()
        args = (self.plan, self.volume, self.writer.path, self.work, self.key, self.timestamping)
        self.done[self.volume] = sign_volume(*args)
        self.writer = None

    def _draw_first(self, spool: Path, unsigned: Path) -> None:
        draw_spooled_volume(self.plan, 1, spool, unsigned)
        self.done[1] = sign_volume(self.plan, 1, unsigned, self.work, self.key, self.timestamping)

    def signed(self) -> list[Path]:
        """Return the signed volumes in order."""
        return [self.done[volume] for volume in sorted(self.done)]


class _Parallel(_Volumes):
    """Spool each volume's pages to disk for a pool of processes to draw; sign them here.

    Signing stays in this process: workers then import only the drawing code, which keeps them
    small, and a time-stamp authority is contacted from one place.
    """

    def __init__(self, *args: Any, workers: int) -> None:
        super().__init__(*args)
        # spawn, not fork: the caller may hold database connections, threads and locks.
        context = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        self.spool: IO[bytes] | None = None
        self.pending: dict[int, Future[Path]] = {}
        self.done: dict[int, Path] = {}

    def _start(self) -> None:
        self.spool = (self.work / f"{self.volume}.spool").open("wb")

    def _page(self, rows: list[DisplayRow]) -> None:
        assert self.spool is not None  # noqa: S101 - _start ran
        spool_page(self.spool, rows)

    def _end(self) -> None:
        assert self.spool is not None  # noqa: S101 - _start ran
        self.spool.close()
        unsigned = self.work / f"{self.volume}.unsigned"
        args = (self.plan, self.volume, Path(self.spool.name), unsigned)
        self.pending[self.volume] = self.pool.submit(draw_spooled_volume, *args)
        self.spool = None
        self._sign_finished(wait=False)

    def _draw_first(self, spool: Path, unsigned: Path) -> None:
        self.pending[1] = self.pool.submit(draw_spooled_volume, self.plan, 1, spool, unsigned)

    def _sign_finished(self, *, wait: bool) -> None:
        for volume, future in sorted(self.pending.items()):
            if wait or future.done():
                args = (self.plan, volume, future.result(), self.work, self.key)
                self.done[volume] = sign_volume(*args, self.timestamping)
                del self.pending[volume]

    def signed(self) -> list[Path]:
        """Wait for every volume, sign the rest, and return them in order."""
        self._sign_finished(wait=True)
        return [self.done[volume] for volume in sorted(self.done)]

    def __exit__(self, *exc_info: object) -> None:
        super().__exit__(*exc_info)
        if self.spool is not None:
            self.spool.close()
        self.pool.shutdown(wait=True, cancel_futures=True)


def _volumes(
    plan: DocumentPlan,
    key: SigningKey,
    timestamping: Timestamping,
    workers: int | None,
    work: Path,
) -> _Volumes:
    if workers is None:
        workers = default_workers()
    # A daemonic process (a multiprocessing job runner, say) may not start processes of its own.
    if workers > 0 and plan.volumes > 1 and not multiprocessing.current_process().daemon:
        return _Parallel(plan, key, timestamping, work, workers=min(workers, plan.volumes))
    return _InProcess(plan, key, timestamping, work)


def default_workers() -> int:
    """Return 1 worker with two cores or more, else 0: see docs/benchmarks.md for why."""
    return 1 if (os.cpu_count() or 1) > 1 else 0


def sign_volume(
    plan: DocumentPlan,
    volume: int,
    unsigned: Path,
    work: Path,
    key: SigningKey,
    timestamping: Timestamping,
) -> Path:
    """Sign a drawn volume into its final name and remove the unsigned file."""
    signed = work / plan.volume_name(volume)
    sign_pdf_file(unsigned, signed, key, timestamping)
    unsigned.unlink()
    return signed


# The ZIP: the CSV first (compressed while the last volumes are still being drawn), then the
# volumes as they are done, the certificate, and last the manifest and its signature.


def _write_zip(
    plan: DocumentPlan,
    key: SigningKey,
    volumes: _Volumes,
    work: Path,
    path: Path,
    scans: Mapping[int, Path],
) -> dict[str, str]:
    moment = plan.export.generated_at.astimezone(plan.petition.zone)
    files: dict[str, str] = {}
    with zipfile.ZipFile(path, "w", allowZip64=True) as archive:
        files[CSV_NAME] = add_file(archive, CSV_NAME, work / CSV_NAME, moment, compress=True)
        for volume in volumes.signed():
            files[volume.name] = add_file(archive, volume.name, volume, moment, compress=False)
        included = _add_scans(archive, plan.summary, scans, moment, files)
        files[SIGNER] = add_bytes(archive, SIGNER, key.certificate_pem, moment)
        manifest = manifest_bytes(plan, key, files, included)
        add_signed_manifest(archive, manifest, key, moment)
    return files


def scan_name(number: int, path: Path) -> str:
    """Return the name in the ZIP of sheet `number`'s scan, the file at `path`."""
    return f"{SCANS_FOLDER}sheet-{number}{path.suffix.lower()}"


def check_scans(summary: Summary, scans: Mapping[int, Path]) -> None:
    """Raise BundleError unless each scan is of a counted sheet and is the file whose SHA-256
    that sheet records."""
    recorded = {number: scan for number, _lines, scan in summary.sheets}
    for number, path in sorted(scans.items()):
        if number not in recorded:
            raise BundleError(f"{path.name}: sheet {number} is not a counted sheet of the petition")
        if recorded[number] is None:
            raise BundleError(f"{path.name}: sheet {number} has no scan recorded")
        if sha256_file(path) != recorded[number]:
            raise BundleError(
                f"{path.name}: its SHA-256 is not the one recorded for sheet {number}'s scan"
            )


def _add_scans(
    archive: zipfile.ZipFile,
    summary: Summary,
    scans: Mapping[int, Path],
    moment: datetime,
    files: dict[str, str],
) -> dict[int, str]:
    """Copy the scans into the ZIP (images are compressed already); return their names."""
    recorded = {number: scan for number, _lines, scan in summary.sheets}
    included = {}
    for number, path in sorted(scans.items()):
        name = scan_name(number, path)
        files[name] = add_file(archive, name, path, moment, compress=False)
        # Checked before the pass over the rows; a file changed since must not go in.
        if files[name] != recorded[number]:
            raise BundleError(f"{path.name}: it changed while the bundle was written")
        included[number] = name
    return included


def add_signed_manifest(
    archive: zipfile.ZipFile, manifest: bytes, key: SigningKey, moment: datetime
) -> None:
    """Write the manifest and, beside it, its detached CMS signature: the ZIP's last files."""
    add_bytes(archive, MANIFEST, manifest, moment)
    add_bytes(archive, MANIFEST_SIGNATURE, sign_detached(manifest, key), moment)


def manifest_bytes(
    plan: DocumentPlan,
    key: SigningKey,
    files: dict[str, str],
    scans: Mapping[int, str] | None = None,
) -> bytes:
    """Return manifest.json: what the bundle is, and the SHA-256 of every other file; `scans`
    names the sheets' scans in the ZIP, by sheet number."""
    petition, export, summary = plan.petition, plan.export, plan.summary
    document = {
        "format": FORMAT,
        "bundle": export.identifier,
        "export": "final" if export.final else "interim",
        "generated_at": utc_text(export.generated_at),
        "generator": {"name": "petitions", "version": export.generator_version},
        "petition": {
            "slug": petition.slug,
            "title": petition.title,
            "recipient": petition.recipient,
            "language": petition.language,
            "organiser": petition.organiser,
        },
        **parties_entry(petition),
        "window": {
            "opens_at": utc_text(petition.opens_at),
            "closes_at": utc_text(petition.closes_at),
            "timezone": petition.timezone,
        },
        "counts": summary_counts(summary),
        **paper_sheets_entry(summary, scans),
        **({"receipts": receipts_entry(plan.tree)} if plan.tree is not None else {}),
        "volumes": [plan.volume_name(v) for v in range(1, plan.volumes + 1)],
        "signer": signer_entry(key),
        "files": files,
    }
    return json_bytes(document)


def parties_entry(petition: PetitionInfo) -> dict[str, Any]:
    """Return what a manifest says of the recipient (name, kind) and the applicant (kind, name,
    and whether the demo invented them; null for a bundle without one). Addresses stay in the
    cover letter."""
    applicant = petition.applicant
    return {
        "recipient": {"name": petition.recipient, "kind": petition.recipient_kind},
        "applicant": None
        if applicant is None
        else {
            "kind": applicant.kind,
            "name": applicant.full_name,
            "demonstration": applicant.demonstration,
        },
    }


def receipts_entry(tree: ReceiptTree) -> dict[str, Any]:
    """Return what a manifest says of the receipts' tree over the CSV's `leaf` column."""
    return {"tree": TREE, "tree_size": tree.size, "root": tree.root_hex}


def summary_counts(summary: Summary) -> dict[str, Any]:
    """Return the counts as the manifests write them."""
    return {
        "signatures": summary.total,
        "online": summary.online,
        "paper": summary.paper,
        "by_country": counts_by_country(summary),
        "by_day": counts_by_day(summary),
    }


def paper_sheets_entry(summary: Summary, scans: Mapping[int, str] | None = None) -> dict[str, Any]:
    """Return what a manifest says of the paper sheets whose lines it lists, if there are any:
    each sheet's number, lines, the SHA-256 of the organisers' scan of it (or null) and, when
    the scan is in the ZIP, its name there (`scans`, by sheet number)."""
    if not summary.sheets:
        return {}
    scans = scans or {}
    sheets = [
        {
            "sheet": number,
            "lines": lines,
            "scan_sha256": scan,
            **({"scan": scans[number]} if number in scans else {}),
        }
        for number, lines, scan in summary.sheets
    ]
    return {"paper_sheets": sheets}


def signer_entry(key: SigningKey) -> dict[str, Any]:
    """Return what a manifest says of the key that signs it."""
    certificate = key.certificate
    return {
        "subject": certificate.subject.rfc4514_string(),
        "certificate_sha256": certificate.fingerprint(hashes.SHA256()).hex(),
        "development_key": key.development,
    }


def json_bytes(document: dict[str, Any]) -> bytes:
    """Return a JSON file's bytes: UTF-8, indented, with a final newline."""
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
