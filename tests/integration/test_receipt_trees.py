"""An export's receipt tree stored in chunks, and every signature's proof read back from them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from petitions.merkle import Tree, verify_inclusion
from petitions.models import Delivery, DeliveryKind, ExportStatus, ReceiptChunk, utcnow
from petitions.services import receipts
from tests.conftest import save
from tests.receipt_fixtures import finished_export


@pytest.fixture
def signed(make_petition, make_signature, db):
    """A petition with 1,100 signatures (three chunks of leaves), some at the same instant."""
    petition = make_petition()
    start = utcnow() - timedelta(hours=1)
    signatures = []
    for number in range(1100):
        # Pairs signed in the same microsecond: the bundle orders them by id.
        made = make_signature(petition, created_at=start + timedelta(seconds=number // 2))
        signatures.append(made)
    for signature in signatures:
        signature.receipt_leaf = receipts.leaf_of(petition.public_id, signature.public_id)
    save(db)
    return petition, signatures


def record(db, petition, rows):
    return finished_export(db, petition, DeliveryKind.FINAL, utcnow(), rows, None)


def test_every_signature_finds_its_proof_and_the_left_out_are_not_in(db, signed):
    petition, signatures = signed
    ordered = sorted(signatures, key=lambda s: (s.created_at, s.id))
    kept = [s for number, s in enumerate(ordered) if number % 7 != 3]
    delivery = record(db, petition, kept)
    tree = Tree([s.receipt_leaf for s in kept])
    assert (delivery.tree_size, delivery.tree_root) == (len(kept), tree.root.hex())
    assert db.session.query(ReceiptChunk).filter_by(delivery_id=delivery.id, level=0).count() == 2
    stored = receipts.export_tree(delivery)
    for index, signature in enumerate(kept):
        found = receipts.inclusion(stored, signature, signature.receipt_leaf)
        assert (found.leaf_index, found.proof_holds) == (index, True)
        assert list(found.audit_path) == tree.audit_path(index)
        assert verify_inclusion(
            signature.receipt_leaf, index, len(kept), list(found.audit_path), tree.root
        )
    for signature in ordered[3::7]:
        found = receipts.inclusion(stored, signature, signature.receipt_leaf)
        assert (found.included, found.proof_holds, found.audit_path) == (False, False, ())


def test_a_receipt_code_finds_its_own_signature_only(db, signed, make_petition):
    petition, signatures = signed
    code = receipts.code_of(signatures[10].public_id)
    assert receipts.find_signature(petition, code).id == signatures[10].id
    assert receipts.find_signature(make_petition(), code) is None
    assert receipts.find_signature(petition, "a" * 24) is None
    for malformed in ("", code.upper(), code + "a", "../" + code[3:], "%00" * 8):
        assert receipts.find_signature(petition, malformed) is None


def test_an_export_made_before_receipts_has_no_tree_to_prove_from(db, signed):
    petition, signatures = signed
    delivery = Delivery(petition=petition, kind=DeliveryKind.FINAL, status=ExportStatus.DONE)
    db.session.add(delivery)
    save(db)
    found = receipts.inclusion(
        receipts.export_tree(delivery), signatures[0], signatures[0].receipt_leaf
    )
    assert (found.included, found.proof_holds) == (False, False)


def test_a_receipt_reads_no_personal_column_of_its_signature(db, signed):
    petition, signatures = signed
    code = receipts.code_of(signatures[5].public_id)
    record(db, petition, signatures)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        found = receipts.find_signature(petition, code)
        made = receipts.receipt(found, code, petition, ttl=0)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert found.id == signatures[5].id
    assert (made.exports[0].leaf_index, made.exports[0].proof_holds) == (5, True)
    # Neither read nor decrypted: whoever only looks a receipt up never needs them.
    assert len(statements) == 4
    for column in ("name", "email", "city", "comment", "sealed", "ip_hash"):
        assert not any(f"signatures.{column}" in statement for statement in statements), column
