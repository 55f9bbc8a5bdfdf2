"""Read-side queries shared by the public pages, the JSON API and the organisers' pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from petitions import cache
from petitions.extensions import db
from petitions.models import (
    COUNTED_STATES,
    PUBLIC_STATES,
    Petition,
    PetitionState,
    Signature,
)


def public_petition(slug: str) -> Petition | None:
    """Return the petition with this slug if the public may see it."""
    return db.session.scalar(
        sa.select(Petition).where(Petition.slug == slug, Petition.state.in_(PUBLIC_STATES))
    )


def _rule_of_petition(name: str) -> Callable[..., Any]:
    """Return the Python side of one of Petition's rules, for a copy that has the same fields.

    The rule is written once, on the model; a snapshot applies that very function to itself.
    """
    rule = vars(Petition)[name]
    return getattr(rule, "func", rule)  # a hybrid_method keeps its Python side in `func`


@dataclass(frozen=True)
class PetitionSnapshot:
    """What the public pages and a signer's request need of a petition, copied from the database.

    Frozen and detached from any session, so one copy can be shared by every request of a
    process for the public cache's lifetime.
    """

    id: int
    slug: str
    title: str
    summary: str
    #: Markdown as the organiser wrote it; sanitised when the page is rendered.
    body: str
    recipient: str
    language: str
    goal: int | None
    timezone: str
    opens_at: datetime
    closes_at: datetime
    state: PetitionState
    closed_at: datetime | None
    delivered_at: datetime | None

    accepts_signatures_at = _rule_of_petition("accepts_signatures_at")
    past_deadline_at = _rule_of_petition("past_deadline_at")
    collection_ended_at = _rule_of_petition("collection_ended_at")

    @classmethod
    def of(cls, petition: Petition) -> PetitionSnapshot:
        """Copy what a public page shows of a petition."""
        return cls(**{field.name: getattr(petition, field.name) for field in fields(cls)})


def public_snapshot(slug: str) -> PetitionSnapshot | None:
    """Return a copy of the petition with this slug if the public may see it, read now."""
    petition = public_petition(slug)
    return None if petition is None else PetitionSnapshot.of(petition)


def petition_snapshot(slug: str, ttl: float) -> PetitionSnapshot | None:
    """Return a copy of a public petition from the short cache, at most `ttl` seconds old.

    Good for deciding and answering a signature: the INSERT checks the window in the database
    again, so a copy a second or two old can never let a late signature in.
    """
    return cache.public.get(("petition", slug), ttl, lambda: public_snapshot(slug))


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


def confirmed_count(petition: Petition | PetitionSnapshot) -> int:
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


def recent_public_signers(
    petition: Petition | PetitionSnapshot, limit: int = 10
) -> list[Signature]:
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
