"""The retention purge: personal data goes RETENTION_DAYS after delivery (or closing), the
counts stay, and a bundle exported before still verifies."""

import csv
import io
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa

from petitions.models import (
    AuditEvent,
    NewsBroadcast,
    OutboxMessage,
    Petition,
    PetitionState,
    Signature,
    SignatureState,
    Subscription,
    utcnow,
)
from petitions.services import mail, moderation, queries, retention, subscriptions
from petitions.services.privacy import keyring


@pytest.fixture
def app_overrides():
    return {"RETENTION_DAYS": "30"}


def _ended(make_petition, days_ago: float, state=PetitionState.DELIVERED, **fields) -> Petition:
    """Make a petition delivered (or closed) `days_ago` days ago."""
    ended = utcnow() - timedelta(days=days_ago)
    fields.setdefault("opens_at", ended - timedelta(days=5))
    fields.setdefault("closes_at", ended)
    stamp = {"delivered_at": ended} if state == PetitionState.DELIVERED else {}
    return make_petition(state=state, closed_at=ended, **stamp, **fields)


@pytest.fixture
def old(db, make_petition, make_signature) -> Petition:
    """A petition delivered 40 days ago: three confirmed (KZ, KZ, RU), one pending, one
    invalidated, one withdrawn, and an email about the first signature."""
    petition = _ended(make_petition, 40, slug="old-appeal")
    for country in ("KZ", "KZ", "RU"):
        make_signature(
            petition,
            country=country,
            comment="Free him",
            ip_hash=b"i" * 32,
            show_name=True,
            token_nonce="n" * 32,
        )
    make_signature(petition, SignatureState.PENDING)
    make_signature(petition, SignatureState.INVALIDATED, invalidation_reason="Signer 5 twice")
    make_signature(petition, SignatureState.WITHDRAWN)
    first = db.session.scalars(sa.select(Signature).order_by(Signature.id)).first()
    mail.enqueue(
        "confirm",
        first.email,
        payload={"signature_id": first.id, "base_url": "x"},
        signature_id=first.id,
    )
    db.session.commit()
    return petition


def _rows(db, petition):
    return db.session.scalars(
        sa.select(Signature).where(Signature.petition_id == petition.id).order_by(Signature.id)
    ).all()


def test_purge_removes_personal_data_and_keeps_every_count(runner, db, old):
    before = queries.state_counts(old)
    days_before = queries.daily_counts(old)
    result = runner.invoke(args=["signatures", "purge"])
    assert result.exit_code == 0, result.output
    assert "purged old-appeal: 6 signature(s), 1 email(s)" in result.output
    assert "1 petition(s), 6 signature(s) purged (kept for 30 days" in result.output
    db.session.expire_all()
    for signature in _rows(db, old):
        assert signature.name == retention.PLACEHOLDER_NAME
        assert (signature.email, signature.email_hash, signature.email_domain_hash) == (None,) * 3
        assert (signature.ip_hash, signature.comment, signature.city) == (None, None, "")
        assert (signature.show_name, signature.token_nonce) == (False, None)
        assert signature.invalidation_reason is None
    assert queries.state_counts(old) == before
    assert queries.daily_counts(old) == days_before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert db.session.get(Petition, old.id).purged_at is not None


def test_the_stored_bytes_hold_no_email_or_hash_after_the_purge(runner, db, old):
    runner.invoke(args=["signatures", "purge"])
    raw = db.session.execute(
        sa.text("SELECT email, email_hash, email_domain_hash, ip_hash, comment FROM signatures")
    ).all()
    assert raw and all(value is None for row in raw for value in row)


def test_purge_is_recorded_in_the_audit_log_and_runs_once(runner, db, old):
    runner.invoke(args=["signatures", "purge"])
    again = runner.invoke(args=["signatures", "purge"])
    assert again.exit_code == 0
    assert "0 petition(s), 0 signature(s) purged" in again.output
    [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "purge")).all()
    assert (event.petition_id, event.actor_label) == (old.id, "cli")
    assert event.detail == {"signatures": 6, "emails": 1, "subscriptions": 0}


def test_dry_run_says_what_would_go_and_changes_nothing(runner, db, old):
    result = runner.invoke(args=["signatures", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would purge old-appeal: 6 signature(s), 1 email(s)" in result.output
    assert "6 signature(s) would be purged" in result.output
    db.session.expire_all()
    assert all(signature.email_hash is not None for signature in _rows(db, old))
    assert db.session.get(Petition, old.id).purged_at is None


def test_petitions_within_retention_or_still_open_are_left_alone(
    runner, db, make_petition, make_signature
):
    recent = _ended(make_petition, 10)
    closed_long_ago = _ended(make_petition, 45, state=PetitionState.CLOSED)
    still_open = make_petition()
    for petition in (recent, closed_long_ago, still_open):
        make_signature(petition)
    result = runner.invoke(args=["signatures", "purge"])
    assert f"purged {closed_long_ago.slug}: 1 signature(s)" in result.output
    assert "1 petition(s)" in result.output
    db.session.expire_all()
    assert _rows(db, recent)[0].email is not None
    assert _rows(db, still_open)[0].email is not None
    assert _rows(db, closed_long_ago)[0].email is None


@pytest.mark.committed  # the export reads a snapshot on a connection of its own
def test_a_bundle_exported_before_the_purge_still_verifies(runner, db, tmp_path, old):
    bundle = tmp_path / "old-appeal.zip"
    exported = runner.invoke(args=["petitions", "export", old.slug, "--output", str(bundle)])
    assert exported.exit_code == 0, exported.output
    before = bundle.read_bytes()
    assert runner.invoke(args=["signatures", "purge"]).exit_code == 0
    verified = runner.invoke(args=["bundles", "verify", str(bundle)])
    assert verified.exit_code == 0, verified.output
    assert bundle.read_bytes() == before
    # A new export after the purge still counts the same signatures, under placeholders.
    after = tmp_path / "after.zip"
    assert runner.invoke(args=["petitions", "export", old.slug, "-o", str(after)]).exit_code == 0
    with zipfile.ZipFile(after) as archive:
        rows = list(csv.reader(io.StringIO(archive.read("signatures.csv").decode("utf-8-sig"))))
    assert len(rows) == 1 + 3
    assert {row[1] for row in rows[1:]} == {retention.PLACEHOLDER_NAME}


def test_the_mail_worker_purges_due_petitions(runner, db, old):
    result = runner.invoke(args=["mail", "worker", "--rounds", "1", "--interval", "0"])
    assert result.exit_code == 0, result.output
    assert "purged old-appeal" in result.output
    assert db.session.get(Petition, old.id).purged_at is not None


def test_a_purged_address_can_sign_a_new_petition_and_counts_are_independent(
    runner, db, old, make_petition, make_signature
):
    runner.invoke(args=["signatures", "purge"])
    fresh = make_petition()
    make_signature(fresh, email="signer1@example.org")
    assert queries.state_counts(fresh)[SignatureState.CONFIRMED] == 1
    hashes = db.session.scalars(
        sa.select(Signature.email_hash).where(Signature.petition_id == fresh.id)
    ).all()
    assert hashes == [keyring().keyed_hash("email", "signer1@example.org")]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--days", "0"], "0 is not in the range 1<=x<=3650"),
        (["--days", "many"], "'many' is not a valid integer"),
        (["--petition", "nope"], "no petition with the slug 'nope'"),
    ],
)
def test_bad_input_ends_with_a_clear_message(runner, db, old, arguments, message):
    result = runner.invoke(args=["signatures", "purge", *arguments])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert db.session.get(Petition, old.id).purged_at is None


def test_purging_one_petition_that_is_not_due_says_when_it_will_be(runner, make_petition):
    recent = _ended(make_petition, 10, slug="recent")
    result = runner.invoke(args=["signatures", "purge", "--petition", recent.slug])
    assert result.exit_code == 1
    assert "recent is not due for the purge until" in result.output
    open_one = make_petition(slug="open-one")
    result = runner.invoke(args=["signatures", "purge", "--petition", open_one.slug])
    assert "only ended petitions are purged" in result.output


def test_a_petition_whose_export_is_being_built_waits(runner, db, old):
    from petitions.models import Delivery, DeliveryKind, ExportStatus

    db.session.add(
        Delivery(petition_id=old.id, kind=DeliveryKind.FINAL, status=ExportStatus.RUNNING)
    )
    db.session.commit()
    assert "0 petition(s)" in runner.invoke(args=["signatures", "purge"]).output


def test_purge_removes_searched_names_and_reasons_from_the_audit_log(db, old, make_organiser):
    moderator = make_organiser()
    wanted = moderation.SignatureFilter(name="Signer 1")
    moderation.invalidate(old, moderator, "Same person as Signer 2", utcnow(), wanted=wanted)
    db.session.commit()

    retention.purge(old, utcnow())
    db.session.commit()
    db.session.expire_all()

    [event] = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "invalidate")
    ).all()
    assert event.detail["reason"] == "(removed)"
    assert event.detail["filter"]["name"] == "(removed)"
    assert "Signer" not in str(event.detail)
    assert event.detail["count"] >= 1 and event.actor_id == moderator.id


def test_organisers_read_the_purges_placeholders_in_their_language(client, db, old):
    from petitions.organiser.display import PURGED_TEXT
    from petitions.services.accounts import set_password
    from tests.conftest import PASSWORD
    from tests.helpers import login

    assert set(PURGED_TEXT) == {retention.PLACEHOLDER_NAME, retention.REMOVED}
    owner = old.organiser  # the petition's owner, who can now sign in
    set_password(owner, PASSWORD)
    moderation.invalidate(old, owner, "Same person", utcnow(), ids=[_rows(db, old)[0].id])
    retention.purge(old, utcnow())
    db.session.commit()
    client.set_cookie("lang", "ru")
    assert login(client, owner.email, PASSWORD).status_code == 303

    listed = client.get(f"/organiser/petitions/{old.id}/signatures").get_data(as_text=True)
    assert "<td><bdi>(имя удалено)</bdi></td>" in listed and "(anonymous)" not in listed
    dashboard = client.get(f"/organiser/petitions/{old.id}").get_data(as_text=True)
    assert "Причина: (удалено)" in dashboard and "(removed)" not in dashboard


def _news(db, petition, signature, sent: bool) -> None:
    """Subscribe a signer and queue them the petition's outcome (sent already, or not yet)."""
    subscriptions.subscribe(petition.id, signature.id, signature.email, "kk")
    subscription = db.session.scalars(
        sa.select(Subscription).where(Subscription.signature_id == signature.id)
    ).one()
    broadcast = db.session.scalars(
        sa.select(NewsBroadcast).where(NewsBroadcast.petition_id == petition.id)
    ).first() or NewsBroadcast(petition_id=petition.id, item="outcome")
    db.session.add(broadcast)
    db.session.flush()
    db.session.add(
        OutboxMessage(
            kind="news",
            recipient=None,
            broadcast_id=broadcast.id,
            subscription_id=subscription.id,
            sent_at=utcnow() if sent else None,
        )
    )
    db.session.commit()


def test_purge_erases_subscriptions_and_their_news_emails(
    runner, db, old, make_petition, make_signature
):
    first, second = _rows(db, old)[:2]
    _news(db, old, first, sent=False)
    _news(db, old, second, sent=True)
    kept = make_petition()
    _news(db, kept, make_signature(kept, email="stays@example.org"), sent=False)
    assert retention.preview(old) == retention.PurgeReport("old-appeal", 6, 3, 2)
    result = runner.invoke(args=["signatures", "purge"])
    assert result.exit_code == 0, result.output
    assert "purged old-appeal: 6 signature(s), 3 email(s), 2 subscription(s)" in result.output
    db.session.expire_all()
    left = db.session.scalars(sa.select(Subscription)).all()
    assert [(row.petition_id, row.email) for row in left] == [(kept.id, "stays@example.org")]
    messages = db.session.scalars(sa.select(OutboxMessage)).all()
    assert [message.subscription_id for message in messages] == [left[0].id]
    [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "purge")).all()
    assert event.detail == {"signatures": 6, "emails": 3, "subscriptions": 2}
