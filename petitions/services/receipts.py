"""Receipts on the server: every signature's code and leaf, every export's tree, and the proofs.

The formulas are petitions.receipts'. An export hands its rows' leaves, in the bundle's order, to
a `TreeRecorder`, which stores the tree's levels in chunks (`ReceiptChunk`) as they fill. A
receipt's proof reads one chunk of leaves, which gives the signature's place and, hashed up, the
lower part of its audit path; the upper part comes from the levels above the chunks, a few hundred
hashes per million signatures, which each process keeps for the public cache's lifetime with the
list of the petition's exports (both public, and fixed once an export is done). So a receipt costs
two indexed queries with one export, however large the tree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from petitions import cache
from petitions.crypto import Keyring
from petitions.extensions import db
from petitions.merkle import HASH_SIZE, ChunkedTree, Tree, path_positions, verify_inclusion
from petitions.models import (
    Delivery,
    DeliveryKind,
    ExportStatus,
    ReceiptChunk,
    Signature,
    SignatureState,
)
from petitions.receipts import is_receipt_code, receipt_code, receipt_leaf
from petitions.services.privacy import keyring

#: Hashes per stored chunk (16 KB), a power of two. Reading relies on it: never change it for
#: stored trees.
CHUNK_SIZE = 512
#: The lowest level whose nodes each stand over more than one chunk of leaves: below it, a
#: leaf's audit path lies inside the leaf's own chunk.
_ABOVE_CHUNKS = CHUNK_SIZE.bit_length() - 1
#: Chunks written per INSERT.
_BATCH = 64
#: The columns a receipt reads of its signature: its state, times and leaf, never who signed.
_RECEIPT_COLUMNS = (
    Signature.id,
    Signature.state,
    Signature.created_at,
    Signature.confirmed_at,
    Signature.withdrawn_at,
    Signature.invalidated_at,
    Signature.invalidation_reason,
    Signature.receipt_leaf,
)
_BY_LEAF = (
    sa.select(*_RECEIPT_COLUMNS)
    .where(
        Signature.petition_id == sa.bindparam("petition_id"),
        Signature.receipt_leaf == sa.bindparam("leaf"),
    )
    .limit(1)
)
#: Stands in for a malformed code, so that it costs the same lookup as an unknown one.
_NO_CODE = "a" * 24


class SignatureFacts(Protocol):
    """What a receipt reads of a signature: a row of `_RECEIPT_COLUMNS`, or a `Signature`."""

    id: int
    state: SignatureState
    created_at: datetime
    receipt_leaf: bytes | None


class PetitionFacts(Protocol):
    """What a receipt reads of a petition: a `PetitionSnapshot`, or a `Petition`."""

    id: int
    public_id: str
    purged_at: datetime | None


def code_of(signature_public_id: str, ring: Keyring | None = None) -> str:
    """Return the receipt code of the signature with this public id."""
    return receipt_code(ring or keyring(), signature_public_id)


def leaf_of(
    petition_public_id: str, signature_public_id: str, ring: Keyring | None = None
) -> bytes:
    """Return the leaf of a signature, from its petition's public id and its own."""
    return receipt_leaf(petition_public_id, code_of(signature_public_id, ring))


def find_signature(petition: PetitionFacts, code: str) -> sa.Row | None:
    """Return the state, times and leaf of the petition's signature with this receipt code.

    A malformed code runs the same query as an unknown one, so that neither answers faster.
    """
    well_formed = is_receipt_code(code)
    leaf = receipt_leaf(petition.public_id, code if well_formed else _NO_CODE)
    found = db.session.execute(_BY_LEAF, {"petition_id": petition.id, "leaf": leaf}).first()
    return found if well_formed else None


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
class ExportTree:
    """A finished export as a receipt shows it, with the levels of its tree above the chunks.

    Public and fixed once the export is done, so that one copy serves every receipt of a process
    for the public cache's lifetime.
    """

    id: int
    kind: DeliveryKind
    exported_at: datetime
    #: When it ended: a receipt lists the exports that ended after its signature was made.
    ended_at: datetime
    bundle_sha256: str | None
    tree_size: int | None
    tree_root: str | None
    #: Every level from `_ABOVE_CHUNKS` up, as its chunks hold it, joined in order.
    upper: dict[int, bytes]

    def upper_node(self, level: int, position: int) -> bytes:
        hashes = self.upper.get(level, b"")
        return hashes[position * HASH_SIZE : (position + 1) * HASH_SIZE]


_LEAF_CHUNK = (
    sa.select(ReceiptChunk.number, ReceiptChunk.hashes)
    .where(
        ReceiptChunk.delivery_id == sa.bindparam("delivery_id"),
        ReceiptChunk.level == 0,
        sa.or_(
            ReceiptChunk.first_at < sa.bindparam("created_at"),
            sa.and_(
                ReceiptChunk.first_at == sa.bindparam("created_at"),
                ReceiptChunk.first_id <= sa.bindparam("signature_id"),
            ),
        ),
    )
    .order_by(ReceiptChunk.first_at.desc(), ReceiptChunk.first_id.desc())
    .limit(1)
)


def export_tree(delivery: Delivery) -> ExportTree:
    """Read what a receipt needs of one export: its facts and its tree's upper levels."""
    levels: dict[int, list[bytes]] = {}
    if delivery.tree_size:
        for level, hashes in db.session.execute(
            sa.select(ReceiptChunk.level, ReceiptChunk.hashes)
            .where(ReceiptChunk.delivery_id == delivery.id, ReceiptChunk.level >= _ABOVE_CHUNKS)
            .order_by(ReceiptChunk.level, ReceiptChunk.number)
        ):
            levels.setdefault(level, []).append(bytes(hashes))
    return ExportTree(
        id=delivery.id,
        kind=delivery.kind,
        exported_at=delivery.exported_at,
        ended_at=delivery.finished_at or delivery.exported_at,
        bundle_sha256=delivery.bundle_sha256,
        tree_size=delivery.tree_size,
        tree_root=delivery.tree_root,
        upper={level: b"".join(chunks) for level, chunks in levels.items()},
    )


def export_trees(petition_id: int, ttl: float) -> list[ExportTree]:
    """Return the petition's finished exports with a tree, oldest first, at most `ttl` seconds
    old (a new export shows on receipts as late as on the public page's record)."""

    def read() -> list[ExportTree]:
        deliveries = db.session.scalars(
            sa.select(Delivery)
            .where(
                Delivery.petition_id == petition_id,
                Delivery.status == ExportStatus.DONE,
                Delivery.tree_size.is_not(None),
            )
            .order_by(Delivery.exported_at, Delivery.id)
        )
        return [export_tree(delivery) for delivery in deliveries]

    return cache.public.get(("receipt-exports", petition_id), ttl, read)


@dataclass(frozen=True)
class Inclusion:
    """Where a signature stands in one export's tree."""

    delivery: ExportTree
    leaf_index: int | None
    audit_path: tuple[bytes, ...]
    #: Whether the path, checked here, leads from the leaf to the export's root.
    proof_holds: bool

    @property
    def included(self) -> bool:
        return self.leaf_index is not None


def inclusion(tree: ExportTree, signature: SignatureFacts, leaf: bytes) -> Inclusion:
    """Find `signature` (whose leaf is `leaf`) in an export's tree and check its proof there."""
    size, root = tree.tree_size, bytes.fromhex(tree.tree_root or "")
    if not size:
        return Inclusion(tree, None, (), False)
    chunk = db.session.execute(
        _LEAF_CHUNK,
        {
            "delivery_id": tree.id,
            "created_at": signature.created_at,
            "signature_id": signature.id,
        },
    ).first()
    hashes = bytes(chunk.hashes) if chunk is not None else b""
    place = _place(hashes, leaf)
    if place is None:
        return Inclusion(tree, None, (), False)
    index = chunk.number * CHUNK_SIZE + place
    # The chunk's own tree holds every node of the path below the chunks' level.
    below = Tree.of_joined(hashes[: len(hashes) - len(hashes) % HASH_SIZE])
    path = []
    for level, position in path_positions(index, size):
        if level < _ABOVE_CHUNKS:
            path.append(
                _node_in_chunk(below, level, position - chunk.number * (CHUNK_SIZE >> level))
            )
        else:
            path.append(tree.upper_node(level, position))
    holds = verify_inclusion(leaf, index, size, path, root)
    return Inclusion(tree, index, tuple(path), holds)


def _node_in_chunk(tree: Tree, level: int, position: int) -> bytes:
    """Return a node of a chunk's own tree; a stored chunk too short gives no node (no proof)."""
    try:
        return tree.node(level, position)
    except IndexError:
        return b""


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


def status_of(
    signature: SignatureFacts, petition: PetitionFacts
) -> tuple[ReceiptStatus, datetime | None]:
    """Return a signature's receipt status and when it began."""
    if petition.purged_at is not None:
        return ReceiptStatus.PURGED, petition.purged_at
    status = ReceiptStatus(str(signature.state))
    return status, getattr(signature, _STAMPS[status])


def receipt(signature: SignatureFacts, code: str, petition: PetitionFacts, ttl: float) -> Receipt:
    """Build the receipt of a signature found by its code: status, then the proof of every
    export that ended since it was made (the list at most `ttl` seconds old)."""
    status, status_at = status_of(signature, petition)
    leaf = bytes(signature.receipt_leaf)
    exports = tuple(
        inclusion(tree, signature, leaf)
        for tree in export_trees(petition.id, ttl)
        if tree.ended_at >= signature.created_at
    )
    reason = signature.invalidation_reason if status == ReceiptStatus.INVALIDATED else None
    return Receipt(code, leaf, status, status_at, reason, exports)
