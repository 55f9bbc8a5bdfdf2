"""States change only through guarded transitions that stamp their time."""

from datetime import UTC, datetime, timedelta

import pytest

from petitions.models import (
    InvalidTransition,
    InvalidWindow,
    Petition,
    PetitionState,
    Signature,
    SignatureState,
    window_problem,
)

NOW = datetime(2021, 9, 15, 6, 0, tzinfo=UTC)


def petition(state=PetitionState.DRAFT, **fields):
    fields.setdefault("opens_at", NOW)
    fields.setdefault("closes_at", NOW + timedelta(days=5))
    return Petition(state=state, **fields)


def test_a_new_petition_is_a_draft_and_a_new_signature_pending():
    assert Petition().state == PetitionState.DRAFT
    assert Signature().state == SignatureState.PENDING


def test_publish_opens_a_draft_and_stamps_the_time():
    draft = petition()
    draft.publish(NOW)
    assert draft.state == PetitionState.OPEN
    assert draft.published_at == NOW


def test_publish_refuses_a_window_that_has_already_ended():
    draft = petition(closes_at=NOW - timedelta(seconds=1), opens_at=NOW - timedelta(days=1))
    with pytest.raises(InvalidTransition, match="must close in the future"):
        draft.publish(NOW)


def test_publish_refuses_a_window_longer_than_a_year_as_the_organisers_page_does():
    draft = petition(closes_at=NOW + timedelta(days=366, seconds=1))
    with pytest.raises(InvalidWindow, match="at most a year"):
        draft.publish(NOW)
    assert draft.state == PetitionState.DRAFT


DAY, SECOND = timedelta(days=1), timedelta(seconds=1)


@pytest.mark.parametrize(
    ("opens_at", "closes_at", "now", "problem"),
    [
        (NOW, NOW, None, "the window must close after it opens"),
        (NOW, NOW - SECOND, NOW, "the window must close after it opens"),
        # A draft may be saved with a window in the past or too long; publishing refuses it.
        (NOW - 2 * DAY, NOW - DAY, None, None),
        (NOW - 2 * DAY, NOW - DAY, NOW, "the window must close in the future"),
        (NOW - 2 * DAY, NOW, NOW, "the window must close in the future"),
        (NOW, NOW + 400 * DAY, None, None),
        (NOW, NOW + 366 * DAY, NOW, None),
        (NOW, NOW + 366 * DAY + SECOND, NOW, "the window must last at most a year"),
    ],
)
def test_window_problem_names_what_is_wrong(opens_at, closes_at, now, problem):
    found = window_problem(opens_at, closes_at, now)
    assert (None if found is None else str(found)) == problem


@pytest.mark.parametrize("state", [PetitionState.OPEN, PetitionState.CLOSED])
def test_publish_refuses_anything_but_a_draft(state):
    with pytest.raises(InvalidTransition):
        petition(state).publish(NOW)


def test_close_records_an_early_close_with_its_reason():
    open_petition = petition(PetitionState.OPEN)
    open_petition.close(NOW + timedelta(days=1), reason="The prisoner was released")
    assert open_petition.state == PetitionState.CLOSED
    assert open_petition.closed_at == NOW + timedelta(days=1)
    assert open_petition.close_reason == "The prisoner was released"


def test_close_after_the_deadline_records_the_deadline():
    open_petition = petition(PetitionState.OPEN)
    open_petition.close(NOW + timedelta(days=9))
    assert open_petition.closed_at == open_petition.closes_at


@pytest.mark.parametrize("state", [PetitionState.DRAFT, PetitionState.CLOSED])
def test_close_raises_on_a_petition_that_is_not_open(state):
    with pytest.raises(InvalidTransition, match="cannot close"):
        petition(state).close(NOW)


def test_delivery_follows_closing_only():
    with pytest.raises(InvalidTransition):
        petition(PetitionState.OPEN).mark_delivered(NOW)
    closed = petition(PetitionState.CLOSED)
    closed.mark_delivered(NOW)
    assert closed.state == PetitionState.DELIVERED
    assert closed.delivered_at == NOW


def test_the_window_includes_its_opening_and_excludes_its_closing_instant():
    open_petition = petition(PetitionState.OPEN)
    second = timedelta(seconds=1)
    assert not open_petition.accepts_signatures_at(NOW - second)
    assert open_petition.accepts_signatures_at(NOW)
    assert open_petition.accepts_signatures_at(open_petition.closes_at - second)
    assert not open_petition.accepts_signatures_at(open_petition.closes_at)
    assert not petition(PetitionState.DRAFT).accepts_signatures_at(NOW)


def test_an_open_petition_past_its_deadline_is_seen_as_closed_before_any_job_runs():
    open_petition = petition(PetitionState.OPEN)
    after = open_petition.closes_at + timedelta(minutes=1)
    assert open_petition.effective_state(after) == PetitionState.CLOSED
    assert open_petition.collection_ended_at(after) == open_petition.closes_at
    assert open_petition.effective_state(NOW) == PetitionState.OPEN
    assert open_petition.collection_ended_at(NOW) is None


def test_signature_lifecycle():
    signature = Signature()
    signature.confirm(NOW)
    assert (signature.state, signature.confirmed_at) == (SignatureState.CONFIRMED, NOW)
    with pytest.raises(InvalidTransition):
        signature.confirm(NOW)
    signature.invalidate(NOW, "one address, 300 signatures in a minute")
    assert signature.state == SignatureState.INVALIDATED
    signature.restore()
    assert signature.state == SignatureState.CONFIRMED
    assert signature.invalidation_reason is None
    signature.withdraw(NOW)
    assert signature.state == SignatureState.WITHDRAWN
    with pytest.raises(InvalidTransition):
        signature.invalidate(NOW, "too late")


def test_restoring_an_unconfirmed_invalidated_signature_leaves_it_pending():
    signature = Signature()
    signature.invalidate(NOW, "suspicious")
    signature.restore()
    assert signature.state == SignatureState.PENDING


def test_refused_transition_is_english_for_logs_and_localised_for_organisers(tmp_path):
    from flask_babel import force_locale

    from tests.conftest import make_test_app

    petition = Petition(state=PetitionState.CLOSED)
    with pytest.raises(InvalidTransition) as refused:
        petition.close(NOW)
    assert str(refused.value) == "cannot close a petition that is closed"
    app = make_test_app(f"sqlite:///{tmp_path / 'x.sqlite3'}", str(tmp_path))
    with app.test_request_context():
        with force_locale("kk"):
            assert str(refused.value.user_message) == (
                "Бұл петицияны жабу мүмкін емес: оның күйі — «Жабық»."
            )
        with force_locale("ru"):
            assert "«Закрыта»" in str(refused.value.user_message)
