"""Exporting the bundle from the database: from the command line and from the dashboard."""

import csv
import hashlib
import io
import json
import stat
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from petitions.models import (
    AuditEvent,
    Delivery,
    DeliveryKind,
    ExportStatus,
    PetitionState,
    SignatureState,
    utcnow,
)
from petitions.services import export
from tests.conftest import PASSWORD
from tests.helpers import csrf_token, login

# The bundle is read from a snapshot on a connection of its own: it must find committed rows.
pytestmark = pytest.mark.committed


def _csv_rows(path):
    with zipfile.ZipFile(path) as archive:
        text = archive.read("signatures.csv").decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def petition(make_petition, make_signature):
    petition = make_petition(title="Pardon the poet")
    start = utcnow() - timedelta(hours=5)
    names = ["Әлия Қасымқызы Үмбетова", "Алексей Иванов", '=HYPERLINK("x")', "John Smith"]
    for number, name in enumerate(names):
        make_signature(petition, name=name, created_at=start + timedelta(minutes=10 * number))
    make_signature(petition, SignatureState.PENDING, name="Pending Person")
    make_signature(petition, SignatureState.INVALIDATED, name="Invalid Person")
    return petition


def test_cli_export_writes_only_confirmed_signatures_in_signing_order(
    runner, db, tmp_path, petition
):
    output = tmp_path / "bundle.zip"
    result = runner.invoke(args=["petitions", "export", petition.slug, "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert "interim export, 4 signatures" in result.output
    rows = _csv_rows(output)
    names = [row[1] for row in rows[1:]]
    assert names == ["Әлия Қасымқызы Үмбетова", "Алексей Иванов", '\'=HYPERLINK("x")', "John Smith"]
    assert [row[0] for row in rows[1:]] == ["1", "2", "3", "4"]
    delivery = db.session.scalars(sa.select(Delivery)).one()
    assert delivery.status == ExportStatus.DONE
    assert delivery.kind == DeliveryKind.INTERIM
    assert delivery.signature_count == 4
    assert delivery.bundle_sha256 == hashlib.sha256(output.read_bytes()).hexdigest()
    assert "export" in db.session.scalars(sa.select(AuditEvent.action)).all()
    verified = runner.invoke(args=["bundles", "verify", str(output)])
    assert verified.exit_code == 0, verified.output
    assert "valid" in verified.output


def test_a_closed_petition_exports_final(runner, tmp_path, make_petition, make_signature):
    closed = make_petition(
        PetitionState.CLOSED,
        opens_at=utcnow() - timedelta(days=6),
        closes_at=utcnow() - timedelta(days=1),
    )
    make_signature(closed)
    result = runner.invoke(args=["petitions", "export", closed.slug, "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "final export, 1 signatures" in result.output
    [written] = list(tmp_path.glob(f"{closed.slug}-*.zip"))
    with zipfile.ZipFile(written) as archive:
        assert json.loads(archive.read("manifest.json"))["export"] == "final"


def test_a_petition_without_signatures_exports_cleanly(runner, tmp_path, make_petition):
    empty = make_petition()
    result = runner.invoke(args=["petitions", "export", empty.slug, "-o", str(tmp_path / "e.zip")])
    assert result.exit_code == 0, result.output
    assert _csv_rows(tmp_path / "e.zip")[1:] == []


def test_export_refuses_drafts_and_unknown_slugs(runner, tmp_path, make_petition):
    draft = make_petition(PetitionState.DRAFT)
    for slug in (draft.slug, "no-such-petition"):
        result = runner.invoke(args=["petitions", "export", slug, "-o", str(tmp_path)])
        assert result.exit_code == 1
        assert "no published petition" in result.output


def test_verify_names_the_altered_file(runner, tmp_path, petition):
    output = tmp_path / "bundle.zip"
    runner.invoke(args=["petitions", "export", petition.slug, "--output", str(output)])
    altered = tmp_path / "altered.zip"
    with zipfile.ZipFile(output) as source, zipfile.ZipFile(altered, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "signatures.csv":
                data = data.replace(b"John Smith", b"Jane Smith")
            target.writestr(item, data)
    result = runner.invoke(args=["bundles", "verify", str(altered)])
    assert result.exit_code == 1
    assert "signatures.csv" in result.output


def _closed_with_one_signature(organiser, make_petition, make_signature):
    """A petition of this organiser closed yesterday after five days, with one signature."""
    closed = make_petition(
        PetitionState.CLOSED,
        organiser=organiser,
        opens_at=utcnow() - timedelta(days=6),
        closes_at=utcnow() - timedelta(days=1),
    )
    make_signature(closed, name="Әлия Қасымқызы Үмбетова")
    return closed


def test_organiser_exports_from_the_dashboard_and_records_the_delivery(
    app, client, db, runner, make_account, make_petition, make_signature
):
    organiser = make_account("exporter@example.org")
    closed = _closed_with_one_signature(organiser, make_petition, make_signature)
    login(client, organiser.email, PASSWORD)
    dashboard = f"/organiser/petitions/{closed.id}"
    token = csrf_token(client, dashboard)
    assert client.post(f"{dashboard}/exports", data={"csrf_token": token}).status_code == 303
    page = client.get(dashboard).get_data(as_text=True)
    assert 'http-equiv="refresh"' in page, "the page follows a queued export by itself"
    worked = runner.invoke(args=["exports", "worker", "--rounds", "1", "--interval", "0"])
    assert worked.exit_code == 0, worked.output
    delivery = db.session.scalars(sa.select(Delivery)).one()
    db.session.refresh(delivery)
    assert (delivery.status, delivery.kind, delivery.signature_count) == (
        ExportStatus.DONE,
        DeliveryKind.FINAL,
        1,
    )
    download = client.get(f"{dashboard}/exports/{delivery.id}/download")
    assert download.status_code == 200
    assert hashlib.sha256(download.data).hexdigest() == delivery.bundle_sha256
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert f"filename={closed.slug}-" in download.headers["Content-Disposition"]
    local_day = delivery.exported_at.astimezone(closed.zone)
    assert delivery.bundle_filename == f"{closed.slug}-{local_day:%Y%m%d}.zip"
    download.close()
    token = csrf_token(client, dashboard)
    recorded = client.post(
        f"{dashboard}/exports/{delivery.id}/delivered",
        data={
            "csrf_token": token,
            "delivered_on": "2021-09-21",
            "delivered_to": "Akorda reception",
            "channel": "in_person",
            "registration_number": "ЖТ-1234",
            "registered_on": "2021-09-22",
        },
    )
    assert recorded.status_code == 303
    db.session.refresh(closed)
    assert closed.state == PetitionState.DELIVERED
    public = client.get(f"/petitions/{closed.slug}").get_data(as_text=True)
    assert "Delivered to the recipient on September 21, 2021" in public


def test_an_interim_export_cannot_be_recorded_as_delivered(
    client, db, runner, make_account, make_petition
):
    organiser = make_account("exporter@example.org")
    open_petition = make_petition(organiser=organiser)
    login(client, organiser.email, PASSWORD)
    dashboard = f"/organiser/petitions/{open_petition.id}"
    client.post(f"{dashboard}/exports", data={"csrf_token": csrf_token(client, dashboard)})
    runner.invoke(args=["exports", "worker", "--rounds", "1", "--interval", "0"])
    delivery = db.session.scalars(sa.select(Delivery)).one()
    response = client.post(
        f"{dashboard}/exports/{delivery.id}/delivered",
        data={
            "csrf_token": csrf_token(client, dashboard),
            "delivered_on": "2021-09-21",
            "channel": "post",
        },
    )
    assert "Only a finished final export" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    db.session.refresh(open_petition)
    assert open_petition.state == PetitionState.OPEN


def test_a_running_export_beats_in_heartbeat_at_and_finishes_in_finished_at(
    db, make_organiser, make_petition, make_signature
):
    organiser = make_organiser()
    closed = make_petition(
        PetitionState.CLOSED,
        organiser=organiser,
        opens_at=utcnow() - timedelta(days=6),
        closes_at=utcnow() - timedelta(days=1),
    )
    make_signature(closed)
    queued = export.queue_export(closed, organiser, utcnow())
    db.session.commit()
    assert (queued.heartbeat_at, queued.finished_at) == (None, None)

    claimed_at = utcnow()
    running = export.claim_export(claimed_at)
    db.session.commit()
    assert (running.status, running.heartbeat_at, running.finished_at) == (
        ExportStatus.RUNNING,
        claimed_at,
        None,
    )
    export._ProgressWriter(running.id)(1, 2)
    db.session.refresh(running)
    assert running.heartbeat_at > claimed_at
    assert (running.rows_done, running.rows_total, running.finished_at) == (1, 2, None)

    done = export.run_export(running, utcnow())
    db.session.commit()
    assert done.status == ExportStatus.DONE
    assert done.finished_at >= done.heartbeat_at


def test_a_silent_running_export_is_taken_over_after_fifteen_minutes(
    db, make_organiser, make_petition
):
    organiser = make_organiser()
    petition = make_petition(organiser=organiser)
    queued = export.queue_export(petition, organiser, utcnow())
    db.session.commit()
    start = utcnow()
    assert export.claim_export(start).id == queued.id
    db.session.commit()
    assert export.claim_export(start + timedelta(minutes=14)) is None
    db.session.rollback()
    later = start + timedelta(minutes=16)
    taken = export.claim_export(later)
    db.session.commit()
    assert (taken.id, taken.status, taken.heartbeat_at, taken.finished_at) == (
        queued.id,
        ExportStatus.RUNNING,
        later,
        None,
    )


def test_two_exports_on_one_day_download_under_different_names(
    client, db, runner, make_account, make_petition, make_signature
):
    organiser = make_account("twice@example.org")
    closed = _closed_with_one_signature(organiser, make_petition, make_signature)
    login(client, organiser.email, PASSWORD)
    dashboard = f"/organiser/petitions/{closed.id}"
    for _ in range(2):
        client.post(f"{dashboard}/exports", data={"csrf_token": csrf_token(client, dashboard)})
        worked = runner.invoke(args=["exports", "worker", "--rounds", "1", "--interval", "0"])
        assert worked.exit_code == 0, worked.output
    first, second = db.session.scalars(sa.select(Delivery).order_by(Delivery.id)).all()
    day = f"{first.exported_at.astimezone(closed.zone):%Y%m%d}"
    assert first.bundle_filename == f"{closed.slug}-{day}.zip"
    assert second.bundle_filename == f"{closed.slug}-{day}-2.zip"
    names = []
    for delivery in (first, second):
        download = client.get(f"{dashboard}/exports/{delivery.id}/download")
        names.append(download.headers["Content-Disposition"])
        assert hashlib.sha256(download.data).hexdigest() == delivery.bundle_sha256
        download.close()
    assert names == [
        f"attachment; filename={closed.slug}-{day}.zip",
        f"attachment; filename={closed.slug}-{day}-2.zip",
    ]


def test_cli_exports_into_a_directory_keep_each_bundle_of_the_day(db, runner, tmp_path, petition):
    outputs = []
    for _ in range(3):
        result = runner.invoke(args=["petitions", "export", petition.slug, "-o", str(tmp_path)])
        assert result.exit_code == 0, result.output
        outputs.append(result.output.split(":", 1)[0])
    day = f"{utcnow().astimezone(petition.zone):%Y%m%d}"
    assert outputs == [
        str(tmp_path / f"{petition.slug}-{day}.zip"),
        str(tmp_path / f"{petition.slug}-{day}-2.zip"),
        str(tmp_path / f"{petition.slug}-{day}-3.zip"),
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        Path(output).name for output in outputs
    )


def test_cli_export_to_a_new_path_ending_in_a_slash_makes_that_directory(
    db, runner, tmp_path, make_petition, make_signature
):
    petition = make_petition()
    make_signature(petition)
    wanted = tmp_path / "bundles" / "today"
    result = runner.invoke(args=["petitions", "export", petition.slug, "-o", f"{wanted}/"])
    assert result.exit_code == 0, result.output
    day = f"{utcnow().astimezone(petition.zone):%Y%m%d}"
    bundle = wanted / f"{petition.slug}-{day}.zip"
    assert result.output.splitlines()[0] == f"{bundle}: interim export, 1 signatures"
    assert [path.name for path in wanted.iterdir()] == [bundle.name]
    assert stat.S_IMODE(wanted.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "bundles").stat().st_mode) == 0o700
