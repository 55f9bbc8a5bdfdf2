"""Organisers' sessions, kept on the server: started at sign-in, checked on every request, ended.

A session's cookie carries only a random id; the table keeps its SHA-256. A session is open while
its row has no `ended_at`, its last request was less than the idle limit ago and it began less
than the absolute limit ago. The last request is written at most once every
`TOUCH_EVERY`, so a session ends between `idle` and `idle + TOUCH_EVERY` after its last request.

The browser a session runs in is named from its User-Agent by a short table of families, and
known by a long-lived random cookie of its own, so that a sign-in from a new one can be told to
the organiser. Neither the header nor the client's address is kept.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from petitions.extensions import db
from petitions.models import (
    LANGUAGES,
    Organiser,
    OrganiserBrowser,
    OrganiserSession,
    SessionEnd,
)
from petitions.services import audit

#: The last request of a session is written when the stored one is at least this old.
TOUCH_EVERY = timedelta(minutes=1)
#: How long a session's record is kept after it began (it has ended long before: the absolute
#: limit is at most a week), for the account's audit log to name the browser.
RECORDS_KEPT = timedelta(days=30)
#: The browsers an organiser is known by; the oldest beyond this many are forgotten.
KNOWN_BROWSERS = 20
#: Random ids (the session's, the browser's) are 32 random bytes in URL-safe base64.
TOKEN_LENGTH = 43
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class Limits:
    """How long a session lasts: without a request, and in all."""

    idle: timedelta
    longest: timedelta


@dataclass(frozen=True)
class Browser:
    """A browser's family and system, as the table below names them; None for neither."""

    name: str | None
    platform: str | None


#: (pattern, name), first match wins: browsers built on Chrome name it too, so they come first.
_BROWSERS = (
    (re.compile(r"YaBrowser/"), "Yandex Browser"),
    (re.compile(r"SamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"OPR/|Opera"), "Opera"),
    (re.compile(r"Edg(e|A|iOS)?/"), "Edge"),
    (re.compile(r"Vivaldi/"), "Vivaldi"),
    (re.compile(r"Firefox/|FxiOS/"), "Firefox"),
    (re.compile(r"Chrome/|CriOS/|Chromium/"), "Chrome"),
    (re.compile(r"Safari/"), "Safari"),
)
_PLATFORMS = (
    (re.compile(r"Android"), "Android"),
    (re.compile(r"iPhone|iPad|iPod"), "iOS"),
    (re.compile(r"CrOS"), "ChromeOS"),
    (re.compile(r"Windows"), "Windows"),
    (re.compile(r"Macintosh|Mac OS X"), "macOS"),
    (re.compile(r"Linux|X11"), "Linux"),
)


def browser_of(user_agent: str) -> Browser:
    """Name a browser's family and system from its User-Agent header, and nothing more of it."""
    agent = user_agent[:512]
    name = next((name for pattern, name in _BROWSERS if pattern.search(agent)), None)
    platform = next((name for pattern, name in _PLATFORMS if pattern.search(agent)), None)
    return Browser(name, platform)


def browser_label(name: str | None, platform: str | None) -> str:
    """Name a browser as organisers read it: "Firefox on Android", in their language."""
    if name and platform:
        return _("%(browser)s on %(platform)s", browser=name, platform=platform)
    if name:
        return name
    if platform:
        return _("A browser on %(platform)s", platform=platform)
    return _("An unknown browser")


def new_token() -> str:
    """Draw a random id for a session or a browser."""
    return secrets.token_urlsafe(32)


def _session_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def _browser_hash(organiser: Organiser, token: str) -> bytes:
    return hashlib.sha256(f"{organiser.id}:{token}".encode("ascii")).digest()


def is_token(value: str | None) -> bool:
    """Tell whether a cookie's value has the shape of a random id (anything else is ignored)."""
    return value is not None and TOKEN_PATTERN.fullmatch(value) is not None


@dataclass(frozen=True)
class Started:
    """A new session: its record and the random id only its cookie will hold."""

    session: OrganiserSession
    token: str


def start(organiser: Organiser, browser: Browser, now: datetime) -> Started:
    """Open a session for an organiser who has just proved who they are."""
    token = new_token()
    session = OrganiserSession(
        token_hash=_session_hash(token),
        organiser_id=organiser.id,
        created_at=now,
        last_seen_at=now,
        browser=browser.name,
        platform=browser.platform,
    )
    db.session.add(session)
    db.session.flush()
    return Started(session, token)


def _expiry(session: OrganiserSession, limits: Limits) -> tuple[datetime, SessionEnd]:
    """Return when an untouched session ends, and why."""
    idle_end = session.last_seen_at + limits.idle
    absolute_end = session.created_at + limits.longest
    if idle_end < absolute_end:
        return idle_end, SessionEnd.IDLE
    return absolute_end, SessionEnd.EXPIRED


def find(token: str, now: datetime, limits: Limits) -> OrganiserSession | None:
    """Return the open session this random id names, with its organiser, or None.

    A session found past its limits is ended (at the moment it lapsed) and not returned; one
    still open has its last request written if the stored one is `TOUCH_EVERY` old. Either
    change is left in the session for the caller to commit (nothing is flushed: an unchanged
    session is not written).
    """
    if not is_token(token):
        return None
    session = db.session.scalar(
        sa.select(OrganiserSession).where(OrganiserSession.token_hash == _session_hash(token))
    )
    if session is None or session.ended_at is not None:
        return None
    lapses_at, reason = _expiry(session, limits)
    if now >= lapses_at:
        _end(session, lapses_at, reason)
        return None
    if not session.organiser.is_active:
        return None
    if now - session.last_seen_at >= TOUCH_EVERY:
        session.last_seen_at = now
    return session


def replaced(token: str | None, now: datetime) -> None:
    """End the open session a browser had when it signs in again (as anyone): it is replaced."""
    if not is_token(token):
        return
    session = db.session.scalar(
        sa.select(OrganiserSession).where(
            OrganiserSession.token_hash == _session_hash(token),
            OrganiserSession.ended_at.is_(None),
        )
    )
    if session is not None:
        sign_out(session, now)


def _end(session: OrganiserSession, now: datetime, reason: SessionEnd) -> None:
    session.ended_at = now
    session.end_reason = reason


def _describe(session: OrganiserSession) -> dict[str, object]:
    """Say in the audit log which session it was, by what the account page shows of it."""
    return {
        "session": session.id,
        "browser": session.browser,
        "platform": session.platform,
        "signed_in_at": session.created_at.isoformat(timespec="seconds"),
    }


def sign_out(session: OrganiserSession, now: datetime) -> None:
    """End the session whose browser signed out."""
    _end(session, now, SessionEnd.SIGNED_OUT)
    audit.record("sign-out", actor=session.organiser, **_describe(session))
    db.session.flush()


def end_session(session: OrganiserSession, now: datetime, reason: SessionEnd) -> None:
    """End a session for a reason of the server's, in the audit log."""
    _end(session, now, reason)
    audit.record("end-session", actor=session.organiser, reason=str(reason), **_describe(session))
    db.session.flush()


def _open(organiser: Organiser, now: datetime, limits: Limits) -> sa.Select:
    return sa.select(OrganiserSession).where(
        OrganiserSession.organiser_id == organiser.id,
        OrganiserSession.ended_at.is_(None),
        OrganiserSession.last_seen_at > now - limits.idle,
        OrganiserSession.created_at > now - limits.longest,
    )


def open_sessions(organiser: Organiser, now: datetime, limits: Limits) -> list[OrganiserSession]:
    """List an organiser's open sessions, the most recently used first."""
    query = _open(organiser, now, limits).order_by(
        OrganiserSession.last_seen_at.desc(), OrganiserSession.id.desc()
    )
    return list(db.session.scalars(query).all())


def end_one(
    organiser: Organiser, session_id: int, now: datetime, limits: Limits
) -> OrganiserSession | None:
    """End one open session of the organiser's; None if they have no open session by that id."""
    session = next((s for s in open_sessions(organiser, now, limits) if s.id == session_id), None)
    if session is None:
        return None
    _end(session, now, SessionEnd.ENDED)
    audit.record("end-session", actor=organiser, **_describe(session))
    db.session.flush()
    return session


def end_others(
    organiser: Organiser,
    keep: OrganiserSession | None,
    now: datetime,
    reason: SessionEnd,
    limits: Limits | None = None,
) -> int:
    """End every session of the organiser's but `keep`; return how many were ended.

    Without `limits`, sessions that lapsed unnoticed are ended too (with `reason`); with them,
    only the open ones, so that the count is what the account page listed.
    """
    query = (
        _open(organiser, now, limits)
        if limits is not None
        else sa.select(OrganiserSession).where(
            OrganiserSession.organiser_id == organiser.id, OrganiserSession.ended_at.is_(None)
        )
    )
    if keep is not None:
        query = query.where(OrganiserSession.id != keep.id)
    ended = db.session.scalars(query).all()
    for session in ended:
        _end(session, now, reason)
    if ended:
        audit.record(
            "end-sessions",
            actor=organiser,
            reason=str(reason),
            sessions=[session.id for session in ended],
        )
    db.session.flush()
    return len(ended)


def forget_old(now: datetime) -> int:
    """Delete the records of sessions that began more than RECORDS_KEPT ago; return how many."""
    deleted = db.session.execute(
        sa.delete(OrganiserSession)
        .where(OrganiserSession.created_at < now - RECORDS_KEPT)
        .execution_options(synchronize_session=False)
    )
    return deleted.rowcount


@dataclass(frozen=True)
class BrowserCheck:
    """What a sign-in learnt of its browser: whether it is new, and the cookie it should keep."""

    is_new: bool
    token: str
    #: The language to warn the organiser in: the one last used in a browser they know.
    language: str


def check_browser(
    organiser: Organiser, cookie: str | None, language: str, now: datetime
) -> BrowserCheck:
    """Recognise the browser an organiser signs in from by its cookie, or remember a new one."""
    token = cookie if is_token(cookie) else new_token()
    token_hash = _browser_hash(organiser, token)
    mine = OrganiserBrowser.organiser_id == organiser.id
    known = db.session.scalar(
        sa.select(OrganiserBrowser).where(mine, OrganiserBrowser.token_hash == token_hash)
    )
    if known is not None:
        known.last_seen_at, known.language = now, _language(language)
        db.session.flush()
        return BrowserCheck(False, token, known.language)
    previous = known_language(organiser.id)
    # A new browser may be a thief's: it takes the language the organiser used before, and
    # gives its own only once it signs in again as a known browser.
    trusted = previous or _language(language)
    db.session.add(
        OrganiserBrowser(
            organiser_id=organiser.id,
            token_hash=token_hash,
            first_seen_at=now,
            last_seen_at=now,
            language=trusted,
        )
    )
    db.session.flush()
    _forget_old_browsers(organiser)
    return BrowserCheck(True, token, trusted)


def known_language(organiser_id: int) -> str | None:
    """Return the language of the browser the organiser used last, or None if none is known."""
    return db.session.scalar(
        sa.select(OrganiserBrowser.language)
        .where(OrganiserBrowser.organiser_id == organiser_id)
        .order_by(OrganiserBrowser.last_seen_at.desc(), OrganiserBrowser.id.desc())
        .limit(1)
    )


def _language(language: str) -> str:
    return language if language in LANGUAGES else "en"


def _forget_old_browsers(organiser: Organiser) -> None:
    kept = (
        sa.select(OrganiserBrowser.id)
        .where(OrganiserBrowser.organiser_id == organiser.id)
        .order_by(OrganiserBrowser.last_seen_at.desc(), OrganiserBrowser.id.desc())
        .limit(KNOWN_BROWSERS)
    )
    db.session.execute(
        sa.delete(OrganiserBrowser)
        .where(OrganiserBrowser.organiser_id == organiser.id, OrganiserBrowser.id.not_in(kept))
        .execution_options(synchronize_session=False)
    )
