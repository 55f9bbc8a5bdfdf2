"""Moderation: searching signatures, invalidating them with a reason, and undoing it.

Invalidation is an UPDATE with the same filters the search used, so "every signature from this
address in this hour" is one statement however many rows it touches; every action records who,
what, why and how many in the audit log, and carries an id so that it can be undone as a whole.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from petitions.extensions import db
from petitions.models import (
    Organiser,
    Petition,
    Signature,
    SignatureState,
)
from petitions.services import audit
from petitions.services.privacy import domain_hash

#: Name searches decrypt each candidate; past this many candidates the search stops and says so.
NAME_SCAN_LIMIT = 20_000


@dataclass(frozen=True)
class SignatureFilter:
    """What a moderator searches for; empty fields do not filter."""

    name: str = ""
    email_domain: str = ""
    address_hash: str = ""
    since: datetime | None = None
    until: datetime | None = None
    state: SignatureState | None = None

    def conditions(self, petition: Petition) -> list[sa.ColumnElement[bool]]:
        """Turn the filter into SQL conditions (all but the name, which is encrypted)."""
        found = [Signature.petition_id == petition.id]
        if self.email_domain:
            found.append(Signature.email_domain_hash == domain_hash(self.email_domain))
        if self.address_hash:
            found.append(Signature.ip_hash == _hash_bytes(self.address_hash))
        if self.since:
            found.append(Signature.created_at >= self.since)
        if self.until:
            found.append(Signature.created_at < self.until)
        if self.state:
            found.append(Signature.state == self.state)
        return found


def _hash_bytes(hex_text: str) -> bytes:
    try:
        return bytes.fromhex(hex_text.strip())
    except ValueError:
        return b"not a hash"


@dataclass
class SearchResult:
    signatures: list[Signature]
    #: True when a name search stopped at NAME_SCAN_LIMIT candidates.
    truncated: bool = False


def search(petition: Petition, wanted: SignatureFilter, limit: int = 200) -> SearchResult:
    """Find signatures matching a filter, newest first."""
    query = (
        sa.select(Signature)
        .where(*wanted.conditions(petition))
        .order_by(Signature.created_at.desc(), Signature.id.desc())
    )
    if not wanted.name:
        return SearchResult(list(db.session.scalars(query.limit(limit))))
    needle = wanted.name.casefold()
    found: list[Signature] = []
    rows = db.session.scalars(query.limit(NAME_SCAN_LIMIT + 1).execution_options(yield_per=500))
    # Stopping early leaves PostgreSQL's server-side cursor open unless it is closed here.
    with rows:
        for scanned, signature in enumerate(rows, start=1):
            if scanned > NAME_SCAN_LIMIT:
                return SearchResult(found, truncated=True)
            if needle in signature.name.casefold():
                found.append(signature)
                if len(found) >= limit:
                    break
    return SearchResult(found)


class ScanLimitReached(Exception):
    """A name search would stop at the scan limit, so acting on "every match" would miss some."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a name search checks at most {limit} signatures; this one has more")
        self.limit = limit


def _every_named(petition: Petition, wanted: SignatureFilter) -> list[int]:
    """Return the ids of every signature the name search matches, or refuse if it stops short."""
    # A limit above the scan limit: the search then ends only at the end of the rows or truncated.
    result = search(petition, wanted, limit=NAME_SCAN_LIMIT + 1)
    if result.truncated:
        raise ScanLimitReached(NAME_SCAN_LIMIT)
    return [signature.id for signature in result.signatures]


def invalidate(
    petition: Petition,
    actor: Organiser,
    reason: str,
    now: datetime,
    *,
    ids: list[int] | None = None,
    wanted: SignatureFilter | None = None,
) -> tuple[int, str]:
    """Invalidate chosen signatures, or all matching a filter; return (count, action id).

    Raises ScanLimitReached, changing nothing, when a filter by name has more candidates than
    the name search checks.
    """
    if not reason.strip():
        raise ValueError("a reason is required")
    conditions = [Signature.petition_id == petition.id]
    if ids is not None:
        conditions.append(Signature.id.in_(ids))
    elif wanted is not None and wanted.name:
        conditions.append(Signature.id.in_(_every_named(petition, wanted)))
    elif wanted is not None:
        conditions.extend(wanted.conditions(petition))
    action_id = secrets.token_hex(8)
    count = db.session.execute(
        Signature.INVALIDATE.update(
            now, invalidation_reason=reason.strip()[:500], invalidation_id=action_id
        ).where(*conditions)
    ).rowcount
    audit.record(
        "invalidate",
        actor=actor,
        petition=petition,
        count=count,
        reason=reason.strip(),
        action_id=action_id,
        filter=_describe(wanted) if ids is None else {"ids": ids[:50]},
    )
    return count, action_id


def _describe(wanted: SignatureFilter | None) -> dict[str, str]:
    if wanted is None:
        return {}
    shown = {
        "name": wanted.name,
        "email_domain": wanted.email_domain,
        "address": wanted.address_hash[:12],
        "state": str(wanted.state or ""),
        "since": wanted.since.isoformat() if wanted.since else "",
        "until": wanted.until.isoformat() if wanted.until else "",
    }
    return {key: value for key, value in shown.items() if value}


def restore(
    petition: Petition, actor: Organiser, *, ids: list[int] | None = None, action_id: str = ""
) -> int:
    """Undo invalidations: of chosen signatures, or of one whole moderation action."""
    conditions = [Signature.petition_id == petition.id]
    if ids is not None:
        conditions.append(Signature.id.in_(ids))
    else:
        conditions.append(Signature.invalidation_id == action_id)
    count = db.session.execute(Signature.RESTORE.update().where(*conditions)).rowcount
    audit.record(
        "restore", actor=actor, petition=petition, count=count, action_id=action_id or None
    )
    return count
