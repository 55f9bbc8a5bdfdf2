"""Signing a petition, confirming a signature, and the tokens that link the two.

One person signs a petition once: the keyed hash of the canonical email and the UNIQUE
(petition_id, email_hash) constraint decide, inside one INSERT ... ON CONFLICT DO NOTHING, so
concurrent duplicates are settled by the database and no request ever sees an error for them.
"""

from __future__ import annotations

import enum
import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import contains_eager

from petitions.extensions import db
from petitions.models import (
    PUBLIC_ID_LENGTH,
    RESIGNABLE_STATES,
    Petition,
    Signature,
    SignatureState,
    new_public_id,
    utcnow,
)
from petitions.sealing import SealingPublicKey
from petitions.services import milestones, subscriptions, tokens
from petitions.services.paper import person_hash
from petitions.services.privacy import email_hashes, keyring
from petitions.services.queries import PetitionSnapshot
from petitions.services.receipts import leaf_of

#: How long an emailed confirmation link works; signing again sends a fresh one.
CONFIRMATION_LINK_AGE = timedelta(days=7)
#: A signature made before closing may still be confirmed this long after collection ended.
CONFIRMATION_GRACE = timedelta(hours=24)
#: Repeated submissions with one address send it at most one email in this interval.
EMAIL_COOLDOWN = timedelta(minutes=1)
#: A withdrawal link works as long as the longest collection window; closing ends it sooner.
WITHDRAWAL_LINK_AGE = timedelta(days=366)
_TOKEN_SALT = "petitions.confirm-signature"  # noqa: S105 - a namespace, not a secret
# A different salt: a confirmation link cannot be turned into a withdrawal, or the other way.
_WITHDRAW_SALT = "petitions.withdraw-signature"


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
    #: The separate choice to be emailed news of the petition (a subscription).
    news: bool = False


@dataclass(frozen=True)
class SignOutcome:
    """What a submission came to: which signature of which petition, and what to email whom."""

    signature_id: int
    petition_id: int
    notice: Notice
    #: Where the email goes: for a repeat, the address stored when the person first signed
    #: (in a sealed petition, none is stored: the address typed now, which hashes the same).
    email: str
    #: A sealed petition's email goes out under the outbox's short-lived key.
    sealed: bool = False


class WithdrawResult(enum.StrEnum):
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"
    INVALID = "invalid"


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


#: The columns a new signature's INSERT fills from the request, in `_values`' order.
_COLUMNS = (
    "email_hash",
    "email_domain_hash",
    "petition_id",
    "name",
    "email",
    "country",
    "city",
    "comment",
    "show_name",
    "ip_hash",
    "locale",
    "state",
    "token_nonce",
    "public_id",
    "sealed",
    "receipt_leaf",
    "person_hash",
)


@functools.cache
def _guarded_insert(dialect: str) -> sa.Insert:
    """Build, once per database, the INSERT that decides a signature (see `_insert_if_new`)."""
    table = Signature.__table__
    if dialect == "postgresql":
        now, insert = sa.func.statement_timestamp(), postgresql_insert
    else:  # SQLite runs in this process: its clock is ours, passed in.
        now, insert = sa.bindparam("now", type_=table.c.created_at.type), sqlite_insert
    # Sealed or not as the request believed: a petition sealed since its cached copy was read
    # takes no signature in clear (sign() then tries again with a fresh copy).
    window_open = sa.exists().where(
        Petition.id == sa.bindparam("petition"),
        Petition.accepts_signatures_at(now),
        Petition.sealing_key.is_not_distinct_from(
            sa.bindparam("sealing_key", type_=Petition.sealing_key.type)
        ),
    )
    row = sa.select(
        *(sa.bindparam(f"v_{name}", type_=table.c[name].type) for name in _COLUMNS), now, now
    ).where(window_open)
    return (
        insert(table)
        .from_select([*_COLUMNS, "created_at", "last_emailed_at"], row)
        .on_conflict_do_nothing(index_elements=["petition_id", "email_hash"])
        .returning(table.c.id, table.c.created_at)
    )


@functools.lru_cache(maxsize=64)
def _sealing_key(line: str) -> SealingPublicKey:
    return SealingPublicKey.parse(line)


def _personal(
    petition: PetitionSnapshot | Petition, details: SignatureDetails, public_id: str
) -> dict[str, object]:
    """Return the personal columns of a signature: in clear (encrypted under the data keys), or,
    in a sealed petition, sealed to its public key with only a publicly shown name kept."""
    comment = details.comment or None
    if petition.sealing_key is None:
        return {"name": details.name, "city": details.city, "comment": comment, "sealed": None}
    fields = {"name": details.name, "email": details.email.strip(), "city": details.city}
    sealed = _sealing_key(petition.sealing_key).seal(
        {**fields, "comment": comment}, signature_id=public_id, petition=petition.slug
    )
    shown = details.name if details.show_name else None
    return {"name": shown, "city": None, "comment": None, "sealed": sealed}


def _values(petition: PetitionSnapshot, details: SignatureDetails) -> dict[str, object]:
    ring = keyring()
    hashes = email_hashes(details.email, ring)
    public_id = new_public_id()
    return {
        "email_hash": hashes.email,
        "email_domain_hash": hashes.domain,
        "petition_id": petition.id,
        "email": None if petition.is_sealed else details.email.strip(),
        "country": details.country,
        "show_name": details.show_name,
        "ip_hash": ring.keyed_hash("ip", details.client_address)
        if details.client_address
        else None,
        "locale": details.locale,
        "state": SignatureState.PENDING,
        "token_nonce": secrets.token_hex(16),
        "public_id": public_id,
        # Sealed petitions' too: a leaf tells nothing of its signer (petitions.receipts).
        "receipt_leaf": leaf_of(petition.public_id, public_id, ring),
        # Finds a paper line that repeats this signer (services.paper), sealed or not.
        "person_hash": person_hash(details.name, details.city, ring),
        **_personal(petition, details, public_id),
    }


def _insert_if_new(
    petition: PetitionSnapshot, values: dict[str, object]
) -> tuple[int, datetime] | None:
    """Insert the signature if the window is open and this person has not signed, in one
    statement: the database's clock and the UNIQUE constraint decide, with no race between a
    check and the write. Return (id, time of signing), or None if nothing was inserted."""
    dialect = db.session.get_bind().dialect.name
    parameters = {f"v_{name}": values[name] for name in _COLUMNS}
    parameters["petition"] = petition.id
    parameters["sealing_key"] = petition.sealing_key
    if dialect != "postgresql":
        parameters["now"] = utcnow()
    inserted = db.session.execute(_guarded_insert(dialect), parameters).first()
    return None if inserted is None else (inserted[0], inserted[1])


def _existing(petition: PetitionSnapshot, email_hash: bytes) -> Signature | None:
    """Lock this person's earlier signature, read afresh with its petition in the same query:
    whether the window is open is judged on the stored petition, not on the cached copy."""
    return db.session.scalars(
        sa.select(Signature)
        .join(Signature.petition)
        .options(contains_eager(Signature.petition))
        .where(Signature.petition_id == petition.id, Signature.email_hash == email_hash)
        .with_for_update(of=Signature)
        .execution_options(populate_existing=True)
    ).one_or_none()


def _start_over(signature: Signature, details: SignatureDetails, now: datetime) -> None:
    """Turn a withdrawn signature back into a pending one with what was typed now."""
    for column, value in _personal(signature.petition, details, signature.public_id).items():
        setattr(signature, column, value)
    signature.country = details.country
    signature.show_name = details.show_name
    signature.person_hash = person_hash(details.name, details.city)
    signature.sign_again(now)


def _repeat_notice(signature: Signature, details: SignatureDetails, now: datetime) -> Notice:
    """Decide what a repeated submission sends; what was signed and confirmed stays as it was."""
    if signature.state == SignatureState.INVALIDATED:
        return Notice.NONE
    if signature.state in RESIGNABLE_STATES:
        _start_over(signature, details, now)
    elif signature.last_emailed_at and now - signature.last_emailed_at < EMAIL_COOLDOWN:
        return Notice.NONE
    signature.last_emailed_at = now
    signature.locale = details.locale
    if signature.state == SignatureState.CONFIRMED:
        return Notice.ALREADY_SIGNED
    signature.token_nonce = secrets.token_hex(16)
    return Notice.CONFIRM


def sign(petition: PetitionSnapshot, details: SignatureDetails) -> SignOutcome:
    """Record a pending signature, or recognise a repeat; say which email to send."""
    values = _values(petition, details)
    typed = details.email.strip()
    inserted = _insert_if_new(petition, values)
    if inserted is not None:
        if details.news:
            subscriptions.subscribe(petition.id, inserted[0], typed, details.locale)
        # The email is written by the mail worker from the row: nothing to read back here.
        return SignOutcome(inserted[0], petition.id, Notice.CONFIRM, typed, petition.is_sealed)
    # Nothing inserted: this person signed before, or the window is shut (by the database's word),
    # or the petition was sealed after the copy the request used was read.
    signature = _existing(petition, values["email_hash"])
    now = database_now()
    if signature is None:
        fresh = db.session.get(Petition, petition.id, populate_existing=True)
        if fresh is not None and fresh.sealing_key != petition.sealing_key:
            return sign(PetitionSnapshot.of(fresh), details)
        raise PetitionNotSignable(petition.slug)
    if not signature.petition.accepts_signatures_at(now):
        raise PetitionNotSignable(petition.slug)
    notice = _repeat_notice(signature, details, now)
    db.session.flush()
    sealed = signature.petition.is_sealed
    email = typed if sealed else signature.email
    if details.news and signature.state == SignatureState.PENDING:
        # Ticked this time: a subscription if there is none yet, and the same answer as ever.
        # Only while the signature waits for its confirmation, which only the mailbox's owner
        # can give: a repeat may come from anyone who knows that the address signed, and must
        # not sign a confirmed signer up for emails they did not ask for.
        subscriptions.subscribe(signature.petition_id, signature.id, email, details.locale)
    return SignOutcome(signature.id, signature.petition_id, notice, email, sealed)


_signature_by_row_id = tokens.by_row_id(Signature)


def _signature_named(key: object) -> Signature | None:
    """Find the signature a link names: by its public id, or, in a link emailed before public
    ids, by its row id (still accepted while such links live; see docs/signing.md)."""
    if not isinstance(key, str):
        return _signature_by_row_id(key)
    if len(key) != PUBLIC_ID_LENGTH:
        return None
    return db.session.scalars(sa.select(Signature).where(Signature.public_id == key)).one_or_none()


def confirmation_token(signature: Signature) -> str:
    """Make the token of the signature's newest confirmation link."""
    return tokens.issue(_TOKEN_SALT, signature.public_id, signature.token_nonce)


def signature_for_token(token: str) -> Signature | None:
    """Return the signature a valid, unexpired, newest link points to, or None."""
    return tokens.redeem(
        _TOKEN_SALT, token, CONFIRMATION_LINK_AGE, _signature_named, lambda found: found.token_nonce
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
        Signature.CONFIRM.update(now).where(
            Signature.id == signature.id, Signature.token_nonce == signature.token_nonce
        )
    )
    db.session.refresh(signature)
    if updated.rowcount == 1:
        milestones.note_goal(signature.petition, now)
        return ConfirmResult.CONFIRMED, signature
    if signature.state == SignatureState.CONFIRMED:
        return ConfirmResult.ALREADY_CONFIRMED, signature
    return ConfirmResult.INVALID, signature


def withdrawal_token(signature: Signature) -> str:
    """Make the token of the link that withdraws the signature."""
    return tokens.issue(_WITHDRAW_SALT, signature.public_id, signature.token_nonce)


def signature_for_withdrawal(token: str) -> Signature | None:
    """Return the signature a valid withdrawal link points to, or None."""
    return tokens.redeem(
        _WITHDRAW_SALT,
        token,
        WITHDRAWAL_LINK_AGE,
        _signature_named,
        lambda found: found.token_nonce,
    )


def withdraw(token: str) -> tuple[WithdrawResult, Signature | None]:
    """Withdraw the signature behind a link while its petition is open; a repeat changes nothing.

    A signature that no longer counts (withdrawn before, or invalidated by moderators) answers
    WITHDRAWN too: the link's holder learns nothing about moderation or anyone else.
    """
    signature = signature_for_withdrawal(token)
    if signature is None:
        return WithdrawResult.INVALID, None
    now = database_now()
    if not signature.petition.accepts_signatures_at(now):
        return WithdrawResult.CLOSED, signature
    # One conditional UPDATE, like confirm(): concurrent clicks withdraw once.
    db.session.execute(
        Signature.WITHDRAW.update(now).where(
            Signature.id == signature.id, Signature.token_nonce == signature.token_nonce
        )
    )
    db.session.refresh(signature)
    if signature.state == SignatureState.WITHDRAWN:
        subscriptions.forget(signature.id)  # the signer left: no news, and no address kept
    return WithdrawResult.WITHDRAWN, signature
