"""The retention purge: once a petition has been delivered (or closed) for RETENTION_DAYS, its
signers' personal data goes, and only what the counts need stays.

Kept: each signature's state, country, language and times, so every count, by country and by day,
stays what it was, and the bundle already delivered stays valid (it is a file, signed once).
Removed: emails (encrypted) and their keyed hashes, domain and address hashes, cities, comments,
moderators' reasons, the links' nonces, every email queued or sent about those signatures, the
signers' subscriptions to news (address and all) and every news email queued or sent to them;
names become a placeholder, and so do the names moderators searched for and their reasons in the
audit log. One petition is purged in one UPDATE and three DELETEs, and its moderation events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from petitions.extensions import db
from petitions.models import (
    ENDED_STATES,
    UNFINISHED_EXPORT_STATES,
    AuditEvent,
    Delivery,
    NewsBroadcast,
    OutboxMessage,
    PaperPass,
    PaperSheet,
    Petition,
    Signature,
    Subscription,
)
from petitions.services import audit

#: What a purged signature's name becomes: the same for everyone, so it says nothing.
PLACEHOLDER_NAME = "(anonymous)"
#: What a moderator's words about signers become in the audit log.
REMOVED = "(removed)"


@dataclass(frozen=True)
class PurgeReport:
    slug: str
    signatures: int
    emails: int
    #: Signers' subscriptions to the petition's news, each holding an address.
    subscriptions: int = 0


def _ended_at() -> sa.ColumnElement[datetime]:
    return sa.func.coalesce(Petition.delivered_at, Petition.closed_at, Petition.closes_at)


def due_for_purge(now: datetime, retention: timedelta) -> list[Petition]:
    """Return the ended, unpurged petitions past retention, with no export being built."""
    exporting = sa.exists().where(
        Delivery.petition_id == Petition.id,
        Delivery.status.in_(UNFINISHED_EXPORT_STATES),
    )
    return list(
        db.session.scalars(
            sa.select(Petition)
            .where(
                Petition.state.in_(ENDED_STATES),
                Petition.purged_at.is_(None),
                _ended_at() <= now - retention,
                ~exporting,
            )
            .order_by(Petition.id)
        )
    )


def purge_due_at(petition: Petition, retention: timedelta) -> datetime | None:
    """Return when a petition becomes due for the purge, or None while it is still collecting."""
    if petition.state not in ENDED_STATES:
        return None
    return (petition.delivered_at or petition.closed_at or petition.closes_at) + retention


def _signature_ids(petition: Petition) -> sa.Select:
    return sa.select(Signature.id).where(Signature.petition_id == petition.id)


def _sheet_ids(petition: Petition) -> sa.Select:
    return sa.select(PaperSheet.id).where(PaperSheet.petition_id == petition.id)


def _not_purged() -> sa.ColumnElement[bool]:
    """Match a signature whose personal data is still there: an online signature keeps its
    email's hash until the purge, a paper line (which has none) its name and city's."""
    return sa.or_(Signature.email_hash.is_not(None), Signature.person_hash.is_not(None))


def _subscription_ids(petition: Petition) -> sa.Select:
    return sa.select(Subscription.id).where(Subscription.petition_id == petition.id)


def _purged_messages(petition: Petition) -> sa.ColumnElement[bool]:
    """Match the emails the purge removes: about its signatures, or news to its subscribers
    (by subscription, or by broadcast for one whose subscription is already gone)."""
    broadcasts = sa.select(NewsBroadcast.id).where(NewsBroadcast.petition_id == petition.id)
    return sa.or_(
        OutboxMessage.signature_id.in_(_signature_ids(petition)),
        OutboxMessage.subscription_id.in_(_subscription_ids(petition)),
        OutboxMessage.broadcast_id.in_(broadcasts),
    )


def preview(petition: Petition) -> PurgeReport:
    """Count what purging a petition would remove, changing nothing."""
    signatures = db.session.scalar(
        sa.select(sa.func.count()).where(Signature.petition_id == petition.id, _not_purged())
    )
    emails = db.session.scalar(sa.select(sa.func.count()).where(_purged_messages(petition)))
    subscriptions = db.session.scalar(
        sa.select(sa.func.count()).where(Subscription.petition_id == petition.id)
    )
    return PurgeReport(petition.slug, signatures, emails, subscriptions)


def purge(petition: Petition, now: datetime, actor_label: str = "system") -> PurgeReport:
    """Remove a petition's signers' personal data, keeping every count; flush, do not commit."""
    emails = db.session.execute(
        sa.delete(OutboxMessage)
        .where(_purged_messages(petition))
        .execution_options(synchronize_session=False)
    ).rowcount
    subscriptions = db.session.execute(
        sa.delete(Subscription)
        .where(Subscription.petition_id == petition.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    signatures = db.session.execute(
        sa.update(Signature)
        .where(Signature.petition_id == petition.id, _not_purged())
        .values(
            person_hash=None,
            repeat_kept_at=None,
            name=PLACEHOLDER_NAME,
            email=None,
            email_hash=None,
            email_domain_hash=None,
            ip_hash=None,
            city="",
            comment=None,
            sealed=None,
            show_name=False,
            token_nonce=None,
            invalidation_reason=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    # What was typed of each paper sheet goes too; the counted lines were purged above.
    db.session.execute(
        sa.update(PaperPass)
        .where(
            PaperPass.sheet_id.in_(
                sa.select(PaperSheet.id).where(PaperSheet.petition_id == petition.id)
            )
        )
        .values(lines=None, line_hashes="[]")
        .execution_options(synchronize_session=False)
    )
    _scrub_moderation_log(petition)
    petition.purged_at = now
    audit.record(
        "purge",
        actor_label=actor_label,
        petition=petition,
        signatures=signatures,
        emails=emails,
        subscriptions=subscriptions,
    )
    db.session.flush()
    return PurgeReport(petition.slug, signatures, emails, subscriptions)


def _scrub_moderation_log(petition: Petition) -> None:
    """Drop the names moderators searched for and their reasons from the petition's audit log.

    Both can name signers (a search for "Aigerim", a reason "same person as Nurlan"); what was
    done, by whom, when and to how many signatures stays.
    """
    events = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.petition_id == petition.id, AuditEvent.action == "invalidate"
        )
    )
    for event in events:
        detail = dict(event.detail)
        if detail.get("reason"):
            detail["reason"] = REMOVED
        wanted = dict(detail.get("filter") or {})
        if wanted.get("name"):
            wanted["name"] = REMOVED
            detail["filter"] = wanted
        event.detail = detail  # a new dict, so that SQLAlchemy sees the JSON change
