"""Signing a petition, confirming a signature, and the tokens that link the two.

One person signs a petition once: the keyed hash of the canonical email and the UNIQUE
(petition_id, email_hash) constraint decide, inside one INSERT ... ON CONFLICT DO NOTHING, so
concurrent duplicates are settled by the database and no request ever sees an error for them.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from petitions.extensions import db
from petitions.models import Petition, Signature, SignatureState, utcnow
from petitions.services import tokens
from petitions.services.privacy import canonical_email, keyring

#: How long an emailed confirmation link works; signing again sends a fresh one.
CONFIRMATION_LINK_AGE = timedelta(days=7)
#: A signature made before closing may still be confirmed this long after collection ended.
CONFIRMATION_GRACE = timedelta(hours=24)
#: Repeated submissions with one address send it at most one email in this interval.
EMAIL_COOLDOWN = timedelta(minutes=1)
_TOKEN_SALT = "petitions.confirm-signature"  # noqa: S105 - a namespace, not a secret


class PetitionNotSignable(Exception):
    """The petition is not collecting signatures at this instant."""


class Notice(enum.StrEnum):
    """What, if anything, to email the signer after a submission."""

    CONFIRM = "confirm"
    ALREADY_SIGNED = "already_signed"
    NONE = "none"


@dataclass(frozen=True)
class SignatureDetails:
    """What a signer typed, already validated by the form."""

    name: str
    email: str
    country: str
    city: str
    comment: str | None
    show_name: bool
    locale: str
    client_address: str | None


@dataclass(frozen=True)
class SignOutcome:
    signature: Signature
    notice: Notice


class ConfirmResult(enum.StrEnum):
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    TOO_LATE = "too_late"
    INVALID = "invalid"


def database_now() -> datetime:
    """Return the time by the database's clock, the one clock all app hosts share."""
    if db.session.get_bind().dialect.name == "postgresql":
        return db.session.scalar(sa.select(sa.func.statement_timestamp()))
    return utcnow()  # SQLite runs in this process: its clock is ours.


def _insert_statement():
    dialect = db.session.get_bind().dialect.name
    return postgresql_insert if dialect == "postgresql" else sqlite_insert


def _insert_if_new(petition: Petition, details: SignatureDetails, canonical: str, now: datetime):
    """Insert the signature unless this person already signed; return its id or None."""
    ring = keyring()
    values = {
        "email_hash": ring.keyed_hash("email", canonical),
        "email_domain_hash": ring.keyed_hash("email-domain", canonical.rpartition("@")[2]),
        "petition_id": petition.id,
        "name": details.name,
        "email": details.email.strip(),
        "country": details.country,
        "city": details.city,
        "comment": details.comment or None,
        "show_name": details.show_name,
        "ip_hash": ring.keyed_hash("ip", details.client_address)
        if details.client_address
        else None,
        "locale": details.locale,
        "state": SignatureState.PENDING,
        "created_at": now,
        "token_nonce": secrets.token_hex(16),
        "last_emailed_at": now,
    }
    statement = (
        _insert_statement()(Signature)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["petition_id", "email_hash"])
        .returning(Signature.id)
    )
    return db.session.scalar(statement)


def _existing(petition: Petition, email_hash: bytes) -> Signature:
    return db.session.scalars(
        sa.select(Signature)
        .where(Signature.petition_id == petition.id, Signature.email_hash == email_hash)
        .with_for_update()
    ).one()


def _start_over(signature: Signature, details: SignatureDetails, now: datetime) -> None:
    """Turn a withdrawn signature back into a pending one with what was typed now."""
    signature.name = details.name
    signature.city = details.city
    signature.country = details.country
    signature.comment = details.comment or None
    signature.show_name = details.show_name
    signature.state = SignatureState.PENDING
    signature.withdrawn_at = None
    signature.created_at = now


def _repeat_notice(signature: Signature, details: SignatureDetails, now: datetime) -> Notice:
    """Decide what a repeated submission sends; what was signed and confirmed stays as it was."""
    if signature.state == SignatureState.INVALIDATED:
        return Notice.NONE
    if signature.state == SignatureState.WITHDRAWN:
        _start_over(signature, details, now)
    elif signature.last_emailed_at and now - signature.last_emailed_at < EMAIL_COOLDOWN:
        return Notice.NONE
    signature.last_emailed_at = now
    signature.locale = details.locale
    if signature.state == SignatureState.CONFIRMED:
        return Notice.ALREADY_SIGNED
    signature.token_nonce = secrets.token_hex(16)
    return Notice.CONFIRM


def sign(petition: Petition, details: SignatureDetails) -> SignOutcome:
    """Record a pending signature, or recognise a repeat; say which email to send."""
    now = database_now()
    if not petition.accepts_signatures_at(now):
        raise PetitionNotSignable(petition.slug)
    canonical = canonical_email(details.email)
    new_id = _insert_if_new(petition, details, canonical, now)
    if new_id is not None:
        return SignOutcome(db.session.get(Signature, new_id), Notice.CONFIRM)
    signature = _existing(petition, keyring().keyed_hash("email", canonical))
    notice = _repeat_notice(signature, details, now)
    db.session.flush()
    return SignOutcome(signature, notice)


def confirmation_token(signature: Signature) -> str:
    """Make the token of the signature's newest confirmation link."""
    return tokens.issue(_TOKEN_SALT, signature.id, signature.token_nonce)


def signature_for_token(token: str) -> Signature | None:
    """Return the signature a valid, unexpired, newest link points to, or None."""
    return tokens.redeem(
        _TOKEN_SALT, token, CONFIRMATION_LINK_AGE, Signature, lambda found: found.token_nonce
    )


def confirmation_deadline(petition: Petition, now: datetime) -> datetime | None:
    """Return the last instant a pending signature of this petition can be confirmed."""
    ended = petition.collection_ended_at(now)
    return None if ended is None else ended + CONFIRMATION_GRACE


def confirm(token: str) -> tuple[ConfirmResult, Signature | None]:
    """Confirm the signature behind a link, exactly once even under concurrent clicks."""
    signature = signature_for_token(token)
    if signature is None:
        return ConfirmResult.INVALID, None
    now = database_now()
    deadline = confirmation_deadline(signature.petition, now)
    if deadline is not None and now >= deadline:
        return ConfirmResult.TOO_LATE, signature
    # One conditional UPDATE is the guarded transition PENDING -> CONFIRMED: of two concurrent
    # confirmations, the database lets exactly one match.
    updated = db.session.execute(
        sa.update(Signature)
        .where(
            Signature.id == signature.id,
            Signature.state == SignatureState.PENDING,
            Signature.token_nonce == signature.token_nonce,
        )
        .values(state=SignatureState.CONFIRMED, confirmed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(signature)
    if updated.rowcount == 1:
        return ConfirmResult.CONFIRMED, signature
    if signature.state == SignatureState.CONFIRMED:
        return ConfirmResult.ALREADY_CONFIRMED, signature
    return ConfirmResult.INVALID, signature
