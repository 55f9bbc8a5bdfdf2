"""Every export's receipts: the leaves in the bundle, the tree it prints and signs, the tree the
database keeps for the receipts' proofs, on both databases and from both ways of exporting."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from petitions.delivery.bundle import json_bytes
from petitions.delivery.document import root_text
from petitions.delivery.signature import sign_detached
from petitions.delivery.verify import verify_bundle
from petitions.merkle import Tree
from petitions.models import (
    Delivery,
    DeliveryKind,
    ExportStatus,
    PetitionState,
    ReceiptChunk,
    Signature,
    SignatureState,
    new_public_id,
    utcnow,
)
from petitions.services import export, receipts
from petitions.services.privacy import keyring
from tests.conftest import save

# The bundle is read from a snapshot on a connection of its own: it must find committed rows.
pytestmark = pytest.mark.committed


def expected_leaves(db, petition) -> list[bytes]:
    """The leaves of the petition's counted signatures, computed afresh, in the bundle's order."""
    signatures = db.session.scalars(
        sa.select(Signature)
        .where(Signature.petition_id == petition.id, Signature.state == SignatureState.CONFIRMED)
        .order_by(Signature.created_at, Signature.id)
    ).all()
    return [receipts.leaf_of(petition.public_id, s.public_id) for s in signatures]


def bundle_parts(path: Path, directory: Path) -> tuple[list[str], dict, str]:
    """Return the CSV's leaf column, the manifest's receipts and the text of the first page."""
    with zipfile.ZipFile(path) as archive:
        table = list(csv.reader(io.StringIO(archive.read("signatures.csv").decode("utf-8-sig"))))
        manifest = json.loads(archive.read("manifest.json"))
        archive.extractall(directory)
    [pdf] = [directory / name for name in manifest["volumes"]][:1]
    page = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert table[0][-2:] == ["leaf", "source"]
    return [row[-2] for row in table[1:]], manifest.get("receipts"), page


def deliveries(db) -> list[Delivery]:
    db.session.expire_all()
    return db.session.scalars(sa.select(Delivery).order_by(Delivery.id)).all()


def chunks(db, delivery: Delivery | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(ReceiptChunk)
    if delivery is not None:
        query = query.where(ReceiptChunk.delivery_id == delivery.id)
    return db.session.scalar(query)


@pytest.fixture
def petition(db, make_petition, make_signature):
    """Six confirmed signatures (two at the same instant; three with their leaf stored, three
    made before receipts, with none), and one of every state that is not counted."""
    petition = make_petition(title="Receipts")
    start = utcnow() - timedelta(hours=5)
    moments = [start + timedelta(minutes=minutes) for minutes in (0, 10, 10, 20, 30, 40)]
    for number, moment in enumerate(moments):
        signature = make_signature(petition, name=f"Signer {number}", created_at=moment)
        if number % 2:
            signature.receipt_leaf = receipts.leaf_of(petition.public_id, signature.public_id)
    for state in (SignatureState.PENDING, SignatureState.INVALIDATED, SignatureState.WITHDRAWN):
        make_signature(petition, state, created_at=start + timedelta(minutes=15))
    save(db)
    return petition


def test_csv_manifest_cover_letter_and_delivery_agree_with_the_tree_of_the_leaves(
    runner, db, tmp_path, petition
):
    output = tmp_path / "bundle.zip"
    result = runner.invoke(args=["petitions", "export", petition.slug, "--output", str(output)])
    assert result.exit_code == 0, result.output
    leaves = expected_leaves(db, petition)
    tree = Tree(leaves)
    [delivery] = deliveries(db)
    column, claimed, page = bundle_parts(output, tmp_path / "files")
    assert column == [leaf.hex() for leaf in leaves]
    assert claimed == {"tree": "rfc6962-sha256", "tree_size": 6, "root": tree.root.hex()}
    assert root_text(tree.root.hex()) in page
    assert (delivery.tree_size, delivery.tree_root) == (6, tree.root.hex())
    assert f"receipts: tree of 6 signatures, root {tree.root.hex()}" in result.output
    verified = runner.invoke(args=["bundles", "verify", str(output)])
    assert verified.exit_code == 0, verified.output
    assert f"the CSV's 6 leaves make the manifest's root {tree.root.hex()}" in verified.output


def test_the_worker_records_the_same_tree_and_every_proof_holds(
    db, runner, make_organiser, petition
):
    organiser = make_organiser()
    export.queue_export(petition, organiser, utcnow())
    db.session.commit()
    worked = runner.invoke(args=["exports", "worker", "--rounds", "1", "--interval", "0"])
    assert worked.exit_code == 0, worked.output
    [delivery] = deliveries(db)
    assert delivery.status == ExportStatus.DONE, delivery.error
    leaves = expected_leaves(db, petition)
    assert (delivery.tree_size, delivery.tree_root) == (6, Tree(leaves).root.hex())
    path = export.bundle_path(delivery)
    column, claimed, _ = bundle_parts(path, path.parent / "files")
    assert claimed["root"] == delivery.tree_root and column == [leaf.hex() for leaf in leaves]
    _every_proof_holds(db, petition, delivery)


def _every_proof_holds(db, petition, delivery) -> None:
    """Each counted signature finds its place and a proof to the delivery's root; no other does."""
    signatures = db.session.scalars(
        sa.select(Signature)
        .where(Signature.petition_id == petition.id)
        .order_by(Signature.created_at, Signature.id)
    ).all()
    place = 0
    for signature in signatures:
        leaf = receipts.leaf_of(petition.public_id, signature.public_id)
        found = receipts.inclusion(receipts.export_tree(delivery), signature, leaf)
        if signature.state == SignatureState.CONFIRMED:
            assert (found.leaf_index, found.proof_holds) == (place, True), signature.id
            place += 1
        else:
            assert not found.included, signature.id
    assert place == delivery.tree_size


def _insert_signatures(db, petition, count: int) -> None:
    """Insert `count` confirmed signatures at once; every third has no stored leaf, and each
    minute holds several, so that the order falls back on the id."""
    ring, start, rows = keyring(), utcnow() - timedelta(days=2), []
    for number in range(count):
        public_id = new_public_id()
        moment = start + timedelta(minutes=number // 4)
        stored = receipts.leaf_of(petition.public_id, public_id, ring) if number % 3 else None
        rows.append(
            {
                "petition_id": petition.id,
                "public_id": public_id,
                "receipt_leaf": stored,
                "name": f"Signer {number}",
                "email": f"s{number}@example.org",
                "email_hash": ring.keyed_hash("email", f"bulk{number}"),
                "country": "KZ" if number % 5 else "RU",
                "city": "Almaty",
                "state": SignatureState.CONFIRMED,
                "created_at": moment,
                "confirmed_at": moment,
            }
        )
    db.session.execute(sa.insert(Signature), rows)
    db.session.commit()


def test_a_few_thousand_rows_each_find_their_proof_in_the_stored_chunks(
    runner, db, tmp_path, make_petition
):
    petition = make_petition()
    _insert_signatures(db, petition, 2600)  # six chunks of leaves, the last one partial
    output = tmp_path / "bundle.zip"
    result = runner.invoke(args=["petitions", "export", petition.slug, "--output", str(output)])
    assert result.exit_code == 0, result.output
    [delivery] = deliveries(db)
    leaves = expected_leaves(db, petition)
    assert (delivery.tree_size, delivery.tree_root) == (2600, Tree(leaves).root.hex())
    level_0 = sa.select(sa.func.count()).where(
        ReceiptChunk.delivery_id == delivery.id, ReceiptChunk.level == 0
    )
    assert db.session.scalar(level_0) == 6
    _every_proof_holds(db, petition, delivery)
    assert verify_bundle(output).valid


def test_an_interim_then_a_final_export_each_get_their_own_tree(
    runner, db, tmp_path, petition, make_signature
):
    interim = runner.invoke(args=["petitions", "export", petition.slug, "-o", str(tmp_path)])
    assert interim.exit_code == 0, interim.output
    first_leaves = expected_leaves(db, petition)
    confirmed = db.session.scalars(
        sa.select(Signature)
        .where(Signature.petition_id == petition.id, Signature.state == SignatureState.CONFIRMED)
        .order_by(Signature.created_at, Signature.id)
    ).all()
    now = utcnow()
    confirmed[1].invalidate(now, "a duplicate person")
    confirmed[4].withdraw(now)
    make_signature(petition, created_at=now - timedelta(minutes=1))
    petition.close(now)
    save(db)
    final = runner.invoke(args=["petitions", "export", petition.slug, "-o", str(tmp_path)])
    assert final.exit_code == 0, final.output
    first, second = deliveries(db)
    assert (first.kind, second.kind) == (DeliveryKind.INTERIM, DeliveryKind.FINAL)
    final_leaves = expected_leaves(db, petition)
    assert (first.tree_size, first.tree_root) == (6, Tree(first_leaves).root.hex())
    assert (second.tree_size, second.tree_root) == (5, Tree(final_leaves).root.hex())
    assert chunks(db, first) and chunks(db, second)
    _every_proof_holds(db, petition, second)
    for gone in (confirmed[1], confirmed[4]):
        leaf = receipts.leaf_of(petition.public_id, gone.public_id)
        assert receipts.inclusion(receipts.export_tree(first), gone, leaf).proof_holds
        assert not receipts.inclusion(receipts.export_tree(second), gone, leaf).included
    assert petition.state == PetitionState.CLOSED


def _fail_when_signing_the_manifest(monkeypatch) -> None:
    """Make the export fail after every row was read: at the manifest's signature."""

    def refuse(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr("petitions.delivery.bundle.add_signed_manifest", refuse)


def test_a_failed_cli_export_leaves_no_delivery_and_no_chunks(
    runner, db, tmp_path, petition, monkeypatch
):
    _fail_when_signing_the_manifest(monkeypatch)
    result = runner.invoke(args=["petitions", "export", petition.slug, "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert "export failed: no space left on device" in result.output
    assert (deliveries(db), chunks(db)) == ([], 0)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_worker_export_is_marked_failed_with_no_chunks(
    db, make_organiser, petition, monkeypatch
):
    organiser = make_organiser()
    export.queue_export(petition, organiser, utcnow())
    db.session.commit()
    _fail_when_signing_the_manifest(monkeypatch)
    done = export.run_export(export.claim_export(utcnow()), utcnow())
    db.session.commit()
    assert done.status == ExportStatus.FAILED
    assert "no space left on device" in done.error
    assert (done.tree_size, done.tree_root, chunks(db)) == (None, None, 0)


def test_chunks_stored_before_recording_fails_are_rolled_back(
    db, make_organiser, petition, monkeypatch
):
    organiser = make_organiser()
    export.queue_export(petition, organiser, utcnow())
    db.session.commit()
    finish = receipts.TreeRecorder.finish

    def finish_then_fail(self):
        finish(self)  # the chunks are in the session now
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReceiptChunk)) > 0
        raise RuntimeError("the database went away")

    monkeypatch.setattr(receipts.TreeRecorder, "finish", finish_then_fail)
    done = export.run_export(export.claim_export(utcnow()), utcnow())
    db.session.commit()
    assert done.status == ExportStatus.FAILED
    assert (done.tree_size, chunks(db)) == (None, 0)


def test_bundles_verify_refuses_a_re_signed_bundle_whose_leaf_was_changed(
    runner, db, tmp_path, petition
):
    output = tmp_path / "bundle.zip"
    assert (
        runner.invoke(args=["petitions", "export", petition.slug, "-o", str(output)]).exit_code == 0
    )
    with zipfile.ZipFile(output) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    # The holder of the signing key changes a leaf and signs the manifest again: every hash
    # and signature checks out, and only the tree tells.
    text = files["signatures.csv"].decode("utf-8-sig")
    [delivery] = deliveries(db)
    first_leaf = text.splitlines()[1].split(",")[-2]
    files["signatures.csv"] = text.replace(first_leaf, "f" * 64).encode("utf-8-sig")
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["signatures.csv"] = hashlib.sha256(files["signatures.csv"]).hexdigest()
    files["manifest.json"] = json_bytes(manifest)
    files["manifest.json.p7s"] = sign_detached(files["manifest.json"], export.signing_key())
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    result = runner.invoke(args=["bundles", "verify", str(forged)])
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if "problem:" in line]
    rows = list(csv.reader(io.StringIO(files["signatures.csv"].decode("utf-8-sig"))))[1:]
    forged_root = Tree(bytes.fromhex(row[-2]) for row in rows).root.hex()
    assert problems == [
        f"  problem: signatures.csv: its leaves make a tree with the root {forged_root}, "
        f"not the manifest's {delivery.tree_root}"
    ]
