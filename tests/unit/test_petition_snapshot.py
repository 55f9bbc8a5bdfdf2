"""The public copy of a petition is a frozen value that applies the model's own rules."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from petitions.models import Applicant, ApplicantKind, Organiser, Petition, PetitionState
from petitions.services.queries import PetitionSnapshot

OPENS = datetime(2099, 9, 1, 4, 0, tzinfo=UTC)
CLOSES = OPENS + timedelta(days=30)
CLOSED_EARLY = OPENS + timedelta(days=5)
PURGED = CLOSES + timedelta(days=90)
SECOND = timedelta(seconds=1)
MOMENTS = [OPENS - SECOND, OPENS, CLOSED_EARLY, CLOSES - SECOND, CLOSES, CLOSES + timedelta(days=1)]


def _petition(state: PetitionState) -> Petition:
    ended = state in (PetitionState.CLOSED, PetitionState.DELIVERED)
    return Petition(
        id=7,
        slug="free-them",
        public_id="k3Rz8QeVw2Jm0TnYb5LqXa",
        title="Free them",
        summary="Now.",
        body="The **text**.",
        recipient="The President",
        language="kk",
        goal=1000,
        timezone="Asia/Almaty",
        opens_at=OPENS,
        closes_at=CLOSES,
        state=state,
        organiser=Organiser(
            id=3,
            email="bureau@example.org",
            name="Private name",
            public_name="Qazaq Human Rights Bureau",
            public_contact="+7 727 000 00 00",
        ),
        closed_at=CLOSED_EARLY if ended else None,
        delivered_at=CLOSES if state == PetitionState.DELIVERED else None,
        sealing_key="seal-x25519:" + "A" * 43 + "=",
        purged_at=PURGED if state == PetitionState.DELIVERED else None,
        applicant=Applicant(
            kind=ApplicantKind.ORGANISATION,
            name="Qazaq Human Rights Bureau",
            signatory="Private signatory",
            address="050000, Almaty, 1 Example Street",
            id_number="123456789013",
            email="private@example.org",
            show_address=True,
        ),
    )


@pytest.mark.parametrize("state", list(PetitionState))
def test_the_snapshot_answers_every_moment_as_the_petition_does(state):
    petition = _petition(state)
    snapshot = PetitionSnapshot.of(petition)
    for now in MOMENTS:
        assert snapshot.accepts_signatures_at(now) == petition.accepts_signatures_at(now), now
        assert snapshot.collection_ended_at(now) == petition.collection_ended_at(now), now


def test_the_snapshot_of_an_open_petition_collects_inside_its_window_only():
    snapshot = PetitionSnapshot.of(_petition(PetitionState.OPEN))
    collecting = [snapshot.accepts_signatures_at(now) for now in MOMENTS]
    assert collecting == [False, True, True, True, False, False]
    ended = [snapshot.collection_ended_at(now) for now in MOMENTS]
    assert ended == [None, None, None, None, CLOSES, CLOSES]
    closed = PetitionSnapshot.of(_petition(PetitionState.CLOSED))
    assert {closed.collection_ended_at(now) for now in MOMENTS} == {CLOSED_EARLY}


def test_the_snapshot_copies_the_fields_and_cannot_change():
    snapshot = PetitionSnapshot.of(_petition(PetitionState.DELIVERED))
    assert dataclasses.asdict(snapshot) == {
        "id": 7,
        "slug": "free-them",
        "public_id": "k3Rz8QeVw2Jm0TnYb5LqXa",
        "title": "Free them",
        "summary": "Now.",
        "body": "The **text**.",
        "recipient": "The President",
        "language": "kk",
        "goal": 1000,
        "timezone": "Asia/Almaty",
        "opens_at": OPENS,
        "closes_at": CLOSES,
        "state": PetitionState.DELIVERED,
        "closed_at": CLOSED_EARLY,
        "delivered_at": CLOSES,
        "organiser_name": "Qazaq Human Rights Bureau",
        "organiser_contact": "+7 727 000 00 00",
        # Shown because the organiser chose so; nothing else of the applicant is copied.
        "applicant_address": "050000, Almaty, 1 Example Street",
        "sealing_key": "seal-x25519:" + "A" * 43 + "=",
        "purged_at": PURGED,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.state = PetitionState.OPEN
