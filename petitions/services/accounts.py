"""Organiser accounts."""

from __future__ import annotations

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from petitions.extensions import db
from petitions.models import Organiser

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
