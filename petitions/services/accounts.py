"""Organiser accounts."""

from __future__ import annotations

import functools
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from petitions.extensions import db
from petitions.models import Organiser, OrganiserSession, SessionEnd, utcnow
from petitions.services import sessions, tokens

MIN_PASSWORD_LENGTH = 12


class AccountError(ValueError):
    """An account cannot be created or changed as asked."""


def find_organiser(email: str) -> Organiser | None:
    """Return the organiser with this email, compared case-insensitively."""
    return db.session.scalar(sa.select(Organiser).where(Organiser.email == email.strip().lower()))


def create_organiser(email: str, name: str, password: str) -> Organiser:
    """Add an organiser with a hashed password; refuse a taken email or a short password."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise AccountError(f"not an email address: {email!r}")
    if not name.strip():
        raise AccountError("the name must not be empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if find_organiser(email) is not None:
        raise AccountError(f"an organiser with the email {email} already exists")
    organiser = Organiser(
        email=email, name=name.strip(), password_hash=generate_password_hash(password)
    )
    db.session.add(organiser)
    db.session.flush()
    return organiser


def password_matches(organiser: Organiser, password: str) -> bool:
    """Tell whether a password is the organiser's."""
    return check_password_hash(organiser.password_hash, password)


@functools.cache
def _dummy_hash() -> str:
    """A hash to check against when the email is unknown: a wrong email then costs as long as a
    wrong password, so response times do not tell which emails have accounts."""
    return generate_password_hash(secrets.token_urlsafe(16))


RESET_LINK_AGE = timedelta(hours=1)
_RESET_SALT = "petitions.reset-password"


def authenticate(email: str, password: str, now: datetime) -> Organiser | None:
    """Return the active organiser whose email and password these are, or None."""
    organiser = find_organiser(email)
    if organiser is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not organiser.is_active or not password_matches(organiser, password):
        return None
    organiser.last_login_at = now
    return organiser


def reset_token(organiser: Organiser) -> str:
    """Make a password-reset token that dies with the password it would replace."""
    return tokens.issue(_RESET_SALT, organiser.id, organiser.session_stamp)


def organiser_for_reset_token(token: str) -> Organiser | None:
    """Return the organiser a valid, unexpired, unused reset token names."""
    organiser = tokens.redeem(
        _RESET_SALT,
        token,
        RESET_LINK_AGE,
        tokens.by_row_id(Organiser),
        lambda found: found.session_stamp,
    )
    return organiser if organiser is not None and organiser.is_active else None


def set_public_identity(organiser: Organiser, name: str, contact: str) -> None:
    """Set the name and contact signers see on the organiser's petitions; empty means none."""
    organiser.public_name = name.strip() or None
    organiser.public_contact = contact.strip() or None
    db.session.flush()


def set_password(
    organiser: Organiser,
    password: str,
    now: datetime | None = None,
    keep: OrganiserSession | None = None,
) -> None:
    """Replace an organiser's password, which also ends every session of theirs but `keep`."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    organiser.password_hash = generate_password_hash(password)
    sessions.end_others(organiser, keep, now or utcnow(), SessionEnd.NEW_PASSWORD)
    db.session.flush()
