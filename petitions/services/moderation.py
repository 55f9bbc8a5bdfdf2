"""Moderation: finding suspicious signatures, invalidating them with a reason, and undoing it.

Invalidation is an UPDATE with the same filters the search used, so "every signature from this
address in this hour" is one statement however many rows it touches; every action records who,
what, why and how many in the audit log, and carries an id so that it can be undone as a whole.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from petitions.extensions import db
from petitions.models import (
    Organiser,
    Petition,
    Signature,
    SignatureState,
)
from petitions.services import audit
from petitions.services.privacy import keyring

#: Name searches decrypt each candidate; past this many candidates the search stops and says so.
NAME_SCAN_LIMIT = 20_000
#: Signing times are grouped in quarter hours, the finest step of any time zone's offset.
_BUCKET_SECONDS = 900


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
            domain = self.email_domain.strip().lower().lstrip("@")
            found.append(
                Signature.email_domain_hash == keyring().keyed_hash("email-domain", domain)
            )
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
    for scanned, signature in enumerate(rows, start=1):
        if scanned > NAME_SCAN_LIMIT:
            return SearchResult(found, truncated=True)
        if needle in signature.name.casefold():
            found.append(signature)
            if len(found) >= limit:
                break
    return SearchResult(found)


def invalidate(
    petition: Petition,
    actor: Organiser,
    reason: str,
    now: datetime,
    *,
    ids: list[int] | None = None,
    wanted: SignatureFilter | None = None,
) -> tuple[int, str]:
    """Invalidate chosen signatures, or all matching a filter; return (count, action id)."""
    if not reason.strip():
        raise ValueError("a reason is required")
    conditions = [Signature.petition_id == petition.id]
    if ids is not None:
        conditions.append(Signature.id.in_(ids))
    elif wanted is not None and wanted.name:
        conditions.append(
            Signature.id.in_([s.id for s in search(petition, wanted, 100_000).signatures])
        )
    elif wanted is not None:
        conditions.extend(wanted.conditions(petition))
    action_id = secrets.token_hex(8)
    count = db.session.execute(
        Signature.INVALIDATE.update(
            now, invalidation_reason=reason.strip()[:500], invalidation_id=action_id
        ).where(*conditions)
    ).rowcount
    audit.record(
        "invalidate", actor=actor, petition=petition, count=count, reason=reason.strip(),
        action_id=action_id, filter=_describe(wanted) if ids is None else {"ids": ids[:50]},
    )  # fmt: skip
    return count, action_id


def _describe(wanted: SignatureFilter | None) -> dict[str, str]:
    if wanted is None:
        return {}
    shown = {
        "name": wanted.name, "email_domain": wanted.email_domain,
        "address": wanted.address_hash[:12], "state": str(wanted.state or ""),
        "since": wanted.since.isoformat() if wanted.since else "",
        "until": wanted.until.isoformat() if wanted.until else "",
    }  # fmt: skip
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


def state_counts(petition: Petition) -> dict[SignatureState, int]:
    """Count a petition's signatures in each state, zero included."""
    rows = db.session.execute(
        sa.select(Signature.state, sa.func.count())
        .where(Signature.petition_id == petition.id)
        .group_by(Signature.state)
    ).all()
    counts = dict.fromkeys(SignatureState, 0)
    counts.update(dict(rows))
    return counts


def _quarter_hour(column: sa.ColumnElement, session: Session) -> sa.ColumnElement[int]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.floor(sa.extract("epoch", column) / _BUCKET_SECONDS)
    return sa.cast(sa.func.strftime("%s", column), sa.Integer) / _BUCKET_SECONDS


def daily_counts(
    petition: Petition,
    state: SignatureState = SignatureState.CONFIRMED,
    session: Session | None = None,
) -> list[tuple[date, int]]:
    """Count signatures by the day they were made, in the petition's time zone."""
    session = session or db.session
    bucket = _quarter_hour(Signature.created_at, session).label("bucket")
    rows = session.execute(
        sa.select(bucket, sa.func.count())
        .where(Signature.petition_id == petition.id, Signature.state == state)
        .group_by(bucket)
    ).all()
    zone = ZoneInfo(petition.timezone)
    days: Counter[date] = Counter()
    for quarter, count in rows:
        moment = datetime.fromtimestamp(int(quarter) * _BUCKET_SECONDS, tz=zone)
        days[moment.date()] += count
    return sorted(days.items())


def _busiest(
    petition: Petition, column: sa.ColumnElement[bytes], since: datetime, limit: int
) -> list[tuple[bytes, int, int]]:
    """Group the signatures made since a time by one hash column: (hash, count, one id)."""
    count = sa.func.count().label("n")
    return db.session.execute(
        sa.select(column, count, sa.func.min(Signature.id))
        .where(Signature.petition_id == petition.id, Signature.created_at >= since,
               column.is_not(None))
        .group_by(column)
        .order_by(count.desc())
        .limit(limit)
    ).all()  # fmt: skip


def busiest_addresses(
    petition: Petition, since: datetime, limit: int = 10
) -> list[tuple[str, int]]:
    """Return the address hashes with the most signatures since a time, as hex."""
    rows = _busiest(petition, Signature.ip_hash, since, limit)
    return [(bytes(address).hex(), n) for address, n, _example in rows]


def busiest_domains(petition: Petition, since: datetime, limit: int = 10) -> list[tuple[str, int]]:
    """Return the email domains with the most signatures since a time."""
    rows = _busiest(petition, Signature.email_domain_hash, since, limit)
    # The domain is stored only as a hash; one address of each group names it.
    return [(db.session.get(Signature, example).email.rpartition("@")[2].lower(), n)
            for _hash, n, example in rows]  # fmt: skip


def recent_window(now: datetime) -> datetime:
    """Return the start of the "last hour" the dashboard watches."""
    return now - timedelta(hours=1)
