"""Concurrent submissions and confirmations on PostgreSQL: the database settles every race."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from petitions.models import OutboxMessage, Signature, SignatureState
from petitions.services import signing
from tests.helpers import confirm_path, csrf_token, signing_data, written_email

pytestmark = [pytest.mark.postgres, pytest.mark.committed]


@pytest.fixture
def backend():
    return "postgres"


def _race(app, slug, emails):
    """Each thread is a browser: it opens the page, waits for the others, then posts."""
    barrier = threading.Barrier(len(emails))

    def one(email):
        client = app.test_client()
        token = csrf_token(client, f"/petitions/{slug}")
        barrier.wait(timeout=30)
        return client.post(
            f"/petitions/{slug}/sign", data=signing_data(csrf_token=token, email=email)
        ).status_code

    with ThreadPoolExecutor(max_workers=len(emails)) as pool:
        return list(pool.map(one, emails))


def test_fifty_concurrent_identical_submissions_leave_one_signature(app, db, make_petition):
    petition = make_petition()
    codes = _race(app, petition.slug, ["aliya@example.org"] * 50)
    assert codes == [303] * 50
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Signature)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1


def test_concurrent_posts_with_twenty_distinct_emails_leave_twenty(app, db, make_petition):
    petition = make_petition()
    emails = [f"signer{n % 20}@example.org" for n in range(200)]
    codes = _race(app, petition.slug, emails[:60])
    codes += _race(app, petition.slug, emails[60:120])
    codes += _race(app, petition.slug, emails[120:])
    assert codes == [303] * 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Signature)) == 20


def test_concurrent_confirmations_of_one_link_confirm_once(app, db, make_petition):
    petition = make_petition()
    client = app.test_client()
    client.post(
        f"/petitions/{petition.slug}/sign",
        data=signing_data(csrf_token=csrf_token(client, f"/petitions/{petition.slug}")),
    )
    token = confirm_path(
        written_email(db.session.scalars(sa.select(OutboxMessage)).one())[1]
    ).rsplit("/", 1)[1]
    barrier = threading.Barrier(20)

    def one(_):
        with app.app_context():
            barrier.wait(timeout=30)
            result, _signature = signing.confirm(token)
            db.session.commit()
            return result

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(20)))
    assert results.count(signing.ConfirmResult.CONFIRMED) == 1
    assert results.count(signing.ConfirmResult.ALREADY_CONFIRMED) == 19
    db.session.expire_all()
    signature = db.session.scalars(sa.select(Signature)).one()
    assert signature.state == SignatureState.CONFIRMED


def test_counts_stay_exact_while_signatures_are_invalidated_concurrently(
    app, db, make_account, make_petition, make_signature
):
    organiser = make_account("moderator@example.org")
    petition = make_petition(organiser=organiser)
    ids = [make_signature(petition, email=f"s{n}@example.org").id for n in range(60)]
    petition_id, organiser_id = petition.id, organiser.id
    barrier = threading.Barrier(6)

    def moderate(chunk):
        from petitions.models import Organiser, Petition, utcnow
        from petitions.services import moderation

        with app.app_context():
            own = db.session.get(Petition, petition_id)
            actor = db.session.get(Organiser, organiser_id)
            barrier.wait(timeout=30)
            # Overlapping chunks: two moderators invalidate some of the same signatures at once.
            count, _action = moderation.invalidate(own, actor, "test", utcnow(), ids=chunk)
            db.session.commit()
            return count

    chunks = [ids[start : start + 15] for start in range(0, 60, 10)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        counts = list(pool.map(moderate, chunks))
    assert sum(counts) == 60, "each signature is invalidated exactly once, however they overlap"
    client = app.test_client()
    assert client.get(f"/petitions/{petition.slug}.json").json["signature_count"] == 0


def test_concurrent_publications_of_one_draft_open_it_once(app, db, make_petition):
    from petitions.models import AuditEvent, Organiser, Petition, PetitionState, utcnow
    from petitions.services import lifecycle

    draft = make_petition(PetitionState.DRAFT)
    petition_id, organiser_id = draft.id, draft.organiser_id
    barrier = threading.Barrier(8)

    def publish(_):
        with app.app_context():
            # Every tab loaded the draft before any of them pressed "Publish".
            own = db.session.get(Petition, petition_id)
            actor = db.session.get(Organiser, organiser_id)
            barrier.wait(timeout=30)
            try:
                lifecycle.publish(own, actor, utcnow())
            except lifecycle.PetitionError:
                db.session.rollback()
                return "refused"
            db.session.commit()
            return "published"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(publish, range(8)))
    assert sorted(outcomes) == ["published"] + ["refused"] * 7
    audited = sa.select(sa.func.count()).where(AuditEvent.action == "publish")
    assert db.session.scalar(audited) == 1
