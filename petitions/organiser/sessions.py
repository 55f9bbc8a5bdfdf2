"""Sign-in, sign-out and the check of every request, on the server's session records.

Flask-Login keeps one value in the session cookie: the session's random id (what
`Organiser.get_id` returns once a session is started or found). Every request of an organiser's
page looks it up (`load_organiser`); an ended or lapsed record signs the browser out.

The browser cookie is separate: a long-lived random value under `/organiser` only, set at
sign-in, by which the next sign-in from the same browser is known and sends no warning. Signers'
pages never set it and browsers never send it to them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from flask import after_this_request, current_app, request, session
from flask_babel import get_locale
from flask_login import current_user, login_user, logout_user

from petitions.extensions import db
from petitions.models import Organiser, SessionEnd, utcnow
from petitions.notifications import queue_new_browser
from petitions.services import sessions

#: Where a test puts a clock of its own: a callable returning an aware datetime in UTC.
CLOCK = "petitions.clock"
BROWSER_COOKIE = "organiser_browser"
BROWSER_COOKIE_AGE = 365 * 24 * 3600


def now() -> datetime:
    """Return the time sessions are judged by: the app's clock if one was set, else UTC now."""
    clock: Callable[[], datetime] | None = current_app.extensions.get(CLOCK)
    return clock() if clock is not None else utcnow()


def limits() -> sessions.Limits:
    """Return the idle and absolute limits of sessions from the settings."""
    settings = current_app.config["SETTINGS"]
    return sessions.Limits(
        idle=timedelta(minutes=settings.session_idle_minutes),
        longest=timedelta(hours=settings.session_max_hours),
    )


def load_organiser(token: str) -> Organiser | None:
    """Return the organiser of the open session the cookie names, or None to sign it out."""
    found = sessions.find(token, now(), limits())
    if db.session.dirty:  # a lapsed session ended, or a last request written
        db.session.commit()
    if found is None:
        session.pop("_user_id", None)
        return None
    organiser = found.organiser
    organiser.current_session, organiser.session_token = found, token
    return organiser


def sign_in(organiser: Organiser) -> None:
    """Start a session for an organiser who proved who they are; the caller commits.

    The session this browser had is ended; the browser cookie is set (or renewed), and a
    browser this organiser was not known to use sends them a warning by email.
    """
    moment = now()
    # Read from the cookie, not through current_user: its loader would commit this request's
    # changes so far (the sign-in's time) apart from the rest.
    sessions.replaced(session.get("_user_id"), moment)
    browser = sessions.browser_of(request.user_agent.string)
    started = sessions.start(organiser, browser, moment)
    organiser.current_session, organiser.session_token = started.session, started.token
    check = sessions.check_browser(
        organiser, request.cookies.get(BROWSER_COOKIE), str(get_locale() or "en"), moment
    )
    if check.is_new:
        queue_new_browser(organiser, started.session, check.language)
    login_user(organiser)
    # Flask-Login's hash of the client's address and User-Agent: the record is the session's
    # protection, and the cookie carries nothing of where the organiser was.
    session.pop("_id", None)

    @after_this_request
    def keep_browser_cookie(response):
        response.set_cookie(
            BROWSER_COOKIE,
            check.token,
            max_age=BROWSER_COOKIE_AGE,
            path=browser_cookie_path(),
            httponly=True,
            secure=current_app.config["SETTINGS"].is_production,
            samesite="Lax",
        )
        return response


def browser_cookie_path() -> str:
    """Return the path of the organisers' pages, under which alone the browser cookie is sent."""
    return f"{request.script_root}/organiser"


def sign_out() -> None:
    """End the current session's record and forget it in the browser."""
    if current_user.is_authenticated:
        sessions.sign_out(current_user.current_session, now())
        db.session.commit()
    forget()


def end_current(reason: SessionEnd) -> None:
    """End the current session's record for `reason` (not the organiser's own sign-out) and
    forget it in the browser."""
    if current_user.is_authenticated:
        sessions.end_session(current_user.current_session, now(), reason)
        db.session.commit()
    forget()


def forget() -> None:
    """Forget the session in this browser's cookie (its record is ended already)."""
    logout_user()
