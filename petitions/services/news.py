"""Sending an update, or the outcome, to a petition's subscribers through the outbox.

`broadcast` records what is sent (once per item: a database constraint) and `queue_chunk` puts
one outbox message per active subscription, a chunk of subscriptions at a time, with one
`INSERT ... SELECT ... ON CONFLICT DO NOTHING`. The caller commits after each chunk, so a crash
half-way leaves a broadcast whose `queued_at` is null; `unfinished` finds it, and queuing again
goes on past the highest subscription queued, then takes any active subscription that still has
no message of it. The unique (broadcast, subscription) index keeps any subscription from being
queued twice, whatever runs at once.
A message holds no address: the mail worker reads it from the subscription when it sends
(`letter`), so an unsubscribe or a purge meanwhile stops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from petitions.extensions import db
from petitions.models import (
    NewsBroadcast,
    Organiser,
    OutboxMessage,
    Petition,
    PetitionOutcome,
    PetitionUpdate,
    Subscription,
    UTCDateTime,
)
from petitions.services import audit, subscriptions

#: The outbox kind of a news email.
KIND = "news"
#: What a broadcast of the outcome is called; an update's is "update:<id>".
OUTCOME = "outcome"
#: Subscriptions queued per statement (and per commit of the caller).
CHUNK = 10_000


class NewsError(Exception):
    """A broadcast that cannot be made; the message says why, in the organiser's words."""


class AlreadySent(NewsError):
    """This item was already sent to the petition's subscribers."""


def update_item(update_id: int) -> str:
    """Name the broadcast of an update."""
    return f"update:{update_id}"


def item_of(petition: Petition, update_id: int | None) -> str:
    """Name what is sent, an update of this petition or its outcome; refuse one it lacks."""
    if update_id is None:
        if _outcome(petition.id) is None:
            raise NewsError("this petition has no outcome recorded")
        return OUTCOME
    update = db.session.get(PetitionUpdate, update_id)
    if update is None or update.petition_id != petition.id or update.removed_at is not None:
        raise NewsError(f"this petition has no update {update_id}")
    return update_item(update_id)


def broadcast(
    petition: Petition, item: str, by: Organiser | None, now: datetime, actor_label: str = "cli"
) -> NewsBroadcast:
    """Record that `item` goes to the subscribers (once only) and queue its first chunk."""
    update_id = int(item.partition(":")[2]) if item.startswith("update:") else None
    record = NewsBroadcast(
        petition_id=petition.id,
        item=item,
        update_id=update_id,
        created_at=now,
        created_by_id=by.id if by else None,
        queued=0,
    )
    try:
        with db.session.begin_nested():
            db.session.add(record)
    except IntegrityError:
        raise AlreadySent(f"{_item_words(item)} was already sent to the subscribers") from None
    audit.record(
        "broadcast",
        actor=by,
        actor_label=actor_label,
        petition=petition,
        item=item,
        subscribers=active_count(petition.id),
    )
    queue_chunk(record, now)
    return record


def _item_words(item: str) -> str:
    return "the outcome" if item == OUTCOME else f"update {item.partition(':')[2]}"


def queue_chunk(record: NewsBroadcast, now: datetime, size: int | None = None) -> int:
    """Queue the next chunk of a broadcast's subscriptions; mark it queued after the last."""
    size = size or CHUNK
    active = subscriptions.active_subscriptions(record.petition_id).order_by(Subscription.id)
    last = db.session.scalar(
        sa.select(sa.func.max(OutboxMessage.subscription_id)).where(
            OutboxMessage.broadcast_id == record.id
        )
    )
    added = 0
    if last is not None:  # the usual way on: past the highest queued, no anti-join to pay for
        added = _insert_messages(record.id, active.where(Subscription.id > last).limit(size), now)
    if added < size:
        # Then any left below it (a chunk cut short, or a signer confirmed since), once.
        waiting = active.where(~_queued_for(record.id)).limit(size - added)
        added += _insert_messages(record.id, waiting, now)
    if added < size:  # the last chunk: every active subscription has its message
        record.queued_at = now
        record.queued = _queued_count(record.id)
    else:
        record.queued += added
    db.session.flush()
    return added


def _queued_for(broadcast_id: int) -> sa.Exists:
    """In SQL: the subscription already has its message of this broadcast."""
    return (
        sa.select(OutboxMessage.id)
        .where(
            OutboxMessage.broadcast_id == broadcast_id,
            OutboxMessage.subscription_id == Subscription.id,
        )
        .exists()
    )


def _insert_messages(broadcast_id: int, chunk: sa.Select, now: datetime) -> int:
    """Insert one message per subscription of `chunk`; the unique index skips any already there."""
    moment = sa.literal(now, UTCDateTime())
    rows = chunk.with_only_columns(
        sa.literal(KIND),
        sa.literal(broadcast_id),
        Subscription.id,
        moment,
        moment,
        sa.literal(0),
    )
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(OutboxMessage)
        .from_select(
            [
                "kind",
                "broadcast_id",
                "subscription_id",
                "created_at",
                "next_attempt_at",
                "attempts",
            ],
            rows,
        )
        .on_conflict_do_nothing(index_elements=["broadcast_id", "subscription_id"])
    )
    # An INSERT's rowcount is kept only when asked for (SQLAlchemy leaves it -1 otherwise).
    return db.session.execute(statement.execution_options(preserve_rowcount=True)).rowcount


def _queued_count(broadcast_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.broadcast_id == broadcast_id)
    )


def unfinished() -> list[NewsBroadcast]:
    """Return the broadcasts still being queued (or left half-way by a crash), oldest first."""
    return list(
        db.session.scalars(
            sa.select(NewsBroadcast)
            .where(NewsBroadcast.queued_at.is_(None))
            .order_by(NewsBroadcast.id)
        )
    )


def active_count(petition_id: int) -> int:
    """Count the subscriptions news would go to now."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(
            subscriptions.active_subscriptions(petition_id).subquery()
        )
    )


def _outcome(petition_id: int) -> PetitionOutcome | None:
    return db.session.scalar(
        sa.select(PetitionOutcome).where(PetitionOutcome.petition_id == petition_id)
    )


@dataclass(frozen=True)
class Letter:
    """What one news email says, and to whom: found when it is sent."""

    subscription: Subscription
    petition: Petition
    update: PetitionUpdate | None
    outcome: PetitionOutcome | None


def letter(message: OutboxMessage) -> Letter | str:
    """Return what a news message is to say now, or why it is no longer to be sent."""
    record = db.session.get(NewsBroadcast, message.broadcast_id)
    subscription = db.session.get(Subscription, message.subscription_id)
    if record is None:
        return "dropped: its broadcast was removed"
    if subscription is None:
        return "dropped: the subscription was erased"
    if subscription.unsubscribed_at is not None:
        return "dropped: unsubscribed"
    if record.item == OUTCOME:
        outcome = _outcome(record.petition_id)
        if outcome is None:
            return "dropped: the outcome was removed"
        return Letter(subscription, record.petition, None, outcome)
    update = db.session.get(PetitionUpdate, record.update_id)
    if update is None or update.removed_at is not None:
        return "dropped: the update was removed"
    return Letter(subscription, record.petition, update, None)


@dataclass(frozen=True)
class BroadcastCounts:
    """How a broadcast stands, for the dashboard."""

    broadcast: NewsBroadcast
    queued: int
    sent: int
    bounced: int
    dropped: int
    left: int


def progress(petition_id: int) -> dict[str, BroadcastCounts]:
    """Count each of a petition's broadcasts' messages by how they ended, keyed by item."""
    message = OutboxMessage
    counts = (
        sa.select(
            message.broadcast_id,
            sa.func.count(),
            sa.func.count().filter(message.went_out(), message.bounced_at.is_(None)),
            sa.func.count().filter(message.bounced_at.is_not(None)),
            sa.func.count().filter(message.was_dropped()),
            sa.func.count().filter(message.sent_at.is_(None)),
        )
        .join(NewsBroadcast, NewsBroadcast.id == message.broadcast_id)
        .where(NewsBroadcast.petition_id == petition_id)
        .group_by(message.broadcast_id)
    )
    found = {row[0]: row[1:] for row in db.session.execute(counts)}
    records = db.session.scalars(
        sa.select(NewsBroadcast).where(NewsBroadcast.petition_id == petition_id)
    )
    return {
        record.item: BroadcastCounts(record, *found.get(record.id, (0, 0, 0, 0, 0)))
        for record in records
    }


@dataclass(frozen=True)
class NewsBoard:
    """The dashboard's news section: who would be emailed, what can be sent, what was."""

    subscribers: int
    updates: list[PetitionUpdate]
    outcome: PetitionOutcome | None
    broadcasts: dict[str, BroadcastCounts]


def board(petition_id: int) -> NewsBoard:
    """Gather the dashboard's news section of a petition."""
    updates = db.session.scalars(
        sa.select(PetitionUpdate)
        .where(PetitionUpdate.petition_id == petition_id, PetitionUpdate.removed_at.is_(None))
        .order_by(PetitionUpdate.posted_at.desc(), PetitionUpdate.id.desc())
    )
    return NewsBoard(
        subscribers=active_count(petition_id),
        updates=list(updates),
        outcome=_outcome(petition_id),
        broadcasts=progress(petition_id),
    )
