"""Helpers for the tests of receipts: exports with their trees stored, and receipts made from them.

An export's tree is stored as a real export stores it (`services.receipts.TreeRecorder`), and a
receipt is written in the format of `GET /petitions/<slug>/receipts/<code>.json`, its proofs read
back from the stored chunks (`services.receipts.inclusion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from petitions.models import Delivery, DeliveryKind, ExportStatus, Petition, Signature
from petitions.services import receipts
from tests.conftest import save


def give_leaves(db: Any, petition: Petition, signatures: Sequence[Signature]) -> None:
    """Store each signature's receipt leaf, as signing does."""
    for signature in signatures:
        signature.receipt_leaf = receipts.leaf_of(petition.public_id, signature.public_id)
    save(db)


def finished_export(
    db: Any,
    petition: Petition,
    kind: DeliveryKind,
    at: datetime,
    signatures: Sequence[Signature],
    sha256: str | None,
    **fields: Any,
) -> Delivery:
    """A finished export of these signatures, with its receipt tree stored as an export does."""
    delivery = Delivery(
        petition=petition,
        kind=kind,
        status=fields.pop("status", ExportStatus.DONE),
        exported_at=at,
        finished_at=fields.pop("finished_at", at + timedelta(minutes=1)),
        bundle_filename=f"{petition.slug}.zip",
        bundle_sha256=sha256,
        signature_count=len(signatures),
        **fields,
    )
    db.session.add(delivery)
    db.session.flush()
    if signatures:
        recorder = receipts.TreeRecorder(db.session, delivery.id)
        for signature in signatures:
            recorder.add(signature.receipt_leaf, signature.created_at, signature.id)
        delivery.tree_size, root = recorder.finish()
        delivery.tree_root = root.hex()
    save(db)
    return delivery


def receipt_document(
    petition: Petition, signature: Signature, deliveries: Sequence[Delivery]
) -> dict[str, Any]:
    """The receipt of a signature, as its .json address gives it, over these exports."""
    code = receipts.code_of(signature.public_id)
    status, status_at = receipts.status_of(signature, petition)
    leaf = signature.receipt_leaf
    exports = tuple(
        receipts.inclusion(receipts.export_tree(delivery), signature, leaf)
        for delivery in deliveries
    )
    found = receipts.Receipt(code, leaf, status, status_at, None, exports)
    return found.document(petition.slug, petition.public_id)
