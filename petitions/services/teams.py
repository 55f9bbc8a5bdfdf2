"""A petition's team: members with roles, emailed invitations, removals and the transfer.

Every petition has exactly one owner. The database holds at most one (a partial unique index);
this module never leaves none: the owner cannot be removed, cannot leave and cannot lose the role
except by a transfer, which demotes and promotes in one transaction. Each change is a guarded
statement whose row count says whether it applied, so two organisers acting at once cannot
remove an owner or accept one invitation twice.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from petitions.extensions import db
from petitions.models import (
    GRANTABLE_ROLES,
    INVITATION_AGE,
    Invitation,
    MemberRole,
    Membership,
    Organiser,
    Petition,
)
from petitions.services import audit


class TeamError(ValueError):
    """A change to a team that the rules do not allow; `user_message` says why, translated."""

    def __init__(self, message: str, user_message: str | LazyString) -> None:
        super().__init__(message)
        self.user_message = user_message


@dataclass(frozen=True)
class Member:
    """A petition with the role the organiser holds on it."""

    petition: Petition
    role: MemberRole


def membership(petition_id: int, organiser_id: int) -> Member | None:
    """Return a petition with this organiser's role on it; None for a non-member or no petition."""
    row = db.session.execute(
        sa.select(Petition, Membership.role)
        .join(Membership, Membership.petition_id == Petition.id)
        .where(Petition.id == petition_id, Membership.organiser_id == organiser_id)
    ).first()
    return None if row is None else Member(row[0], row[1])


def member_petitions(organiser_id: int) -> list[Member]:
    """Return every petition the organiser is a member of, with the role, newest first."""
    rows = db.session.execute(
        sa.select(Petition, Membership.role)
        .join(Membership, Membership.petition_id == Petition.id)
        .where(Membership.organiser_id == organiser_id)
        .order_by(Petition.created_at.desc(), Petition.id.desc())
    ).all()
    return [Member(petition, role) for petition, role in rows]


def members(petition: Petition) -> list[Membership]:
    """Return the team, the owner first, then by role and name."""
    ranks = {role.value: rank for rank, role in enumerate(MemberRole)}
    order = sa.case(ranks, value=Membership.role)
    return list(
        db.session.scalars(
            sa.select(Membership)
            .join(Membership.organiser)
            .options(joinedload(Membership.organiser))
            .where(Membership.petition_id == petition.id)
            .order_by(order, Organiser.name, Organiser.id)
        )
    )


def pending_invitations(petition: Petition, now: datetime) -> list[Invitation]:
    """Return the invitations that can still be accepted, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Invitation)
            .where(
                Invitation.petition_id == petition.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .order_by(Invitation.created_at, Invitation.id)
        )
    )


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def _grantable(role: MemberRole | str) -> MemberRole:
    if role not in {grantable.value for grantable in GRANTABLE_ROLES}:
        raise TeamError(
            f"cannot grant the role {role!r}",
            _l("Choose the role of editor, moderator or viewer; ownership passes by a transfer."),
        )
    return MemberRole(role)


def _member_with_email(petition: Petition, email: str) -> Membership | None:
    return db.session.scalar(
        sa.select(Membership)
        .join(Membership.organiser)
        .where(Membership.petition_id == petition.id, Organiser.email == email)
    )


def invite(
    petition: Petition, inviter: Organiser, email: str, role: MemberRole | str, now: datetime
) -> tuple[Invitation, str]:
    """Invite an address to the team with a role; return the invitation and its link's token.

    An earlier invitation of the same address that is still open is revoked: only the newest
    link works. Only the token's hash is stored.
    """
    email = email.strip().lower()
    granted = _grantable(role)
    if "@" not in email or len(email) > 254:
        raise TeamError(f"not an email address: {email!r}", _l("Enter an email address."))
    if _member_with_email(petition, email) is not None:
        raise TeamError(
            f"{email} is already a member", _l("This address is already a member of the team.")
        )
    db.session.execute(
        _open_invitations(petition, now).where(Invitation.email == email).values(revoked_at=now)
    )
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        petition=petition,
        email=email,
        role=granted,
        token_hash=_token_hash(token),
        invited_by_id=inviter.id,
        created_at=now,
        expires_at=now + INVITATION_AGE,
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record("invite", actor=inviter, petition=petition, email=email, role=str(granted))
    return invitation, token


def _open_invitations(petition: Petition, now: datetime) -> sa.Update:
    return (
        sa.update(Invitation)
        .where(
            Invitation.petition_id == petition.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .execution_options(synchronize_session=False)
    )


class InvitationProblem:
    """Why an invitation's link does not work: each has its own page."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"


def invitation_for_token(token: str) -> Invitation | None:
    """Return the invitation a link's token names, in whatever state; None for no such link."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(
        sa.select(Invitation)
        .options(joinedload(Invitation.petition), joinedload(Invitation.invited_by))
        .where(Invitation.token_hash == _token_hash(token))
    )


def problem_with(invitation: Invitation | None, now: datetime) -> str | None:
    """Say why an invitation cannot be accepted at `now`, or None if it can."""
    if invitation is None:
        return InvitationProblem.UNKNOWN
    if invitation.accepted_at is not None:
        return InvitationProblem.USED
    if invitation.revoked_at is not None:
        return InvitationProblem.REVOKED
    if now >= invitation.expires_at:
        return InvitationProblem.EXPIRED
    return None


def accept(invitation: Invitation, organiser: Organiser, now: datetime) -> Membership:
    """Make the invited organiser a member with the invitation's role; the link then dies.

    The organiser must be the invited address. One guarded UPDATE takes the invitation, so of
    two acceptances at once exactly one succeeds.
    """
    if organiser.email != invitation.email:
        raise TeamError(
            f"{organiser.email} cannot accept an invitation for {invitation.email}",
            _l("This invitation is for another email address."),
        )
    taken = db.session.execute(
        sa.update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(accepted_at=now, accepted_by_id=organiser.id)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise TeamError("the invitation is no longer open", _l("This invitation no longer works."))
    petition = invitation.petition
    if _member_with_email(petition, organiser.email) is not None:
        raise TeamError(
            f"{organiser.email} is already a member",
            _l("You are already a member of this petition's team."),
        )
    member = Membership(
        petition_id=petition.id, organiser_id=organiser.id, role=invitation.role, created_at=now
    )
    try:
        with db.session.begin_nested():  # the UNIQUE (petition, organiser) settles a race
            db.session.add(member)
    except IntegrityError as error:
        raise TeamError(
            f"{organiser.email} joined at the same moment",
            _l("You are already a member of this petition's team."),
        ) from error
    audit.record("accept", actor=organiser, petition=petition, role=str(invitation.role))
    return member


def revoke(petition: Petition, invitation_id: int, actor: Organiser, now: datetime) -> None:
    """Revoke an invitation that is still open; its link stops working at once."""
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.petition_id != petition.id:
        raise TeamError("no such invitation", _l("There is no such invitation."))
    still_open = _open_invitations(petition, now).where(Invitation.id == invitation_id)
    revoked = db.session.execute(still_open.values(revoked_at=now))
    if revoked.rowcount != 1:
        raise TeamError(
            "the invitation is no longer open", _l("This invitation is no longer open.")
        )
    audit.record("revoke_invitation", actor=actor, petition=petition, email=invitation.email)


_NOT_A_MEMBER = _l("This person is not a member of the team.")


def _member_of(petition: Petition, organiser_id: int) -> Membership:
    found = db.session.scalar(
        sa.select(Membership)
        .options(joinedload(Membership.organiser))
        .where(Membership.petition_id == petition.id, Membership.organiser_id == organiser_id)
    )
    if found is None:
        raise TeamError("no such member", _NOT_A_MEMBER)
    return found


_NOT_THE_OWNER = _l("The owner's role changes only by transferring ownership.")


def change_role(
    petition: Petition, organiser_id: int, role: MemberRole | str, actor: Organiser
) -> None:
    """Give a member another role (not ownership, which passes by a transfer)."""
    granted = _grantable(role)
    member = _member_of(petition, organiser_id)
    previous = member.role
    changed = db.session.execute(
        sa.update(Membership)
        .where(Membership.id == member.id, Membership.role != MemberRole.OWNER)
        .values(role=granted)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise TeamError("cannot change the owner's role", _NOT_THE_OWNER)
    db.session.refresh(member)
    audit.record(
        "change_role",
        actor=actor,
        petition=petition,
        member=member.organiser.email,
        previous_role=str(previous),
        role=str(granted),
    )


def _delete_member(petition: Petition, organiser_id: int) -> tuple[str, MemberRole]:
    member = _member_of(petition, organiser_id)
    email, role = member.organiser.email, member.role
    deleted = db.session.execute(
        sa.delete(Membership)
        .where(Membership.id == member.id, Membership.role != MemberRole.OWNER)
        .execution_options(synchronize_session=False)
    )
    if deleted.rowcount != 1:
        raise TeamError(
            "cannot remove the owner",
            _l("The owner cannot leave the team: transfer ownership to another member first."),
        )
    return email, role


def remove(petition: Petition, organiser_id: int, actor: Organiser) -> None:
    """Take a member off the team (never the owner); their next request no longer opens it."""
    email, role = _delete_member(petition, organiser_id)
    audit.record("remove_member", actor=actor, petition=petition, member=email, role=str(role))


def leave(petition: Petition, organiser: Organiser) -> None:
    """Leave a petition's team (the owner cannot: ownership passes by a transfer first)."""
    _email, role = _delete_member(petition, organiser.id)
    audit.record("leave", actor=organiser, petition=petition, role=str(role))


def transfer(petition: Petition, organiser_id: int, actor: Organiser) -> None:
    """Make another member the owner; the old owner stays on the team as an editor.

    The old owner is demoted before the new one is promoted, so the one-owner index holds at
    every statement, and the transaction never ends with no owner: a refusal rolls back both.
    """
    target = _member_of(petition, organiser_id)
    if target.organiser_id == actor.id:
        raise TeamError("the owner already owns it", _l("You are already the owner."))
    demoted = db.session.execute(
        sa.update(Membership)
        .where(
            Membership.petition_id == petition.id,
            Membership.organiser_id == actor.id,
            Membership.role == MemberRole.OWNER,
        )
        .values(role=MemberRole.EDITOR)
        .execution_options(synchronize_session=False)
    )
    if demoted.rowcount != 1:
        raise TeamError("only the owner can transfer", _l("Only the owner can transfer ownership."))
    promoted = db.session.execute(
        sa.update(Membership)
        .where(Membership.id == target.id)
        .values(role=MemberRole.OWNER)
        .execution_options(synchronize_session=False)
    )
    if promoted.rowcount != 1:
        raise TeamError("the new owner left the team", _NOT_A_MEMBER)
    petition.organiser_id = target.organiser_id
    db.session.flush()
    db.session.refresh(petition)
    audit.record(
        "transfer",
        actor=actor,
        petition=petition,
        member=target.organiser.email,
        previous_role=str(target.role),
    )


def owner_count(petition: Petition) -> int:
    """Count the petition's owners (always 1; the tests ask)."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Membership)
        .where(Membership.petition_id == petition.id, Membership.role == MemberRole.OWNER)
    )
