"""Exporting a petition's confirmed signatures into the signed bundle, and recording it.

The counts on the cover letter and the rows in the list must agree, so both are read inside one
snapshot: a REPEATABLE READ transaction on PostgreSQL, an explicit read transaction on SQLite, on a
connection of its own. The rows stream from that snapshot in signing order through a server-side
cursor, so memory does not grow with the petition.

Each row carries its receipt leaf into the bundle, which writes it in the CSV and puts the tree's
root in the manifest and on the cover letter. The same leaves wait in a temporary file until the
export is recorded: the tree's chunks, from which every receipt's proof is read, are stored in the
transaction that records the finished Delivery, and a failed export stores none. A sealed
petition's export carries the same leaves, in its rows.csv, and its tree is stored the same way.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from petitions.delivery.bundle import BundleResult, build_bundle
from petitions.delivery.keys import SigningKey, ensure_development_key, load_signing_key
from petitions.delivery.model import ExportInfo, PetitionInfo, Summary, new_bundle_identifier
from petitions.delivery.sealed import SEALED_SUFFIX, SealedRow, write_sealed_export
from petitions.extensions import db
from petitions.files import PRIVATE_DIRECTORY, private_directory
from petitions.merkle import HASH_SIZE
from petitions.models import (
    COUNTED_STATES,
    UNFINISHED_EXPORT_STATES,
    Delivery,
    DeliveryChannel,
    DeliveryKind,
    ExportStatus,
    InvalidTransition,
    Organiser,
    PaperSheet,
    Petition,
    PetitionState,
    Signature,
    utcnow,
)
from petitions.sealing import SealingPublicKey
from petitions.services import applicants, audit, milestones, queries, receipts
from petitions.services.privacy import keyring

#: How often a running export writes its progress where the organiser's page can read it.
PROGRESS_INTERVAL_SECONDS = 1.0
#: A running export whose progress has not moved for this long is taken to have died.
STALE_AFTER_SECONDS = 15 * 60


class ExportError(Exception):
    """An export cannot be made or recorded; the message says why."""


def signing_key() -> SigningKey:
    """Load the organisation's PKCS#12 key, or the development key kept under instance/."""
    settings = current_app.config["SETTINGS"]
    if settings.signing_key_file:
        return load_signing_key(settings.signing_key_file, settings.signing_key_password)
    return load_signing_key(ensure_development_key(current_app.config["INSTANCE_PATH"]), None)


def export_directory() -> Path:
    """Return the directory where bundles made from the browser are kept."""
    configured = current_app.config["SETTINGS"].export_dir
    path = Path(configured) if configured else Path(current_app.config["INSTANCE_PATH"]) / "exports"
    # The bundles hold signers' names and cities in clear: no other local user may list them.
    return private_directory(path)


def kind_of(petition: Petition, now: datetime) -> DeliveryKind:
    """Call an export of a petition still collecting "interim", of a finished one "final"."""
    if petition.effective_state(now) == PetitionState.OPEN:
        return DeliveryKind.INTERIM
    return DeliveryKind.FINAL


@contextlib.contextmanager
def _snapshot() -> Iterator[Session]:
    """Open a read-only session that sees one consistent state of the database."""
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        else:
            connection.exec_driver_sql("BEGIN")  # pysqlite would not begin before a SELECT
        with Session(bind=connection) as session:
            yield session
            session.rollback()


def _petition_info(petition: Petition) -> PetitionInfo:
    return PetitionInfo(
        slug=petition.slug,
        title=petition.title,
        body=petition.body,
        recipient=petition.recipient,
        language=petition.language,
        timezone=petition.timezone,
        opens_at=petition.opens_at,
        closes_at=petition.closes_at,
        organiser=petition.organiser.name,
        recipient_kind=str(petition.recipient_kind),
        applicant=applicants.applicant_info(petition.applicant),
    )


def _summary(session: Session, petition: Petition) -> Summary:
    by_country = queries.counts_by_country(petition, session=session)
    by_day = dict(queries.daily_counts(petition, session=session))
    paper = session.scalar(
        sa.select(sa.func.count()).where(
            Signature.petition_id == petition.id,
            Signature.state.in_(COUNTED_STATES),
            Signature.paper_sheet.is_not(None),
        )
    )
    sheets = session.execute(
        sa.select(PaperSheet.number, PaperSheet.line_count, PaperSheet.scan_sha256)
        .where(PaperSheet.petition_id == petition.id, PaperSheet.counted_at.is_not(None))
        .order_by(PaperSheet.number)
    ).all()
    return Summary(
        total=sum(by_country.values()),
        by_country=by_country,
        by_day=by_day,
        paper=paper or 0,
        sheets=tuple((number, lines, scan) for number, lines, scan in sheets),
    )


class LeafSpool:
    """An export's leaves in the bundle's order, kept on disk until the export is recorded.

    The tree's chunks cannot be stored while the rows are read: a worker's export commits its
    progress as it goes, which would commit them too, and SQLite takes one writer at a time. The
    leaves wait in an unnamed temporary file (32 bytes a row, 32 MB for a million), which
    disappears when closed, or with the process. A stored chunk of leaves keeps the place of its
    first row only, so only every `CHUNK_SIZE`th row's time and id are kept, in memory.
    """

    _BLOCK = 4096 * HASH_SIZE

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by `record`/`close`
        self._firsts: list[tuple[datetime, int]] = []
        self.size = 0

    def add(self, leaf: bytes, signed_at: datetime, signature_id: int) -> None:
        if self.size % receipts.CHUNK_SIZE == 0:
            self._firsts.append((signed_at, signature_id))
        self._file.write(leaf)
        self.size += 1

    def record(self, session: Session, delivery_id: int) -> tuple[int, bytes]:
        """Store the tree's chunks under `delivery_id` (flushed, not committed); (size, root)."""
        recorder = receipts.TreeRecorder(session, delivery_id)
        self._file.seek(0)
        index, first = 0, (None, None)
        while block := self._file.read(self._BLOCK):
            for start in range(0, len(block), HASH_SIZE):
                if index % receipts.CHUNK_SIZE == 0:
                    first = self._firsts[index // receipts.CHUNK_SIZE]
                # Only a chunk's first row is looked at; the others pass that row's place on.
                recorder.add(block[start : start + HASH_SIZE], *first)
                index += 1
        self.close()
        return recorder.finish()

    def close(self) -> None:
        self._file.close()


def _rows(session: Session, petition: Petition, spool: LeafSpool) -> Iterator[tuple[Any, ...]]:
    """Yield the counted signatures in signing order, numbered from 1, each with its leaf.

    Every leaf also goes to `spool`.
    """
    columns = (
        Signature.name,
        Signature.city,
        Signature.country,
        Signature.created_at,
        Signature.paper_sheet,
        Signature.paper_line,
    )
    for number, (name, city, country, signed_at, sheet, line), leaf in _with_leaves(
        session, petition, spool, columns
    ):
        source = None if sheet is None else (sheet, line)
        yield number, name, city, country, signed_at, leaf, source


def _sealed_rows(session: Session, petition: Petition, spool: LeafSpool) -> Iterator[SealedRow]:
    """Yield a sealed petition's counted signatures in signing order, as the server has them.

    Every leaf also goes to `spool`.
    """
    columns = (
        Signature.public_id,
        Signature.country,
        Signature.created_at,
        Signature.sealed,
        Signature.paper_sheet,
        Signature.paper_line,
    )
    for number, (public_id, country, signed_at, sealed, sheet, line), leaf in _with_leaves(
        session, petition, spool, columns
    ):
        source = None if sheet is None else (sheet, line)
        yield SealedRow(number, public_id, country, signed_at, bytes(sealed), leaf, source)


def _with_leaves(
    session: Session, petition: Petition, spool: LeafSpool, columns: tuple[Any, ...]
) -> Iterator[tuple[int, tuple[Any, ...], bytes]]:
    """Yield (number, `columns`, leaf) of the counted signatures in signing order.

    A signature made before receipts has no stored leaf: it is computed from its public id, as
    its receipt would be.
    """
    if not petition.public_id:
        raise ExportError("the petition has no public id, which every receipt's leaf needs")
    result = session.execute(
        sa.select(
            *columns,
            Signature.receipt_leaf,
            # Only an old signature's leaf is computed from its public id: reading every public
            # id would cost a second per million rows.
            sa.case((Signature.receipt_leaf.is_(None), Signature.public_id)),
            Signature.id,
            Signature.created_at,
            Signature.paper_sheet,
        )
        .where(Signature.petition_id == petition.id, Signature.state.in_(COUNTED_STATES))
        # Online signatures in signing order, then paper lines by sheet and line.
        .order_by(
            sa.case((Signature.paper_sheet.is_(None), 0), else_=1),
            Signature.paper_sheet,
            Signature.paper_line,
            Signature.created_at,
            Signature.id,
        )
        .execution_options(yield_per=2000)
    )
    ring, petition_id, width = keyring(), petition.public_id, len(columns)
    for number, row in enumerate(result, start=1):
        leaf, public_id, row_id, signed_at, sheet = row[width:]
        leaf = bytes(leaf) if leaf is not None else receipts.leaf_of(petition_id, public_id, ring)
        # A paper line has no receipt code to look up: a chunk it begins keeps no place, so
        # that an online signature's receipt never looks for itself among paper lines.
        if sheet is None:
            spool.add(leaf, signed_at, row_id)
        else:
            spool.add(leaf, None, None)
        yield number, tuple(row[:width]), leaf


@dataclass(frozen=True)
class ExportResult:
    """A bundle just written and, unless it is sealed, its leaves waiting to be recorded."""

    bundle: BundleResult
    #: None for an export without receipts.
    leaves: LeafSpool | None = None

    @property
    def path(self) -> Path:
        return self.bundle.path

    @property
    def sha256(self) -> str:
        return self.bundle.sha256

    @property
    def signature_count(self) -> int:
        return self.bundle.signature_count


@dataclass(frozen=True)
class ExportRequest:
    petition: Petition
    #: A .zip path, or a directory for the default name <slug>-<YYYYMMDD>.zip (.sealed.zip for
    #: a sealed petition).
    output: Path
    kind: DeliveryKind
    now: datetime
    overwrite: bool = False
    #: The organiser's scans of counted sheets to include, by sheet number (`scans_in`); the
    #: server never keeps them.
    paper_scans: Mapping[int, Path] = field(default_factory=dict)


#: A scan's file name in the folder the organiser gives: the sheet's number, an image's suffix.
_SCAN_FILE = re.compile(r"sheet-([1-9][0-9]{0,4})\.(png|jpe?g|webp|tiff?)", re.IGNORECASE)


def scans_in(directory: Path) -> dict[int, Path]:
    """Return the scans in `directory` by sheet number: every file must be named
    sheet-<N>.<png|jpg|jpeg|webp|tif|tiff>, one for each sheet (ExportError otherwise)."""
    try:
        entries = sorted(directory.iterdir())
    except OSError as error:
        raise ExportError(f"{directory}: {error.strerror}") from None
    scans: dict[int, Path] = {}
    for path in entries:
        found = _SCAN_FILE.fullmatch(path.name)
        if found is None or not path.is_file():
            raise ExportError(
                f"{path}: not a sheet's scan: name each sheet-<number>.png, .jpg, .webp or .tif"
            )
        number = int(found.group(1))
        if number in scans:
            raise ExportError(f"{path}: sheet {number} has another scan, {scans[number].name}")
        scans[number] = path
    return scans


def build(request: ExportRequest, progress: Callable[[int, int], None] | None) -> ExportResult:
    """Build the signed bundle of a petition's counted signatures from one snapshot.

    `record_export` then records it, and stores its receipts' tree. A final bundle is refused
    (`applicants.MissingApplicant`) unless the petition has an applicant.
    """
    petition, now = request.petition, request.now
    if request.kind == DeliveryKind.FINAL:
        applicants.require_applicant(petition)
    if request.paper_scans and petition.is_sealed:
        raise ExportError(
            "a sealed petition's export cannot carry the sheets' scans yet: their SHA-256 are in "
            "its manifest"
        )
    export = ExportInfo(
        identifier=new_bundle_identifier(petition.slug, now, petition.timezone),
        generated_at=now,
        final=request.kind == DeliveryKind.FINAL,
        generator_version=_version(),
    )
    with _snapshot() as session:
        summary = _summary(session, petition)
        if progress:
            progress(0, summary.total)
        leaves = LeafSpool()
        try:
            bundle = _write(request, export, summary, session, leaves, progress)
        except BaseException:
            leaves.close()
            raise
        return ExportResult(bundle, leaves)


def _write(
    request: ExportRequest,
    export: ExportInfo,
    summary: Summary,
    session: Session,
    leaves: LeafSpool,
    progress: Callable[[int, int], None] | None,
) -> BundleResult:
    """Write the bundle, or a sealed petition's sealed export, its leaves going to `leaves`."""
    petition = request.petition
    if petition.is_sealed:
        # Nothing here can open the rows: they go out as sealed as they came in, for the
        # organiser to unseal offline into the bundle (`flask bundles unseal`).
        return write_sealed_export(
            _petition_info(petition),
            export,
            summary,
            _sealed_rows(session, petition, leaves),
            signing_key(),
            SealingPublicKey.parse(petition.sealing_key),
            _output_path(request),
            progress=progress,
            overwrite=request.overwrite,
        )
    return build_bundle(
        _petition_info(petition),
        export,
        summary,
        _rows(session, petition, leaves),
        signing_key(),
        _output_path(request),
        receipts=True,
        timestamping=current_app.config["SETTINGS"].timestamp_url,
        progress=progress,
        overwrite=request.overwrite,
        scans=request.paper_scans,
    )


def _output_path(request: ExportRequest) -> Path:
    """Name the bundle in a directory <slug>-<YYYYMMDD>.zip, then -2, -3… for the same day.

    The name is what the organiser downloads: a second export of the day must not arrive under
    the name of the first, which the browser would rename or the organiser overwrite.
    """
    if not request.output.is_dir():
        return request.output
    petition = request.petition
    stem = f"{petition.slug}-{request.now.astimezone(petition.zone):%Y%m%d}"
    suffix = SEALED_SUFFIX if petition.is_sealed else ".zip"
    taken = set(
        db.session.scalars(
            sa.select(Delivery.bundle_filename).where(Delivery.petition_id == petition.id)
        )
    )
    number, name = 1, f"{stem}{suffix}"
    while name in taken or (request.output / name).exists():
        number += 1
        name = f"{stem}-{number}{suffix}"
    return request.output / name


def _version() -> str:
    from petitions import __version__

    return __version__


def record_export(
    petition: Petition,
    result: ExportResult,
    kind: DeliveryKind,
    actor: Organiser | None,
    now: datetime,
    delivery: Delivery | None = None,
) -> Delivery:
    """Record a finished export: who, when, which file, its SHA-256, how many signatures, and
    its receipts' tree (stored in chunks for the receipts' proofs)."""
    delivery = delivery or Delivery(petition=petition, kind=kind, exported_by_id=actor and actor.id)
    delivery.status = ExportStatus.DONE
    delivery.finished_at = now
    delivery.bundle_filename = result.path.name
    delivery.bundle_sha256 = result.sha256
    delivery.signature_count = result.signature_count
    delivery.rows_done = delivery.rows_total = result.signature_count
    db.session.add(delivery)
    db.session.flush()
    if result.leaves is not None:
        _record_tree(delivery, result)
    audit.record(
        "export",
        actor=actor,
        actor_label="cli",
        petition=petition,
        kind=str(kind),
        signatures=result.signature_count,
        sha256=result.sha256,
        file=result.path.name,
    )
    return delivery


def _record_tree(delivery: Delivery, result: ExportResult) -> None:
    """Store the export's tree under its Delivery; it must be the tree the bundle carries."""
    assert result.leaves is not None  # noqa: S101 - the caller checked
    size, root = result.leaves.record(db.session, delivery.id)
    tree = result.bundle.tree
    if tree is None or (tree.size, tree.root) != (size, root):
        raise ExportError("the receipts' tree of the rows read differs from the bundle's")
    delivery.tree_size, delivery.tree_root = size, root.hex()


def queue_export(petition: Petition, actor: Organiser, now: datetime) -> Delivery:
    """Ask the worker for an export; the organiser's page follows its progress."""
    waiting = db.session.scalar(
        sa.select(Delivery).where(
            Delivery.petition_id == petition.id, Delivery.status.in_(UNFINISHED_EXPORT_STATES)
        )
    )
    if waiting is not None:
        return waiting
    kind = kind_of(petition, now)
    if kind == DeliveryKind.FINAL:
        applicants.require_applicant(petition)
    delivery = Delivery(petition=petition, kind=kind, exported_by_id=actor.id)
    db.session.add(delivery)
    db.session.flush()
    return delivery


def claim_export(now: datetime) -> Delivery | None:
    """Take the oldest queued export (or one abandoned by a dead worker) for this worker."""
    stale = now.timestamp() - STALE_AFTER_SECONDS
    for delivery in db.session.scalars(
        sa.select(Delivery)
        .where(Delivery.status.in_(UNFINISHED_EXPORT_STATES))
        .order_by(Delivery.id)
        .with_for_update(skip_locked=True)
    ):
        beat = delivery.heartbeat_at or delivery.exported_at
        if delivery.status == ExportStatus.QUEUED or beat.timestamp() < stale:
            delivery.status = ExportStatus.RUNNING
            delivery.heartbeat_at = now
            delivery.rows_done = 0
            db.session.flush()
            return delivery
    return None


class _ProgressWriter:
    """Write a running export's progress in short transactions of its own, at most once a second."""

    def __init__(self, delivery_id: int) -> None:
        self.delivery_id = delivery_id
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if time.monotonic() - self.last < PROGRESS_INTERVAL_SECONDS and done < total:
            return
        self.last = time.monotonic()
        db.session.execute(
            sa.update(Delivery)
            .where(Delivery.id == self.delivery_id)
            .values(rows_done=done, rows_total=total, heartbeat_at=utcnow())
        )
        db.session.commit()


def run_export(delivery: Delivery, now: datetime) -> Delivery:
    """Build a claimed export, then record it as done or failed (the caller commits)."""
    petition = delivery.petition
    # A directory per export keeps the bundle's own name, <slug>-<YYYYMMDD>.zip, for the download.
    output = export_directory() / str(delivery.id)
    output.mkdir(mode=PRIVATE_DIRECTORY, exist_ok=True)
    request = ExportRequest(petition, output, delivery.kind, now, overwrite=True)
    delivery_id = delivery.id
    try:
        result = build(request, _ProgressWriter(delivery_id))
        delivery = db.session.get(Delivery, delivery_id)
        actor = (
            db.session.get(Organiser, delivery.exported_by_id) if delivery.exported_by_id else None
        )
        return record_export(petition, result, delivery.kind, actor, utcnow(), delivery)
    except Exception as error:  # any failure must end as a status the organiser can read
        db.session.rollback()  # and with it any chunk of the tree already stored
        delivery = db.session.get(Delivery, delivery_id)
        delivery.status = ExportStatus.FAILED
        delivery.error = f"{type(error).__name__}: {error}"[:500]
        delivery.finished_at = utcnow()
        return delivery


def bundle_path(delivery: Delivery) -> Path | None:
    """Return the file of a finished export made from the browser, if it is still there."""
    if delivery.status != ExportStatus.DONE or not delivery.bundle_filename:
        return None
    path = export_directory() / str(delivery.id) / delivery.bundle_filename
    return path if path.is_file() else None


@dataclass(frozen=True)
class DeliveryRecord:
    delivered_at: datetime
    delivered_to: str
    channel: DeliveryChannel
    #: The number and day the recipient's office registered the appeal under, if known.
    registration_number: str = ""
    registered_on: date | None = None
    #: A tracking number or any other reference.
    reference: str = ""


_ALREADY_RECORDED = _l(
    "This export's delivery is already recorded and is part of the public record, which never "
    "changes. To record another delivery, make a new final export."
)


def _stamp_delivery(delivery: Delivery, record: DeliveryRecord) -> None:
    """Write the delivery once: a guarded UPDATE, so that of two at once only one is kept."""
    changed = db.session.execute(
        sa.update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.delivered_at.is_(None))
        .values(
            delivered_at=record.delivered_at,
            delivered_to=record.delivered_to or None,
            channel=record.channel,
            registration_number=record.registration_number or None,
            registered_on=record.registered_on,
            reference=record.reference or None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(delivery)
    if changed.rowcount != 1:
        raise ExportError(_ALREADY_RECORDED)


_REGISTRATION_RECORDED = _l(
    "This delivery's registration is already recorded and is part of the public record, which "
    "never changes."
)


def record_registration(
    delivery: Delivery, number: str, registered_on: date, actor: Organiser
) -> None:
    """Add the registration number and date the recipient's office gave, days after the
    delivery, to a recorded delivery that has neither; once, like the delivery itself."""
    if delivery.delivered_at is None:
        raise ExportError(_l("Record the delivery first, then the registration."))
    if delivery.registration_number is not None or delivery.registered_on is not None:
        raise ExportError(_REGISTRATION_RECORDED)
    if registered_on < delivery.delivered_at.astimezone(delivery.petition.zone).date():
        raise ExportError(_l("The registration cannot come before the delivery."))
    # Guarded like the delivery: of two forms sent at once, only one is kept.
    changed = db.session.execute(
        sa.update(Delivery)
        .where(
            Delivery.id == delivery.id,
            Delivery.delivered_at.is_not(None),
            Delivery.registration_number.is_(None),
            Delivery.registered_on.is_(None),
        )
        .values(registration_number=number, registered_on=registered_on)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(delivery)
    if changed.rowcount != 1:
        raise ExportError(_REGISTRATION_RECORDED)
    audit.record(
        "delivery_registration",
        actor=actor,
        petition=delivery.petition,
        registration=number,
        registered_on=registered_on.isoformat(),
        sha256=delivery.bundle_sha256,
    )
    db.session.flush()


def record_delivery(delivery: Delivery, record: DeliveryRecord, actor: Organiser) -> None:
    """Record that a final bundle reached the recipient; the public page then says so.

    Once recorded, a delivery is part of the public, append-only record: it is never rewritten,
    so a second recording of the same export is refused, changing nothing.
    """
    if delivery.status != ExportStatus.DONE or delivery.kind != DeliveryKind.FINAL:
        raise ExportError(_l("Only a finished final export can be recorded as delivered."))
    if delivery.delivered_at is not None:
        raise ExportError(_ALREADY_RECORDED)
    petition = delivery.petition
    still_open = petition.effective_state(record.delivered_at) == PetitionState.OPEN
    if petition.state == PetitionState.OPEN and still_open:
        raise ExportError(_l("Close the petition before recording its delivery."))
    _stamp_delivery(delivery, record)
    if petition.state == PetitionState.OPEN:
        petition.close(record.delivered_at)  # its deadline passed before the job recorded it
        milestones.tell_team(petition.id, milestones.TeamNotice.PETITION_CLOSED)
    if petition.state == PetitionState.CLOSED:
        try:
            petition.mark_delivered(record.delivered_at)
        except InvalidTransition as error:
            raise ExportError(error.user_message) from error
    audit.record(
        "deliver",
        actor=actor,
        petition=petition,
        to=record.delivered_to,
        how=str(record.channel),
        registration=record.registration_number,
        registered_on=record.registered_on.isoformat() if record.registered_on else None,
        reference=record.reference,
        sha256=delivery.bundle_sha256,
    )
    db.session.flush()
