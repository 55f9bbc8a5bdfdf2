"""Checking a bundle as its recipient would: what `flask bundles verify FILE.zip` reports.

Trusts nothing in the ZIP but the layout `bundle` writes: every listed file's SHA-256 against the
manifest, no file missing or extra, the manifest's detached signature and each PDF's signature,
all against the certificate the bundle carries, and the receipts' tree: its root recomputed from
the CSV's `leaf` column must be the manifest's. docs/verifying-a-bundle.md says the same for
people checking by hand. `check_signed_manifest` is the part a sealed export shares.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from petitions.delivery.archive import CHUNK
from petitions.delivery.bundle import (
    CSV_NAME,
    FORMAT,
    LEAF_COLUMN,
    MANIFEST,
    MANIFEST_SIGNATURE,
    ONLINE,
    SCANS_FOLDER,
    SIGNER,
    SOURCE_COLUMN,
)
from petitions.delivery.keys import is_development_certificate
from petitions.delivery.model import APPLICANT_KINDS, RECIPIENT_KINDS
from petitions.delivery.signature import (
    SignatureCheck,
    check_detached,
    check_pdf,
    load_certificate,
)
from petitions.merkle import RootBuilder
from petitions.receipts import TREE

#: What reading a damaged ZIP member can raise.
DAMAGED = (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error)
_HEX_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle, named by the file it concerns."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass
class VerificationReport:
    """The result of `verify_bundle`: valid only when no problem was found."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    signer: str | None = None
    development_key: bool | None = None

    @property
    def valid(self) -> bool:
        """Return whether every check passed."""
        return not self.problems

    def add(self, file: str, message: str) -> None:
        """Record a problem with `file`."""
        self.problems.append(Problem(file, message))

    def __str__(self) -> str:
        lines = [f"{self.path.name}: {'valid' if self.valid else 'INVALID'}"]
        if self.signer:
            kind = " (development key, not the organisation's)" if self.development_key else ""
            lines.append(f"signed by: {self.signer}{kind}")
        lines += [f"  problem: {problem}" for problem in self.problems]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def verify_bundle(path: Path | str) -> VerificationReport:
    """Check a bundle: every hash, no file missing or extra, and every signature."""
    report = VerificationReport(Path(path))
    archive = open_zip(report)
    if archive is None:
        return report
    with archive, tempfile.TemporaryDirectory(prefix="petitions-verify-") as scratch:
        _verify_archive(archive, report, Path(scratch))
    return report


def open_zip(report: VerificationReport) -> zipfile.ZipFile | None:
    """Open the ZIP at `report.path`, or record that it cannot be read and return None."""
    try:
        return zipfile.ZipFile(report.path)
    except (zipfile.BadZipFile, OSError):
        report.add(report.path.name, "is not a readable ZIP file")
        return None


def _verify_archive(archive: zipfile.ZipFile, report: VerificationReport, scratch: Path) -> None:
    manifest, certificate = check_signed_manifest(archive, report, (CSV_NAME, SIGNER))
    if manifest is None:
        return
    listed = manifest["files"]
    kind = manifest.get("format", FORMAT)
    if kind != FORMAT:
        report.add(MANIFEST, f"is of the format {kind!r}, not a bundle's ({FORMAT})")
    report.notes.append(f"bundle {manifest.get('bundle')}, {manifest.get('export')} export")
    _verify_parties(manifest, report)
    if not any(name.endswith(".pdf") for name in listed):
        report.add(MANIFEST, "lists no PDF")
    _verify_receipts(archive, manifest, report)
    _verify_scans(manifest, listed, report)
    if certificate is not None:
        _verify_pdfs(archive, listed, certificate, report, scratch)


def _verify_parties(manifest: dict[str, Any], report: VerificationReport) -> None:
    """Check the recipient's and the applicant's kinds, and that a final bundle names an
    applicant; a bundle made before the manifest named them is noted, not refused."""
    if "recipient" not in manifest:
        report.notes.append("parties: the manifest names no recipient's kind nor applicant")
        return
    recipient, applicant = manifest["recipient"], manifest.get("applicant")
    kind = recipient.get("kind") if isinstance(recipient, dict) else None
    if kind not in RECIPIENT_KINDS:
        report.add(MANIFEST, f"its recipient's kind {kind!r} is not one of {RECIPIENT_KINDS}")
        return
    if applicant is None:
        if manifest.get("export") == "final":
            report.add(MANIFEST, "is of a final export but names no applicant")
        else:
            report.notes.append(f"parties: to a recipient of the kind {kind}, no applicant")
        return
    applicant_kind = applicant.get("kind") if isinstance(applicant, dict) else None
    if applicant_kind not in APPLICANT_KINDS or not applicant.get("name"):
        report.add(MANIFEST, "its applicant is not a person or an organisation with a name")
        return
    invented = " (a demonstration, invented)" if applicant.get("demonstration") else ""
    report.notes.append(
        f"parties: to a recipient of the kind {kind}, from the {applicant_kind} "
        f"{applicant['name']}{invented}"
    )


def check_signed_manifest(
    archive: zipfile.ZipFile, report: VerificationReport, required: tuple[str, ...]
) -> tuple[dict[str, Any] | None, Any]:
    """Check the manifest's signature by signer.pem and every file it lists against its hash.

    Records each problem in `report`. Returns the manifest (None if it cannot be read) and the
    signer's certificate (None if it cannot be read). A file of `required` must be listed.
    """
    report.files = archive.namelist()
    duplicates = sorted({name for name in report.files if report.files.count(name) > 1})
    for name in duplicates:
        report.add(name, "appears more than once in the ZIP")
    manifest_data = _read_member(archive, MANIFEST, report)
    certificate = _signer_certificate(archive, report)
    if manifest_data is None:
        return None, certificate
    if certificate is not None:
        signature = _read_member(archive, MANIFEST_SIGNATURE, report)
        if signature is not None:
            check = check_detached(manifest_data, signature, certificate)
            _record(report, MANIFEST_SIGNATURE, check)
            if check.content_changed:
                report.add(MANIFEST, "was changed after it was signed (see manifest.json.p7s)")
    manifest = _read_manifest(manifest_data, report)
    if manifest is not None:
        _verify_listing(archive, manifest["files"], report, required)
    return manifest, certificate


def _read_member(archive: zipfile.ZipFile, name: str, report: VerificationReport) -> bytes | None:
    if name not in report.files:
        report.add(name, "is missing")
        return None
    try:
        return archive.read(name)
    except DAMAGED:
        report.add(name, "is damaged (its ZIP checksum fails)")
        return None


def _signer_certificate(archive: zipfile.ZipFile, report: VerificationReport) -> Any:
    data = _read_member(archive, SIGNER, report)
    if data is None:
        return None
    try:
        certificate = load_certificate(data)
        certificate.native  # noqa: B018 - parse it all now, so damage shows here
        parsed = x509.load_der_x509_certificate(certificate.dump())
        report.signer = parsed.subject.rfc4514_string()
        report.development_key = is_development_certificate(parsed)
    except Exception:  # any parse failure means the same to the reader
        report.add(SIGNER, "is not a readable certificate")
        return None
    return certificate


def _read_manifest(manifest_data: bytes, report: VerificationReport) -> dict[str, Any] | None:
    try:
        manifest = json.loads(manifest_data)
        files = manifest["files"]
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise TypeError("files must map names to hashes")
    except (ValueError, KeyError, TypeError):
        report.add(MANIFEST, "is not a readable manifest (JSON with a list of files)")
        return None
    return manifest


def _verify_listing(
    archive: zipfile.ZipFile,
    listed: dict[str, str],
    report: VerificationReport,
    required: tuple[str, ...],
) -> None:
    for name, expected in listed.items():
        if name not in report.files:
            report.add(name, "is listed in manifest.json but missing from the bundle")
            continue
        actual = _member_sha256(archive, name)
        if actual is None:
            report.add(name, "is damaged (its ZIP checksum fails)")
        elif actual != expected.lower():
            report.add(name, "has changed: its SHA-256 differs from the one in manifest.json")
    for name in report.files:
        if name not in listed and name not in (MANIFEST, MANIFEST_SIGNATURE):
            report.add(name, "is not listed in manifest.json")
    for name in required:
        if name not in listed and name not in report.files:
            report.add(name, "is missing")


def _member_sha256(archive: zipfile.ZipFile, name: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with archive.open(name) as member:
            while chunk := member.read(CHUNK):
                digest.update(chunk)
    except DAMAGED:
        return None
    return digest.hexdigest()


def _verify_receipts(
    archive: zipfile.ZipFile, manifest: dict[str, Any], report: VerificationReport
) -> None:
    """Recompute the receipts' tree from the CSV's leaves and compare it with the manifest's."""
    if "receipts" not in manifest:
        report.notes.append("receipts: none (a bundle made before receipts), no tree to check")
        return
    claimed = claimed_tree(manifest, report)
    if claimed is None or CSV_NAME not in report.files:
        return
    size, root = claimed
    sources: dict[str, int] = {}
    tree = _tree_of_csv(archive, report, sources)
    if tree is None:
        return
    if tree.size != size:
        report.add(CSV_NAME, f"has {tree.size} leaves, but the manifest's receipts tree {size}")
    elif tree.root.hex() != root:
        report.add(
            CSV_NAME,
            f"its leaves make a tree with the root {tree.root.hex()}, not the manifest's {root}",
        )
    else:
        leaves = "1 leaf makes" if size == 1 else f"{size} leaves make"
        report.notes.append(f"receipts: the CSV's {leaves} the manifest's root {root}")
        _verify_sources(manifest, sources, report)


def claimed_tree(manifest: dict[str, Any], report: VerificationReport) -> tuple[int, str] | None:
    """Return the manifest's (tree size, root in hex), or record why it is not one."""
    receipts = manifest["receipts"]
    if not isinstance(receipts, dict):
        report.add(MANIFEST, "its receipts are not an object with tree, tree_size and root")
        return None
    tree, size, root = receipts.get("tree"), receipts.get("tree_size"), receipts.get("root")
    if tree != TREE:
        report.add(MANIFEST, f"its receipts tree is {tree!r}, not one this check knows ({TREE})")
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        report.add(MANIFEST, "its receipts tree_size is not a whole number")
        return None
    if not isinstance(root, str) or not _HEX_HASH.fullmatch(root):
        report.add(MANIFEST, "its receipts root is not a SHA-256 in lowercase hex")
        return None
    counts = manifest.get("counts")
    counted = counts.get("signatures") if isinstance(counts, dict) else None
    if counted != size:
        report.add(MANIFEST, f"its receipts tree has {size} leaves, but it counts {counted}")
    return size, root


def _verify_scans(
    manifest: dict[str, Any], listed: dict[str, str], report: VerificationReport
) -> None:
    """Check that each sheet's scan in the ZIP is listed with the SHA-256 its sheet records,
    and that the scans' folder holds nothing else (the listing's check compared the bytes)."""
    sheets = manifest.get("paper_sheets")
    named = set()
    for entry in sheets if isinstance(sheets, list) else []:
        name = entry.get("scan") if isinstance(entry, dict) else None
        if name is None:
            continue
        number = entry.get("sheet")
        if not isinstance(name, str) or name not in listed:
            report.add(MANIFEST, f"sheet {number}'s scan {name!r} is not among its files")
        elif listed[name].lower() != str(entry.get("scan_sha256")).lower():
            report.add(name, f"is listed with another SHA-256 than sheet {number}'s scan_sha256")
        else:
            named.add(name)
    for name in sorted(listed):
        if name.startswith(SCANS_FOLDER) and name not in named:
            report.add(name, "is in the scans' folder but is no sheet's scan in manifest.json")
    if named:
        names = ", ".join(sorted(named))
        report.notes.append(f"scans: {names}, each with the SHA-256 its sheet records")


def _verify_sources(
    manifest: dict[str, Any], sources: dict[str, int], report: VerificationReport
) -> None:
    """Compare the CSV's rows online and on paper with the manifest's counts of each."""
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or "paper" not in counts:
        report.notes.append("sources: the manifest does not count online and paper apart")
        return
    if not sources:
        report.add(CSV_NAME, f"has no {SOURCE_COLUMN} column, which the manifest's counts need")
        return
    online, paper = sources.get(ONLINE, 0), sources.get("paper", 0)
    rows = "1 row" if online == 1 else f"{online} rows"
    if (online, paper) != (counts.get("online"), counts.get("paper")):
        report.add(
            CSV_NAME,
            f"has {rows} online and {paper} on paper, but the manifest counts "
            f"{counts.get('online')} and {counts.get('paper')}",
        )
    else:
        report.notes.append(f"sources: {rows} online and {paper} on paper, as counted")


def _source_kind(cell: str) -> str | None:
    """Return "online" or "paper" for a `source` cell of the right form, else None."""
    if cell == ONLINE:
        return ONLINE
    return "paper" if _PAPER_SOURCE.fullmatch(cell) else None


_PAPER_SOURCE = re.compile(r"paper, sheet [1-9][0-9]*, line [1-9][0-9]*")


def _tree_of_csv(
    archive: zipfile.ZipFile, report: VerificationReport, sources: dict[str, int]
) -> RootBuilder | None:
    """Build the tree over the CSV's `leaf` column in row order, or record why it cannot be.

    With a `source` column, `sources` gets the rows online and on paper."""
    tree = RootBuilder()
    try:
        with archive.open(CSV_NAME) as member:
            text = io.TextIOWrapper(member, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            header = next(reader, [])
            if LEAF_COLUMN not in header:
                report.add(CSV_NAME, f"has no {LEAF_COLUMN} column, which the receipts need")
                return None
            column = header.index(LEAF_COLUMN)
            source = header.index(SOURCE_COLUMN) if SOURCE_COLUMN in header else None
            if source is not None:
                sources.update({ONLINE: 0, "paper": 0})
            for number, row in enumerate(reader, start=1):
                leaf = row[column] if column < len(row) else ""
                if not _HEX_HASH.fullmatch(leaf):
                    report.add(CSV_NAME, f"row {number}: its leaf is not 64 lowercase hex digits")
                    return None
                tree.append(bytes.fromhex(leaf))
                if source is not None:
                    kind = _source_kind(row[source] if source < len(row) else "")
                    if kind is None:
                        report.add(CSV_NAME, f"row {number}: its source is not one this knows")
                        return None
                    sources[kind] = sources.get(kind, 0) + 1
    except (*DAMAGED, csv.Error):
        report.add(CSV_NAME, "cannot be read as UTF-8 CSV, so its leaves cannot be checked")
        return None
    return tree


def _verify_pdfs(
    archive: zipfile.ZipFile,
    listed: dict[str, str],
    certificate: Any,
    report: VerificationReport,
    scratch: Path,
) -> None:
    for name in sorted(n for n in listed if n.endswith(".pdf") and n in report.files):
        copy = scratch / "volume.pdf"
        try:
            with archive.open(name) as member, copy.open("wb") as file:
                shutil.copyfileobj(member, file, CHUNK)
        except DAMAGED:
            continue  # reported as damaged by the hash check already
        with copy.open("rb") as file:
            _record(report, name, check_pdf(file, certificate))
        copy.unlink()


def _record(report: VerificationReport, name: str, check: SignatureCheck) -> None:
    for message in check.problems:
        report.add(name, message)
    report.notes += [f"{name}: {note}" for note in check.notes]
