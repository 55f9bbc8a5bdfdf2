"""Each transition and predicate is declared once: its Python guard and its SQL agree exactly."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from petitions.models import (
    AuditEvent,
    FormerState,
    InvalidTransition,
    Petition,
    PetitionState,
    Signature,
    SignatureState,
    Transition,
    utcnow,
)
from petitions.services import lifecycle

NOW = utcnow().replace(microsecond=0)
#: What each transition needs besides its time, and every stored column a test row starts with.
VALUES = {
    "close": {"close_reason": "The prisoner was released"},
    "invalidate": {"invalidation_reason": "one address, 300 in a minute", "invalidation_id": "a1"},
}
EARLIER = NOW - timedelta(days=2)


def _declared(model: type) -> list[Transition]:
    return [value for value in vars(model).values() if isinstance(value, Transition)]


def _columns(transition: Transition) -> list[str]:
    """Every column the transition may change: what both paths must leave equal."""
    names = ["state", *transition.sets, *transition.clears]
    return names + ([transition.stamp] if transition.stamp else [])


def _expected_state(transition: Transition, row) -> str:
    target = transition.to
    return target.of(row) if isinstance(target, FormerState) else target


def _agree(db, transition: Transition, python_row, sql_row, now, allowed: bool) -> None:
    """Apply the transition to one row in Python and to its twin by the guarded UPDATE."""
    model, values = transition.model, VALUES.get(transition.verb, {})
    expected = _expected_state(transition, python_row) if allowed else python_row.state
    try:
        transition.apply(python_row, now, **values)
        refused = False
    except InvalidTransition as error:
        assert str(error) == f"cannot {transition.verb} a {model.__name__.lower()} that is " + (
            python_row.state
        )
        refused = True
    db.session.commit()
    changed = db.session.execute(transition.update(now, **values).where(model.id == sql_row.id))
    db.session.commit()
    db.session.refresh(python_row)
    db.session.refresh(sql_row)
    assert (refused, changed.rowcount) == (not allowed, 1 if allowed else 0)
    assert python_row.state == sql_row.state == expected
    columns = _columns(transition)
    assert [getattr(python_row, c) for c in columns] == [getattr(sql_row, c) for c in columns]


PETITION_CASES = [
    (transition.verb, state, offset)
    for transition in _declared(Petition)
    for state in PetitionState
    # Closing before and after the deadline: the stamp never passes it.
    for offset in ([timedelta(days=-1), timedelta(days=1)] if transition.stamp_until else [None])
]


@pytest.mark.parametrize(("verb", "state", "offset"), PETITION_CASES)
def test_petition_transition_is_the_same_in_python_and_sql(db, make_petition, verb, state, offset):
    transition = next(t for t in _declared(Petition) if t.verb == verb)
    fields = {"opens_at": EARLIER, "closes_at": NOW + timedelta(days=3)}
    if state in {PetitionState.CLOSED, PetitionState.DELIVERED}:
        fields["closed_at"] = NOW - timedelta(days=1)
    twins = [make_petition(state, **fields) for _ in range(2)]
    now = NOW if offset is None else fields["closes_at"] + offset
    _agree(db, transition, *twins, now, allowed=state in transition.from_states)
    if transition.stamp_until and state in transition.from_states:
        assert twins[0].closed_at == min(now, fields["closes_at"])


SIGNATURE_CASES = [
    (transition.verb, state, was_confirmed)
    for transition in _declared(Signature)
    for state in SignatureState
    # Where a signature goes back to depends on whether it had been confirmed.
    for was_confirmed in ([True, False] if isinstance(transition.to, FormerState) else [True])
]


@pytest.mark.parametrize(("verb", "state", "was_confirmed"), SIGNATURE_CASES)
def test_signature_transition_is_the_same_in_python_and_sql(
    db, make_petition, make_signature, verb, state, was_confirmed
):
    transition = next(t for t in _declared(Signature) if t.verb == verb)
    petition = make_petition()
    fields = {"confirmed_at": EARLIER if was_confirmed else None, "created_at": EARLIER}
    if state == SignatureState.INVALIDATED:
        fields.update(invalidated_at=EARLIER, invalidation_reason="earlier", invalidation_id="a0")
    if state == SignatureState.WITHDRAWN:
        fields["withdrawn_at"] = EARLIER
    twins = [make_signature(petition, state, **fields) for _ in range(2)]
    _agree(db, transition, *twins, NOW, allowed=state in transition.from_states)


def test_every_transition_of_both_models_is_covered():
    assert sorted(t.verb for t in _declared(Petition)) == ["close", "deliver", "publish"]
    verbs = ["confirm", "invalidate", "restore", "sign again", "withdraw"]
    assert sorted(t.verb for t in _declared(Signature)) == verbs
    assert {case[0] for case in SIGNATURE_CASES} == {t.verb for t in _declared(Signature)}


def test_a_transition_refuses_values_it_does_not_declare():
    with pytest.raises(TypeError):
        Petition.CLOSE.update(NOW)
    with pytest.raises(TypeError):
        Signature.CONFIRM.update(NOW, invalidation_reason="no")


@pytest.mark.parametrize("state", list(PetitionState))
def test_collecting_and_past_deadline_agree_in_python_and_sql(db, make_petition, state):
    petition = make_petition(state, opens_at=EARLIER, closes_at=NOW)
    second = timedelta(seconds=1)
    for at in (EARLIER - second, EARLIER, NOW - second, NOW, NOW + second):
        for predicate in ("accepts_signatures_at", "past_deadline_at"):
            in_sql = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Petition)
                .where(Petition.id == petition.id, getattr(Petition, predicate)(at))
            )
            in_python = getattr(petition, predicate)(at)
            assert in_python is (in_sql == 1), (predicate, at)
    collecting = [petition.accepts_signatures_at(at) for at in (EARLIER, NOW)]
    assert collecting == ([True, False] if state == PetitionState.OPEN else [False, False])


def _behind_its_back(db, petition: Petition, **values) -> None:
    """Change the stored row as another request would, leaving this session's copy stale."""
    db.session.execute(
        sa.update(Petition)
        .where(Petition.id == petition.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _audited(db, action: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


def test_publishing_a_draft_that_another_request_published_is_refused(db, make_petition):
    draft = make_petition(PetitionState.DRAFT)
    _behind_its_back(db, draft, state=PetitionState.OPEN, published_at=EARLIER)
    with pytest.raises(lifecycle.PetitionError) as refused:
        lifecycle.publish(draft, draft.organiser, NOW)
    assert str(refused.value) == "This petition cannot be published: its state is “Open”."
    assert (draft.state, draft.published_at) == (PetitionState.OPEN, EARLIER)
    assert _audited(db, "publish") == 0


def test_closing_a_petition_that_the_deadline_job_closed_keeps_the_first_close(db, make_petition):
    petition = make_petition(opens_at=EARLIER, closes_at=NOW + timedelta(hours=1))
    _behind_its_back(db, petition, state=PetitionState.CLOSED, closed_at=EARLIER)
    with pytest.raises(lifecycle.PetitionError) as refused:
        lifecycle.close_early(petition, None, NOW, "too late")
    assert str(refused.value) == "This petition cannot be closed: its state is “Closed”."
    assert (petition.closed_at, petition.close_reason) == (EARLIER, None)
    assert _audited(db, "close") == 0


def test_close_expired_closes_at_the_deadline_only_what_has_passed_it(db, make_petition):
    lapsed = make_petition(opens_at=EARLIER, closes_at=NOW - timedelta(hours=1))
    running = make_petition(opens_at=EARLIER, closes_at=NOW + timedelta(hours=1))
    draft = make_petition(PetitionState.DRAFT, opens_at=EARLIER, closes_at=NOW - timedelta(hours=1))
    assert [p.id for p in lifecycle.close_expired(NOW)] == [lapsed.id]
    db.session.commit()
    states = [db.session.get(Petition, p.id).state for p in (lapsed, running, draft)]
    assert states == [PetitionState.CLOSED, PetitionState.OPEN, PetitionState.DRAFT]
    assert lapsed.closed_at == NOW - timedelta(hours=1)
    assert _audited(db, "close") == 1
    assert lifecycle.close_expired(NOW) == []
