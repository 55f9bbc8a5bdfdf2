"""A petition's life: publishing, closing, and recording the end of its window."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from petitions.extensions import db
from petitions.models import Petition, PetitionState
from petitions.services import audit


def close_expired(now: datetime) -> list[Petition]:
    """Record CLOSED for every open petition whose window has ended; signing already stopped."""
    expired = list(
        db.session.scalars(
            sa.select(Petition)
            .where(Petition.state == PetitionState.OPEN, Petition.closes_at <= now)
            .order_by(Petition.closes_at)
            .with_for_update(skip_locked=True)
        )
    )
    for petition in expired:
        petition.close(now)
        audit.record("close", petition=petition, reason="window ended")
    db.session.flush()
    return expired
