"""Read-side queries shared by the public pages, the JSON API and the organisers' pages.

The organisers' dashboard and the bundle's summary read their statistics here too; moderation
(`moderation.py`) only searches, invalidates and restores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from petitions import cache
from petitions.extensions import db
from petitions.models import (
    COUNTED_STATES,
    PUBLIC_STATES,
    UNFINISHED_EXPORT_STATES,
    AuditEvent,
    Delivery,
    DeliveryChannel,
    DeliveryKind,
    ExportStatus,
    Petition,
    PetitionState,
    Signature,
    SignatureState,
)


def public_petition(slug: str) -> Petition | None:
    """Return the petition with this slug if the public may see it."""
    return db.session.scalar(
        sa.select(Petition)
        .where(Petition.slug == slug, Petition.state.in_(PUBLIC_STATES))
        # The page names who runs the petition: its organiser comes in the same query, and
        # the applicant, whose postal address the organiser may choose to show.
        .options(joinedload(Petition.organiser), joinedload(Petition.applicant))
    )


def _rule_of_petition(name: str) -> Callable[..., Any]:
    """Return the Python side of one of Petition's rules, for a copy that has the same fields.

    The rule is written once, on the model; a snapshot applies that very function to itself.
    """
    rule = vars(Petition)[name]
    return getattr(rule, "func", rule)  # a hybrid_method keeps its Python side in `func`


#: The snapshot's fields read from the petition's organiser rather than the petition.
_OF_ORGANISER = frozenset({"organiser_name", "organiser_contact", "applicant_address"})


@dataclass(frozen=True)
class PetitionSnapshot:
    """What the public pages and a signer's request need of a petition, copied from the database.

    Frozen and detached from any session, so one copy can be shared by every request of a
    process for the public cache's lifetime.
    """

    id: int
    slug: str
    #: The petition's fixed public id, from which every receipt's leaf is computed.
    public_id: str
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
    #: Who runs the petition, as its organiser chose to be shown to signers (None: not given).
    organiser_name: str | None
    organiser_contact: str | None
    #: The applicant's postal address if the organiser chose to show it, else None; nothing
    #: else of the applicant ever reaches a public page.
    applicant_address: str | None
    #: A sealed petition's public key line, or None.
    sealing_key: str | None
    #: When the retention purge erased the signers' personal data (receipts say so), or None.
    purged_at: datetime | None

    accepts_signatures_at = _rule_of_petition("accepts_signatures_at")
    past_deadline_at = _rule_of_petition("past_deadline_at")
    collection_ended_at = _rule_of_petition("collection_ended_at")

    @property
    def is_sealed(self) -> bool:
        return self.sealing_key is not None

    @classmethod
    def of(cls, petition: Petition) -> PetitionSnapshot:
        """Copy what a public page shows of a petition."""
        names = [f.name for f in fields(cls) if f.name not in _OF_ORGANISER]
        own = {name: getattr(petition, name) for name in names}
        organiser = petition.organiser
        return cls(
            **own,
            organiser_name=organiser.public_name,
            organiser_contact=organiser.public_contact,
            applicant_address=public_address(petition),
        )


def public_address(petition: Petition) -> str | None:
    """Return the applicant's postal address if the organiser chose to show it, else None."""
    applicant = petition.applicant
    return applicant.address if applicant is not None and applicant.show_address else None


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


#: The states counted beside the total on the public page: who took a signature away.
_REMOVED_STATES = frozenset({SignatureState.WITHDRAWN, SignatureState.INVALIDATED})


@dataclass(frozen=True)
class PublicCounts:
    """A petition's public figures, counted together in one statement (one snapshot).

    Withdrawn and invalidated count every signature in that state, confirmed first or not, as
    the organisers' dashboard does: the public sees the same figures as the moderators.
    """

    #: Counted signatures: the petition's total.
    signatures: int
    #: Withdrawn by their signers.
    withdrawn: int
    #: Invalidated by moderators.
    invalidated: int
    #: Of the counted signatures, the lines of paper sheets (services.paper).
    paper: int = 0

    @property
    def online(self) -> int:
        return self.signatures - self.paper


def public_counts(petition: Petition | PetitionSnapshot) -> PublicCounts:
    """Count a petition's counted, withdrawn and invalidated signatures in one statement.

    One statement sees one state of the table, so the three figures always agree with each
    other: a signature moving from counted to withdrawn is never in both, nor in neither.
    """
    on_paper = Signature.paper_sheet.is_not(None)
    rows = db.session.execute(
        sa.select(Signature.state, on_paper, sa.func.count())
        .where(
            Signature.petition_id == petition.id,
            Signature.state.in_(sorted(COUNTED_STATES | _REMOVED_STATES)),
        )
        .group_by(Signature.state, on_paper)
    ).all()
    by_state: dict[SignatureState, int] = {}
    paper = 0
    for state, is_paper, count in rows:
        by_state[SignatureState(state)] = by_state.get(SignatureState(state), 0) + count
        if is_paper and SignatureState(state) in COUNTED_STATES:
            paper += count
    return PublicCounts(
        signatures=sum(by_state.get(state, 0) for state in COUNTED_STATES),
        withdrawn=by_state.get(SignatureState.WITHDRAWN, 0),
        invalidated=by_state.get(SignatureState.INVALIDATED, 0),
        paper=paper,
    )


@dataclass(frozen=True)
class PublicDelivery:
    """One line of a petition's public record of exports: what was exported, and where it went.

    Only these fields are public; who asked for the export and the file's place stay private.
    """

    exported_at: datetime
    kind: DeliveryKind
    signature_count: int | None
    #: The bundle's receipt tree; both None for an export made before receipts existed.
    tree_size: int | None
    tree_root: str | None
    bundle_sha256: str | None
    #: None until the organiser records that the bundle reached the recipient.
    delivered_at: datetime | None
    delivered_to: str | None
    delivery_method: str | None
    reference: str | None
    channel: DeliveryChannel | None
    registration_number: str | None
    registered_on: date | None

    @property
    def has_tree(self) -> bool:
        return self.tree_root is not None and self.tree_size is not None


def public_deliveries(petition: Petition | PetitionSnapshot) -> tuple[PublicDelivery, ...]:
    """Return a petition's finished exports, interim and final, oldest first."""
    columns = [getattr(Delivery, field.name) for field in fields(PublicDelivery)]
    rows = db.session.execute(
        sa.select(*columns)
        .where(Delivery.petition_id == petition.id, Delivery.status == ExportStatus.DONE)
        .order_by(Delivery.exported_at, Delivery.id)
    )
    return tuple(PublicDelivery(*row) for row in rows)


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


# The organisers' dashboard: counts, days, countries, clusters, exports and the log.

#: Signing times are grouped in quarter hours, the finest step of any time zone's offset.
_BUCKET_SECONDS = 900
#: How many exports and log entries the dashboard shows, newest first.
DASHBOARD_DELIVERIES = 20
DASHBOARD_EVENTS = 50


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
        .where(
            Signature.petition_id == petition.id, Signature.created_at >= since, column.is_not(None)
        )
        .group_by(column)
        .order_by(count.desc())
        .limit(limit)
    ).all()


def busiest_addresses(
    petition: Petition, since: datetime, limit: int = 10
) -> list[tuple[str, int]]:
    """Return the address hashes with the most signatures since a time, as hex."""
    rows = _busiest(petition, Signature.ip_hash, since, limit)
    return [(bytes(address).hex(), n) for address, n, _example in rows]


def busiest_domains(petition: Petition, since: datetime, limit: int = 10) -> list[tuple[str, int]]:
    """Return the email domains with the most signatures since a time."""
    rows = _busiest(petition, Signature.email_domain_hash, since, limit)
    # The domain is stored only as a hash; one address of each group names it, except in a
    # sealed petition, where no address is kept: the hash's start stands in for it (moderators
    # still search by a domain they type, which is hashed the same way).
    return [(_domain_label(domain, example), n) for domain, n, example in rows]


def _domain_label(domain_hash: bytes, example: int) -> str:
    email = db.session.get(Signature, example).email
    if email is None:
        return "#" + bytes(domain_hash).hex()[:12]
    return email.rpartition("@")[2].lower()


def recent_window(now: datetime) -> datetime:
    """Return the start of the "last hour" the dashboard watches."""
    return now - timedelta(hours=1)


def recent_deliveries(petition: Petition, limit: int = DASHBOARD_DELIVERIES) -> list[Delivery]:
    """Return a petition's latest exports, newest first."""
    return list(
        db.session.scalars(
            sa.select(Delivery)
            .where(Delivery.petition_id == petition.id)
            .order_by(Delivery.exported_at.desc(), Delivery.id.desc())
            .limit(limit)
        )
    )


def recent_events(petition: Petition, limit: int = DASHBOARD_EVENTS) -> list[AuditEvent]:
    """Return a petition's latest audit log entries, newest first."""
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.petition_id == petition.id)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Dashboard:
    """Everything a petition's dashboard shows, read at one moment."""

    now: datetime
    #: The start of the "last hour" the clusters are counted over.
    since: datetime
    counts: Mapping[SignatureState, int]
    #: The counted signatures online, on paper, and in total.
    sources: PublicCounts
    #: Confirmed signatures by day of signing, in the petition's time zone, oldest first.
    days: tuple[tuple[date, int], ...]
    countries: Mapping[str, int]
    addresses: tuple[tuple[str, int], ...]
    domains: tuple[tuple[str, int], ...]
    deliveries: tuple[Delivery, ...]
    events: tuple[AuditEvent, ...]

    @property
    def exporting(self) -> bool:
        """Tell whether an export is queued or running (the page then refreshes itself)."""
        return any(delivery.status in UNFINISHED_EXPORT_STATES for delivery in self.deliveries)


def dashboard(petition: Petition, now: datetime) -> Dashboard:
    """Read a petition's dashboard."""
    since = recent_window(now)
    return Dashboard(
        now=now,
        since=since,
        counts=state_counts(petition),
        sources=public_counts(petition),
        days=tuple(daily_counts(petition)),
        countries=counts_by_country(petition),
        addresses=tuple(busiest_addresses(petition, since)),
        domains=tuple(busiest_domains(petition, since)),
        deliveries=tuple(recent_deliveries(petition)),
        events=tuple(recent_events(petition)),
    )
