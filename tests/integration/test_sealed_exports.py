"""A sealed petition's exports, from the dashboard's worker and the CLI, and the sealed demo."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa

from petitions import workers
from petitions.delivery.keys import ensure_development_key, load_signing_key
from petitions.delivery.sealed import unseal, verify_sealed_export
from petitions.delivery.verify import verify_bundle
from petitions.merkle import root_of
from petitions.models import (
    Delivery,
    DeliveryKind,
    ExportStatus,
    Petition,
    PetitionState,
    Signature,
    utcnow,
)
from petitions.receipts import check_receipt
from petitions.sealing import SealingIdentity
from petitions.services import export, lifecycle, receipts
from petitions.services.demo import SEALED_DEMO_SLUG
from tests.delivery_fixtures import members
from tests.helpers import sign

# The export reads a snapshot on a connection of its own: it must find committed rows.
pytestmark = pytest.mark.committed


@pytest.fixture
def identity() -> SealingIdentity:
    return SealingIdentity.generate()


def _sealed_petition(db, make_organiser, make_petition, identity, **fields) -> Petition:
    organiser = make_organiser()
    petition = make_petition(organiser=organiser, slug="sealed-appeal", **fields)
    lifecycle.seal(petition, identity.public_key.line, organiser)
    db.session.commit()
    return petition


def _confirm_all(db) -> None:
    from petitions.models import Signature, SignatureState

    db.session.execute(
        sa.update(Signature).values(state=SignatureState.CONFIRMED, confirmed_at=utcnow())
    )
    db.session.commit()


def test_the_export_worker_writes_a_sealed_export_that_unseals(
    client, db, make_organiser, make_petition, identity, tmp_path
):
    petition = _sealed_petition(db, make_organiser, make_petition, identity)
    names = ["Әлия Сейітова", "Пётр Иванов", "ليلى حسن"]
    for number, name in enumerate(names):
        assert (
            sign(client, petition.slug, name=name, email=f"s{number}@example.org").status_code
            == 303
        )
    _confirm_all(db)
    queued = export.queue_export(petition, petition.organiser, utcnow())
    db.session.commit()

    done = workers.export_round()

    assert (done.status, done.error) == (ExportStatus.DONE, None)
    delivery = db.session.get(Delivery, queued.id)
    db.session.refresh(delivery)
    assert (
        delivery.bundle_filename
        == f"sealed-appeal-{utcnow().astimezone(petition.zone):%Y%m%d}.sealed.zip"
    )
    assert delivery.signature_count == 3
    path = export.bundle_path(delivery)
    with zipfile.ZipFile(path) as archive:
        contents = b"".join(archive.read(name) for name in archive.namelist())
    assert not [name for name in names if name.encode() in contents]
    assert verify_sealed_export(path, identity.public_key).summary.total == 3
    key = load_signing_key(ensure_development_key(tmp_path), None)
    bundle = unseal(path, identity, tmp_path, key)
    assert verify_bundle(bundle.path).valid
    with zipfile.ZipFile(bundle.path) as archive:
        csv_text = archive.read("signatures.csv").decode("utf-8-sig")
    assert [name for name in names if name in csv_text] == names


def test_the_sealed_export_s_receipts_are_the_server_s_and_the_unsealed_bundle_s(
    client, db, make_organiser, make_petition, identity, tmp_path
):
    petition = _sealed_petition(db, make_organiser, make_petition, identity)
    for number in range(5):
        assert sign(client, petition.slug, email=f"s{number}@example.org").status_code == 303
    _confirm_all(db)
    queued = export.queue_export(petition, petition.organiser, utcnow())
    db.session.commit()
    assert workers.export_round().status == ExportStatus.DONE
    delivery = db.session.get(Delivery, queued.id)
    db.session.refresh(delivery)
    path = export.bundle_path(delivery)

    signatures = db.session.scalars(
        sa.select(Signature).order_by(Signature.created_at, Signature.id)
    ).all()
    stored = [bytes(signature.receipt_leaf) for signature in signatures]
    assert (delivery.tree_size, delivery.tree_root) == (5, root_of(stored).hex())
    sealed_csv = members(path)["rows.csv"].decode("ascii")
    assert [row["leaf"] for row in csv.DictReader(io.StringIO(sealed_csv))] == [
        leaf.hex() for leaf in stored
    ]
    published = json.loads(members(path)["manifest.json"])["receipts"]
    assert published == {"tree": "rfc6962-sha256", "tree_size": 5, "root": delivery.tree_root}

    key = load_signing_key(ensure_development_key(tmp_path), None)
    bundle = unseal(path, identity, tmp_path, key, workers=0)
    assert bundle.tree.root_hex == delivery.tree_root
    assert json.loads(members(bundle.path)["manifest.json"])["receipts"] == published
    table = csv.DictReader(io.StringIO(members(bundle.path)["signatures.csv"].decode("utf-8-sig")))
    assert [bytes.fromhex(row["leaf"]) for row in table] == stored


def test_a_sealed_petition_s_receipt_shows_the_signature_in_its_export(
    client, db, make_organiser, make_petition, identity
):
    petition = _sealed_petition(db, make_organiser, make_petition, identity)
    for number in range(3):
        assert sign(client, petition.slug, email=f"s{number}@example.org").status_code == 303
    _confirm_all(db)
    export.queue_export(petition, petition.organiser, utcnow())
    db.session.commit()
    assert workers.export_round().status == ExportStatus.DONE
    delivery = db.session.scalars(sa.select(Delivery)).one()
    db.session.refresh(delivery)
    signature = db.session.scalars(
        sa.select(Signature).order_by(Signature.created_at, Signature.id)
    ).all()[1]
    code = receipts.code_of(signature.public_id)

    document = client.get(f"/petitions/{petition.slug}/receipts/{code}.json").json
    assert document["status"] == "confirmed"
    (included,) = document["exports"]
    assert (included["leaf_index"], included["tree_size"]) == (1, 3)
    assert included["root"] == delivery.tree_root
    assert included["bundle_sha256"] == delivery.bundle_sha256
    assert check_receipt(document).ok
    page = client.get(f"/petitions/{petition.slug}/receipts/{code}").get_data(as_text=True)
    assert "Your signature is in this bundle: proof checked." in page


def test_the_command_line_export_of_a_sealed_petition_says_how_to_open_it(
    client, db, runner, make_organiser, make_petition, identity, tmp_path
):
    petition = _sealed_petition(
        db,
        make_organiser,
        make_petition,
        identity,
        opens_at=utcnow() - timedelta(days=2),
        closes_at=utcnow() + timedelta(days=2),
    )
    assert sign(client, petition.slug, email="one@example.org").status_code == 303
    _confirm_all(db)
    result = runner.invoke(
        args=["petitions", "export", "sealed-appeal", "--output", f"{tmp_path}/"]
    )
    assert result.exit_code == 0, result.output
    day = f"{utcnow().astimezone(petition.zone):%Y%m%d}"
    assert result.output.splitlines()[0] == (
        f"{tmp_path}/sealed-appeal-{day}.sealed.zip: interim export, 1 signatures"
    )
    assert result.output.splitlines()[-1] == (
        "This petition is sealed: the export opens only on the organiser's machine, with "
        "`flask bundles unseal FILE --key sealing.key --output DIR`."
    )
    recorded = db.session.scalars(sa.select(Delivery)).one()
    assert (recorded.kind, recorded.signature_count) == (DeliveryKind.INTERIM, 1)


def test_the_demo_opens_a_sealed_appeal_once(runner, db, tmp_path):
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("a demo passphrase here\n")
    keys = tmp_path / "keys"
    first = runner.invoke(
        args=["petitions", "demo", "--sealed", str(keys), "--passphrase-file", str(passphrase)]
    )
    assert first.exit_code == 0, first.output
    opened = SealingIdentity.from_key_file(
        (keys / "sealing.key").read_text(), "a demo passphrase here"
    )
    petition = db.session.scalar(sa.select(Petition).where(Petition.slug == SEALED_DEMO_SLUG))
    assert (
        petition.sealing_key == opened.public_key.line == (keys / "sealing.pub").read_text().strip()
    )
    assert petition.state == PetitionState.OPEN
    assert (
        f"Opened /petitions/{SEALED_DEMO_SLUG}, sealed to {opened.public_key.fingerprint}"
        in first.output
    )

    again = runner.invoke(args=["petitions", "demo", "--sealed", str(tmp_path / "elsewhere")])
    assert again.exit_code == 0, again.output
    assert (
        f"Already there: /petitions/{SEALED_DEMO_SLUG}, sealed to {opened.public_key.fingerprint}"
        in again.output
    )
    assert not (tmp_path / "elsewhere").exists()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Petition)) == 2


def test_the_demo_refuses_to_replace_a_key_pair(runner, db, tmp_path):
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("a demo passphrase here\n")
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "sealing.key").write_text("precious")
    result = runner.invoke(
        args=["petitions", "demo", "--sealed", str(keys), "--passphrase-file", str(passphrase)]
    )
    assert result.exit_code == 1
    assert (
        result.output.splitlines()[-1]
        == f"Error: {keys / 'sealing.key'} exists already; move it away first"
    )
    assert (keys / "sealing.key").read_text() == "precious"
    assert db.session.scalar(sa.select(Petition).where(Petition.slug == SEALED_DEMO_SLUG)) is None
