"""The two moments a petition's team is emailed about: the goal reached, and collection closed.

Each is queued once, in the transaction that made it happen: the goal by a guarded UPDATE that
stamps `Petition.goal_reached_at` only while it is null, a close by the guarded CLOSE transition.
The outbox holds only who and what; the mail worker writes each email when it sends it
(`notifications.render_message`), in the member's language then.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from petitions.extensions import db
from petitions.models import COUNTED_STATES, Membership, Organiser, Petition, Signature
from petitions.services import mail


class TeamNotice(enum.StrEnum):
    """What a petition's team is told, as the outbox message's kind."""

    GOAL_REACHED = "goal_reached"
    PETITION_CLOSED = "petition_closed"


def tell_team(petition_id: int, notice: TeamNotice) -> int:
    """Queue one email about the petition to each member of its team; return how many."""
    members = db.session.execute(
        sa.select(Organiser.id, Organiser.email)
        .join(Membership, Membership.organiser_id == Organiser.id)
        .where(Membership.petition_id == petition_id, Organiser.is_active.is_(True))
        .order_by(Organiser.id)
    ).all()
    for organiser_id, email in members:
        mail.enqueue(
            str(notice), email, payload={"petition_id": petition_id, "organiser_id": organiser_id}
        )
    return len(members)


def _counted(petition_id: int) -> sa.ScalarSelect[int]:
    """Count what the public count shows: confirmed signatures, online and on paper."""
    return (
        sa.select(sa.func.count())
        .select_from(Signature)
        .where(Signature.petition_id == petition_id, Signature.state.in_(COUNTED_STATES))
        .scalar_subquery()
    )


def note_goal(petition: Petition, now: datetime) -> bool:
    """Stamp the goal reached and queue the team's emails the first time the count reaches it.

    Free once stamped, or with no goal: the loaded petition tells. Otherwise the petition's row
    is locked first (PostgreSQL), so that of two signatures confirmed at once the second counts
    after the first has committed and sees both; the UPDATE, guarded by `goal_reached_at IS
    NULL`, then lets exactly one transaction stamp it and send.
    """
    if petition.goal is None or petition.goal_reached_at is not None:
        return False
    reached = db.session.scalar(
        sa.select(Petition.goal_reached_at).where(Petition.id == petition.id).with_for_update()
    )
    if reached is not None:
        return False
    stamped = db.session.execute(
        sa.update(Petition)
        .where(
            Petition.id == petition.id,
            Petition.goal_reached_at.is_(None),
            Petition.goal <= _counted(petition.id),
        )
        .values(goal_reached_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if stamped != 1:
        return False
    set_committed_value(petition, "goal_reached_at", now)  # written above; nothing to flush
    tell_team(petition.id, TeamNotice.GOAL_REACHED)
    return True
