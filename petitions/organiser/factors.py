"""The second factor in organisers' requests: the half-signed-in state between the password and
the code, when the factor was last given, and the actions that want it given recently.

Both live in Flask's session for now (signed, not readable as a sign-in by Flask-Login), behind
the small functions below, so that they can move to a server-side session record without the
views changing. `now()` is the clock every one of them is asked with: `app.config["CLOCK"]` in
tests, `utcnow` otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app, session

from petitions.models import Organiser, utcnow
from petitions.services import accounts

#: The session's key for when the second factor was last given (a POSIX timestamp).
GIVEN_AT = "factor_at"
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
    }
)


def now() -> datetime:
    """Return the time the second factor is judged at (injectable for tests)."""
    return current_app.config.get("CLOCK", utcnow)()


def fresh_age() -> timedelta:
    """How long a given factor counts as recent for the actions above."""
    return timedelta(minutes=current_app.config["SETTINGS"].fresh_factor_minutes)


def mark_given(moment: datetime) -> None:
    """Remember that the second factor was given at this moment."""
    session[GIVEN_AT] = moment.timestamp()


def given_at() -> datetime | None:
    """Return when this session last gave the second factor, or None if it never did."""
    stamp = session.get(GIVEN_AT)
    if not isinstance(stamp, int | float):
        return None
    return datetime.fromtimestamp(stamp, UTC)


def given_within(moment: datetime, age: timedelta) -> bool:
    """Tell whether the second factor was given no longer than `age` before `moment`."""
    at = given_at()
    return at is not None and moment - age <= at


def begin_sign_in(organiser: Organiser, moment: datetime, next_path: str) -> None:
    """Remember who gave the right password, until the code (or PENDING_AGE) ends it."""
    forget()
    session[PENDING] = {
        "session": organiser.get_id(),
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
    return accounts.organiser_for_session(str(pending.get("session", "")))


def end_sign_in() -> str | None:
    """Forget the half-signed-in state; return where the organiser was going (None when no
    sign-in was under way)."""
    pending = session.pop(PENDING, None)
    if not isinstance(pending, dict):
        return None
    return str(pending.get("next") or "")


def forget() -> None:
    """Forget every trace of a second factor in this session (signing in or out)."""
    session.pop(GIVEN_AT, None)
    session.pop(PENDING, None)
