"""The suite's own isolation: what a test commits stays in its transaction, rolled back at the end,
unless the test is marked `committed`."""

import pytest
import sqlalchemy as sa

from petitions.models import Organiser, Petition, Signature
from tests.helpers import sign


def _count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _on_disk(db, model) -> int:
    """Count the rows another connection sees: what has really been committed."""
    with db.engine.connect() as other:
        return other.scalar(sa.select(sa.func.count()).select_from(model))


def test_what_a_request_commits_is_seen_by_the_test_and_never_reaches_the_database(
    client, db, make_petition
):
    petition = make_petition()
    assert sign(client, petition.slug).status_code == 303
    assert _count(db, Signature) == 1
    # On SQLite this fails if a SAVEPOINT outside a transaction commits on RELEASE.
    assert _on_disk(db, Petition) == 0
    assert _on_disk(db, Signature) == 0


def test_a_rollback_in_the_test_keeps_what_a_request_committed(client, db, make_petition):
    petition = make_petition()
    assert _count(db, Signature) == 0  # the test's own session is inside a transaction now
    assert sign(client, petition.slug).status_code == 303
    db.session.rollback()
    assert _count(db, Signature) == 1


def test_work_left_uncommitted_in_a_context_is_rolled_back_with_it(app, db, make_organiser):
    make_organiser()
    with app.app_context():
        db.session.add(Organiser(email="left@example.org", name="Left", password_hash="-"))
        db.session.flush()
        assert _count(db, Organiser) == 2
    assert _count(db, Organiser) == 1


@pytest.mark.committed
def test_a_committed_test_commits_for_real(db, make_petition):
    make_petition()
    assert _on_disk(db, Petition) == 1
