"""Signers' subscriptions to a petition's news: who receives it, and the unsubscribe link.

The token is the subscription's random public id, a dot, and a keyed tag of it (HMAC-SHA256
under HASH_KEY, 16 bytes in base32): a link cannot be made for another subscription, and the
server can write it again for every email without storing it.
"""

from __future__ import annotations

import base64
import hmac
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from petitions.extensions import db
from petitions.models import COUNTED_STATES, Signature, Subscription, new_public_id
from petitions.services.privacy import keyring

_TAG_BYTES = 16


def _tag(public_id: str) -> str:
    digest = keyring().keyed_hash("unsubscribe", public_id)[:_TAG_BYTES]
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def unsubscribe_token(public_id: str) -> str:
    """Return the token of the unsubscribe link of the subscription with this public id."""
    return f"{public_id}.{_tag(public_id)}"


def subscription_for_token(token: str) -> Subscription | None:
    """Return the subscription a well-formed, genuine token names, or None."""
    public_id, dot, tag = token.partition(".")
    if not dot or len(token) > 100 or not token.isascii():
        return None
    if not hmac.compare_digest(tag, _tag(public_id)):
        return None
    return db.session.scalar(sa.select(Subscription).where(Subscription.public_id == public_id))


def subscribe(petition_id: int, signature_id: int, email: str, locale: str) -> None:
    """Keep a signer's address for the petition's news, unless their signature has it already.

    One INSERT ... ON CONFLICT DO NOTHING on the unique signature: a repeat, or two at once,
    leave one subscription, as it was.
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(
        insert(Subscription)
        .values(
            public_id=new_public_id(),
            petition_id=petition_id,
            signature_id=signature_id,
            email=email,
            locale=locale,
        )
        .on_conflict_do_nothing(index_elements=["signature_id"])
    )


def forget(signature_id: int) -> None:
    """Delete a signature's subscription, address and all (its signer withdrew)."""
    db.session.execute(
        sa.delete(Subscription)
        .where(Subscription.signature_id == signature_id)
        .execution_options(synchronize_session=False)
    )


def active_subscriptions(petition_id: int) -> sa.Select:
    """Select the ids of the subscriptions news goes to: confirmed signers who still want it."""
    return (
        sa.select(Subscription.id)
        .join(Signature, Signature.id == Subscription.signature_id)
        .where(
            Subscription.petition_id == petition_id,
            Subscription.unsubscribed_at.is_(None),
            Signature.state.in_(COUNTED_STATES),
        )
    )


def unsubscribe(subscription: Subscription, now: datetime) -> None:
    """Stop a subscription's news; doing it again changes nothing."""
    if subscription.unsubscribed_at is None:
        subscription.unsubscribed_at = now
    db.session.flush()
