"""The background rounds, called as plain functions: what each does and what it says it did."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from petitions import workers
from petitions.models import (
    Delivery,
    DeliveryKind,
    ExportStatus,
    OutboxMessage,
    Petition,
    PetitionState,
    utcnow,
)
from petitions.services import export, retention
from tests.helpers import sign


@pytest.fixture
def app_overrides():
    return {"RETENTION_DAYS": "30"}


@pytest.fixture
def settings(app):
    return app.config["SETTINGS"]


def _delivered(make_petition, days_ago: int, **fields) -> Petition:
    ended = utcnow() - timedelta(days=days_ago)
    return make_petition(
        PetitionState.DELIVERED,
        opens_at=ended - timedelta(days=5),
        closes_at=ended,
        closed_at=ended,
        delivered_at=ended,
        **fields,
    )


def test_the_mail_round_closes_purges_and_sends(
    db, client, settings, make_petition, make_signature
):
    collecting = make_petition(slug="collecting")
    lapsed = make_petition(
        slug="lapsed", opens_at=utcnow() - timedelta(days=6), closes_at=utcnow() - timedelta(days=1)
    )
    old = _delivered(make_petition, 40, slug="old")
    make_signature(old)
    make_signature(old)
    sign(client, collecting.slug)

    done = workers.mail_round(settings, batch=50)

    assert done.closed == ["lapsed"]
    assert done.purged == [retention.PurgeReport("old", signatures=2, emails=0)]
    # The signer's confirmation, and the closing's email to the lapsed petition's owner.
    assert (done.sent.sent, done.sent.failed) == (2, 0)
    db.session.expire_all()
    assert db.session.get(Petition, lapsed.id).state == PetitionState.CLOSED
    assert db.session.get(Petition, old.id).purged_at is not None
    messages = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [message.kind for message in messages] == ["confirm", "petition_closed"]
    assert all(message.sent_at is not None for message in messages)


def test_a_quiet_mail_round_reports_nothing(db, settings, make_petition):
    make_petition()
    done = workers.mail_round(settings, batch=50)
    assert done == workers.MailRound()


def test_a_dry_run_purge_counts_and_changes_nothing(db, make_petition, make_signature):
    old = _delivered(make_petition, 40, slug="old")
    make_signature(old)
    _delivered(make_petition, 10, slug="recent")
    reports = workers.purge_due(timedelta(days=30), dry_run=True)
    assert reports == [retention.PurgeReport("old", signatures=1, emails=0)]
    db.session.expire_all()
    assert db.session.get(Petition, old.id).purged_at is None


def test_the_purge_can_be_kept_to_one_petition(db, make_petition):
    _delivered(make_petition, 40, slug="first")
    _delivered(make_petition, 40, slug="second")
    reports = workers.purge_due(timedelta(days=30), only="second", actor="cli")
    assert [report.slug for report in reports] == ["second"]
    purged = db.session.scalars(sa.select(Petition.slug).where(Petition.purged_at.is_not(None)))
    assert purged.all() == ["second"]


# The bundle is read from a snapshot on a connection of its own: it must find committed rows.
@pytest.mark.committed
def test_the_export_round_builds_the_oldest_waiting_export(
    db, make_organiser, make_petition, make_signature
):
    organiser = make_organiser()
    closed = make_petition(
        PetitionState.CLOSED,
        organiser=organiser,
        slug="closed-appeal",
        opens_at=utcnow() - timedelta(days=6),
        closes_at=utcnow() - timedelta(days=1),
    )
    make_signature(closed)
    queued = export.queue_export(closed, organiser, utcnow())
    db.session.commit()

    done = workers.export_round()

    assert done == workers.ExportRound(
        queued.id, "closed-appeal", DeliveryKind.FINAL, ExportStatus.DONE, None
    )
    delivery = db.session.get(Delivery, queued.id)
    db.session.refresh(delivery)
    assert (delivery.status, delivery.signature_count) == (ExportStatus.DONE, 1)
    assert workers.export_round() is None


def test_an_outage_ends_only_the_round_it_hit(db):
    calls, outages = [], []

    def flaky_round():
        calls.append(len(calls) + 1)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("down"))

    done = workers.run(flaky_round, interval=0, rounds=3, on_outage=outages.append)
    assert done == 3
    assert calls == [1, 2, 3]
    assert [type(error) for error in outages] == [OperationalError]


def test_other_errors_are_not_taken_for_an_outage(db):
    def broken_round():
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError, match="a bug"):
        workers.run(broken_round, interval=0, rounds=3)


def test_a_stopped_loop_runs_no_round():
    stop = threading.Event()
    stop.set()
    calls = []
    assert workers.run(lambda: calls.append(1), interval=0, stop=stop) == 0
    assert calls == []
