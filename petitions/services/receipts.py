"""Receipts on the server: every signature's code and leaf, every export's tree, and the proofs.

The formulas are petitions.receipts'. An export hands its rows' leaves, in the bundle's order, to
a `TreeRecorder`, which stores the tree's levels in chunks (`ReceiptChunk`) as they fill; a
receipt's proof then reads one chunk of leaves to find the signature's place and the few chunks
its audit path crosses, however large the tree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, load_only

from petitions.crypto import Keyring
from petitions.extensions import db
from petitions.merkle import HASH_SIZE, ChunkedTree, path_positions, verify_inclusion
from petitions.models import (
    Delivery,
    ExportStatus,
    Petition,
    ReceiptChunk,
    Signature,
)
from petitions.receipts import is_receipt_code, receipt_code, receipt_leaf
from petitions.services.privacy import keyring

#: Hashes per stored chunk (16 KB). Reading relies on it: never change it for stored trees.
CHUNK_SIZE = 512
#: Chunks written per INSERT.
_BATCH = 64
#: The columns a receipt reads of its signature.
_RECEIPT_COLUMNS = (
    Signature.id,
    Signature.petition_id,
    Signature.public_id,
    Signature.state,
    Signature.created_at,
    Signature.confirmed_at,
    Signature.withdrawn_at,
    Signature.invalidated_at,
    Signature.invalidation_reason,
    Signature.receipt_leaf,
)
#: Stands in for a malformed code, so that it costs the same lookup as an unknown one.
_NO_CODE = "a" * 24


def code_of(signature_public_id: str, ring: Keyring | None = None) -> str:
    """Return the receipt code of the signature with this public id."""
    return receipt_code(ring or keyring(), signature_public_id)


def leaf_of(
    petition_public_id: str, signature_public_id: str, ring: Keyring | None = None
) -> bytes:
    """Return the leaf of a signature, from its petition's public id and its own."""
    return receipt_leaf(petition_public_id, code_of(signature_public_id, ring))


def find_signature(petition: Petition, code: str) -> Signature | None:
    """Return the petition's signature with this receipt code, or None.

    A malformed code runs the same query as an unknown one, so that neither answers faster.
    """
    well_formed = is_receipt_code(code)
    leaf = receipt_leaf(petition.public_id, code if well_formed else _NO_CODE)
    signature = db.session.scalars(
        sa.select(Signature)
        # What a receipt shows, and no more: the encrypted columns are neither read nor decrypted.
        .options(load_only(*_RECEIPT_COLUMNS))
        .where(Signature.petition_id == petition.id, Signature.receipt_leaf == leaf)
    ).first()
    return signature if well_formed else None


class TreeRecorder:
    """Take an export's leaves in the bundle's order and store its tree's chunks as they fill."""

    def __init__(self, session: Session, delivery_id: int, chunk_size: int = CHUNK_SIZE) -> None:
        self._session, self._delivery_id = session, delivery_id
        self._pending: list[dict] = []
        self._tree = ChunkedTree(self._keep, chunk_size)

    def add(self, leaf: bytes, signed_at: datetime, signature_id: int) -> None:
        self._tree.append(leaf, key=(signed_at, signature_id))

    def _keep(self, level: int, number: int, hashes: bytes, key: tuple | None) -> None:
        first_at, first_id = key if key is not None else (None, None)
        self._pending.append(
            {
                "delivery_id": self._delivery_id,
                "level": level,
                "number": number,
                "first_at": first_at,
                "first_id": first_id,
                "hashes": hashes,
            }
        )
        if len(self._pending) >= _BATCH:
            self._write()

    def _write(self) -> None:
        if self._pending:
            self._session.execute(sa.insert(ReceiptChunk), self._pending)
            self._pending = []

    def finish(self) -> tuple[int, bytes]:
        """Store what is left and return the tree's (size, root)."""
        size, root = self._tree.finish()
        self._write()
        return size, root


@dataclass(frozen=True)
class Inclusion:
    """Where a signature stands in one export's tree."""

    delivery: Delivery
    leaf_index: int | None
    audit_path: tuple[bytes, ...]
    #: Whether the path, checked here, leads from the leaf to the export's root.
    proof_holds: bool

    @property
    def included(self) -> bool:
        return self.leaf_index is not None


def inclusion(delivery: Delivery, signature: Signature, leaf: bytes) -> Inclusion:
    """Find `signature` (whose leaf is `leaf`) in `delivery`'s tree and check its proof there."""
    size, root = delivery.tree_size, bytes.fromhex(delivery.tree_root or "")
    if not size:
        return Inclusion(delivery, None, (), False)
    chunk = db.session.execute(
        sa.select(ReceiptChunk.number, ReceiptChunk.hashes)
        .where(
            ReceiptChunk.delivery_id == delivery.id,
            ReceiptChunk.level == 0,
            sa.or_(
                ReceiptChunk.first_at < signature.created_at,
                sa.and_(
                    ReceiptChunk.first_at == signature.created_at,
                    ReceiptChunk.first_id <= signature.id,
                ),
            ),
        )
        .order_by(ReceiptChunk.first_at.desc(), ReceiptChunk.first_id.desc())
        .limit(1)
    ).first()
    place = _place(bytes(chunk.hashes), leaf) if chunk is not None else None
    if place is None:
        return Inclusion(delivery, None, (), False)
    index = chunk.number * CHUNK_SIZE + place
    positions = path_positions(index, size)
    wanted = {(level, at // CHUNK_SIZE) for level, at in positions}
    stored = {
        (row.level, row.number): bytes(row.hashes)
        for row in db.session.execute(
            sa.select(ReceiptChunk.level, ReceiptChunk.number, ReceiptChunk.hashes).where(
                ReceiptChunk.delivery_id == delivery.id,
                sa.tuple_(ReceiptChunk.level, ReceiptChunk.number).in_(sorted(wanted)),
            )
        )
    }
    path = []
    for level, at in positions:
        hashes = stored.get((level, at // CHUNK_SIZE), b"")
        offset = (at % CHUNK_SIZE) * HASH_SIZE
        path.append(hashes[offset : offset + HASH_SIZE])
    holds = verify_inclusion(leaf, index, size, path, root)
    return Inclusion(delivery, index, tuple(path), holds)


def _place(hashes: bytes, leaf: bytes) -> int | None:
    """Return the position of `leaf` among the joined hashes, or None."""
    start = hashes.find(leaf)
    while start != -1:
        if start % HASH_SIZE == 0:
            return start // HASH_SIZE
        start = hashes.find(leaf, start + 1)
    return None


class ReceiptStatus(enum.StrEnum):
    """Where a signature stands, as its receipt says: its state, or that the purge has run."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"
    INVALIDATED = "invalidated"
    PURGED = "purged"


@dataclass(frozen=True)
class Receipt:
    """What a receipt shows: the signature's status and its place in each export since it was
    made; never who signed."""

    code: str
    leaf: bytes
    status: ReceiptStatus
    #: When the status began: made (pending), confirmed, withdrawn, invalidated, purged.
    status_at: datetime | None
    #: The organisers' reason, for an invalidated signature (the purge removes it).
    reason: str | None
    exports: tuple[Inclusion, ...]

    def document(self, slug: str, petition_public_id: str) -> dict[str, Any]:
        """Return the receipt as JSON, in the form `petitions.receipts.check_receipt` checks."""
        return {
            "petition": slug,
            "petition_id": petition_public_id,
            "code": self.code,
            "status": str(self.status),
            "leaf": self.leaf.hex(),
            "exports": [_export_document(found) for found in self.exports],
        }


def _export_document(found: Inclusion) -> dict[str, Any]:
    delivery = found.delivery
    return {
        "exported_at": delivery.exported_at.isoformat(),
        "kind": str(delivery.kind),
        "bundle_sha256": delivery.bundle_sha256,
        "tree_size": delivery.tree_size,
        "root": delivery.tree_root,
        "leaf_index": found.leaf_index,
        "audit_path": [node.hex() for node in found.audit_path] if found.included else None,
    }


_STAMPS = {
    ReceiptStatus.PENDING: "created_at",
    ReceiptStatus.CONFIRMED: "confirmed_at",
    ReceiptStatus.WITHDRAWN: "withdrawn_at",
    ReceiptStatus.INVALIDATED: "invalidated_at",
}


def status_of(signature: Signature, petition: Petition) -> tuple[ReceiptStatus, datetime | None]:
    """Return a signature's receipt status and when it began."""
    if petition.purged_at is not None:
        return ReceiptStatus.PURGED, petition.purged_at
    status = ReceiptStatus(str(signature.state))
    return status, getattr(signature, _STAMPS[status])


def finished_exports(petition_id: int, since: datetime) -> list[Delivery]:
    """Return the petition's exports with a tree that ended after `since`, oldest first."""
    ended = sa.func.coalesce(Delivery.finished_at, Delivery.exported_at)
    return list(
        db.session.scalars(
            sa.select(Delivery)
            .where(
                Delivery.petition_id == petition_id,
                Delivery.status == ExportStatus.DONE,
                Delivery.tree_size.is_not(None),
                ended >= since,
            )
            .order_by(Delivery.exported_at, Delivery.id)
        )
    )


def receipt(signature: Signature, code: str) -> Receipt:
    """Build the receipt of a signature found by its code: status, then every export's proof."""
    petition = signature.petition
    status, status_at = status_of(signature, petition)
    leaf = bytes(signature.receipt_leaf)
    exports = tuple(
        inclusion(delivery, signature, leaf)
        for delivery in finished_exports(petition.id, signature.created_at)
    )
    reason = signature.invalidation_reason if status == ReceiptStatus.INVALIDATED else None
    return Receipt(code, leaf, status, status_at, reason, exports)
