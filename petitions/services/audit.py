"""The audit log: who did what to which petition, in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from petitions.extensions import db
from petitions.models import AuditEvent, Organiser, Petition


def record(
    action: str,
    *,
    actor: Organiser | None = None,
    actor_label: str = "system",
    petition: Petition | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add an audit event; the caller's commit makes it permanent with the change itself."""
    event = AuditEvent(
        action=action,
        actor_id=actor.id if actor else None,
        actor_label=actor.email if actor else actor_label,
        petition_id=petition.id if petition else None,
        detail=detail,
    )
    db.session.add(event)
    return event
