"""Read-side queries shared by the public pages, the JSON API and the organisers' pages."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from petitions import cache
from petitions.extensions import db
from petitions.models import (
    COUNTED_STATES,
    PUBLIC_STATES,
    Petition,
    Signature,
)


def public_petition(slug: str) -> Petition | None:
    """Return the petition with this slug if the public may see it."""
    return db.session.scalar(
        sa.select(Petition).where(Petition.slug == slug, Petition.state.in_(PUBLIC_STATES))
    )


#: What a signer's request needs of a petition, copied so that the copy can outlive its session.
SNAPSHOT_FIELDS = (
    "id", "slug", "title", "summary", "recipient", "language", "goal", "timezone", "opens_at",
    "closes_at", "state", "closed_at", "delivered_at", "organiser_id",
)  # fmt: skip


def petition_snapshot(slug: str, ttl: float) -> Petition | None:
    """Return an unattached copy of a public petition (without its text), from the short cache.

    Good for deciding and answering a signature: the INSERT checks the window in the database
    again, so a copy a second or two old can never let a late signature in.
    """

    def load() -> dict[str, object] | None:
        petition = public_petition(slug)
        return None if petition is None else {f: getattr(petition, f) for f in SNAPSHOT_FIELDS}

    fields = cache.public.get(("petition", slug), ttl, load)
    return None if fields is None else Petition(**fields)


def open_petitions(now: datetime) -> list[Petition]:
    """Return the petitions collecting signatures at `now`, closing soonest first."""
    return list(
        db.session.scalars(
            sa.select(Petition)
            .where(Petition.accepts_signatures_at(now))
            .order_by(Petition.closes_at, Petition.id)
        )
    )


def confirmed_counts(petition_ids: list[int]) -> dict[int, int]:
    """Return the number of counted signatures of each petition, zero included."""
    if not petition_ids:
        return {}
    rows = db.session.execute(
        sa.select(Signature.petition_id, sa.func.count())
        .where(Signature.petition_id.in_(petition_ids), Signature.state.in_(COUNTED_STATES))
        .group_by(Signature.petition_id)
    )
    counts = dict.fromkeys(petition_ids, 0)
    counts.update(dict(rows.all()))
    return counts


def confirmed_count(petition: Petition) -> int:
    """Return the number of counted signatures of one petition."""
    return confirmed_counts([petition.id])[petition.id]


def counts_by_country(petition: Petition, session: Session | None = None) -> dict[str, int]:
    """Return counted signatures per country code, largest first."""
    rows = (session or db.session).execute(
        sa.select(Signature.country, sa.func.count().label("n"))
        .where(Signature.petition_id == petition.id, Signature.state.in_(COUNTED_STATES))
        .group_by(Signature.country)
        .order_by(sa.desc("n"), Signature.country)
    )
    return dict(rows.all())


def database_answers() -> bool:
    """Tell whether the database answers a trivial query."""
    db.session.execute(sa.select(1))
    return True


def all_petitions() -> list[Petition]:
    """Return every petition, newest first."""
    return list(db.session.scalars(sa.select(Petition).order_by(Petition.created_at.desc())))


def recent_public_signers(petition: Petition, limit: int = 10) -> list[Signature]:
    """Return the latest confirmed signers who agreed to be shown by name."""
    return list(
        db.session.scalars(
            sa.select(Signature)
            .where(
                Signature.petition_id == petition.id,
                Signature.state.in_(COUNTED_STATES),
                Signature.show_name.is_(True),
            )
            .order_by(Signature.confirmed_at.desc(), Signature.id.desc())
            .limit(limit)
        )
    )


def petition_by_slug(slug: str) -> Petition | None:
    """Return the petition with this slug, in any state."""
    return db.session.scalar(sa.select(Petition).where(Petition.slug == slug))
