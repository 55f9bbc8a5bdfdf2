"""The second factor in organisers' requests: the half-signed-in state between the password and
the code, when the factor was last given, and the actions that want it given recently.

When the factor was given is kept on the session's record on the server
(`OrganiserSession.factor_at`), so that ending a session ends it too. The half-signed-in state
lives in Flask's signed session (not readable as a sign-in by Flask-Login) for at most
PENDING_AGE, naming the account and its current password. `now()` is the sessions' clock
(`petitions.organiser.sessions.now`), which tests set.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app, session
from flask_login import current_user

from petitions.extensions import db
from petitions.models import Organiser
from petitions.organiser import sessions

#: The session's key for an organiser who gave the right password and not yet the code.
PENDING = "factor_pending"
#: How long the code page waits for the code after the password.
PENDING_AGE = timedelta(minutes=5)

#: Actions that ask for the second factor again when it was given longer ago than
#: FRESH_FACTOR_MINUTES (one line here per action; `require_organiser` checks them all).
FRESH_FACTOR_ENDPOINTS = frozenset(
    {
        "organiser.export_petition",
        "organiser.download_export",
        "organiser.record_delivery",
        "organiser.seal_petition",
        "organiser.invite_member",
        "organiser.change_member_role",
        "organiser.remove_member",
        "organiser.transfer_ownership",
        "organiser.remove_passkey",
    }
)


def now() -> datetime:
    """Return the time the second factor is judged at: the sessions' clock."""
    return sessions.now()


def fresh_age() -> timedelta:
    """How long a given factor counts as recent for the actions above."""
    return timedelta(minutes=current_app.config["SETTINGS"].fresh_factor_minutes)


def mark_given(moment: datetime) -> None:
    """Record on the signed-in session that the second factor was given at this moment; the
    caller commits."""
    current_user.current_session.factor_at = moment


def given_at() -> datetime | None:
    """Return when this session last gave the second factor, or None if it never did."""
    if not current_user.is_authenticated:
        return None
    return current_user.current_session.factor_at


def given_within(moment: datetime, age: timedelta) -> bool:
    """Tell whether the second factor was given no longer than `age` before `moment`."""
    at = given_at()
    return at is not None and moment - age <= at


def begin_sign_in(organiser: Organiser, moment: datetime, next_path: str) -> None:
    """Remember who gave the right password, until the code (or PENDING_AGE) ends it."""
    forget()
    session[PENDING] = {
        "organiser": organiser.id,
        "password": organiser.session_stamp,
        "at": moment.timestamp(),
        "next": next_path,
    }


def pending_organiser(moment: datetime) -> Organiser | None:
    """Return the organiser halfway through signing in, if the password was given recently and
    is still theirs."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int | float):
        return None
    started = datetime.fromtimestamp(pending["at"], UTC)
    if not started <= moment <= started + PENDING_AGE:
        return None
    organiser_id = pending.get("organiser")
    organiser = db.session.get(Organiser, organiser_id) if isinstance(organiser_id, int) else None
    if organiser is None or not organiser.is_active:
        return None
    # A new password since the right one was given ends the half sign-in too.
    return organiser if organiser.session_stamp == pending.get("password") else None


def end_sign_in() -> str | None:
    """Forget the half-signed-in state; return where the organiser was going (None when no
    sign-in was under way)."""
    pending = session.pop(PENDING, None)
    if not isinstance(pending, dict):
        return None
    return str(pending.get("next") or "")


def forget() -> None:
    """Forget a half sign-in in this browser (signing in or out)."""
    session.pop(PENDING, None)
