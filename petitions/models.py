"""The domain's tables: organisers, petitions, their teams, signatures, deliveries, the audit log.

States are StrEnums and change only through guarded transitions that stamp a `*_at` time and raise
`InvalidTransition` when the change makes no sense (closing a draft, confirming a withdrawal).
Times are stored in UTC and shown in the petition's own time zone.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship, synonym
from sqlalchemy.types import TypeDecorator

from petitions.crypto import EncryptedText
from petitions.extensions import db

#: A 64-bit key where it matters; SQLite only auto-increments a plain INTEGER primary key.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class InvalidTransition(Exception):
    """A state change that the current state does not allow.

    `str(error)` stays plain English for logs and the CLI; `user_message` says the same to an
    organiser in their language (a lazy string, translated when it is shown).
    """

    def __init__(self, message: str, user_message: str | LazyString) -> None:
        super().__init__(message)
        self.user_message = user_message


def _state_name(state: PetitionState | SignatureState) -> LazyString:
    """Name a state as organisers read it, in the language of whoever is shown the message."""
    return state.label


def utcnow() -> datetime:
    """Return the current time in UTC, timezone-aware."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; pass an aware one in UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[enum.Enum], name: str) -> sa.Enum:
    """Store an enum as its value in a short string column with a CHECK constraint."""
    return sa.Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class PetitionState(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    DELIVERED = "delivered"

    @property
    def label(self) -> LazyString:
        """Name the state as organisers read it (translated when shown)."""
        return _PETITION_STATE_LABELS[self]


# `label`, not `title`: a StrEnum is a str, and `str.title()` should keep working on it.
_PETITION_STATE_LABELS = {
    PetitionState.DRAFT: _l("Draft"),
    PetitionState.OPEN: _l("Open"),
    PetitionState.CLOSED: _l("Closed"),
    PetitionState.DELIVERED: _l("Delivered"),
}

#: States in which a petition has a public page.
PUBLIC_STATES = frozenset({PetitionState.OPEN, PetitionState.CLOSED, PetitionState.DELIVERED})
#: States a petition may be published, closed and recorded as delivered from.
PUBLISHABLE_STATES = frozenset({PetitionState.DRAFT})
CLOSABLE_STATES = frozenset({PetitionState.OPEN})
DELIVERABLE_STATES = frozenset({PetitionState.CLOSED})
#: States in which collection has ended for good.
ENDED_STATES = frozenset({PetitionState.CLOSED, PetitionState.DELIVERED})
#: States in which organisers may post, edit and remove updates: those with a public page.
UPDATABLE_STATES = PUBLIC_STATES
#: States in which the recipient's answer may be recorded: once collection has ended.
ANSWERABLE_STATES = ENDED_STATES


class SignatureState(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    INVALIDATED = "invalidated"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> LazyString:
        """Name the state as organisers read it (translated when shown)."""
        return _SIGNATURE_STATE_LABELS[self]


_SIGNATURE_STATE_LABELS = {
    SignatureState.PENDING: _l("Pending"),
    SignatureState.CONFIRMED: _l("Confirmed"),
    SignatureState.INVALIDATED: _l("Invalidated"),
    SignatureState.WITHDRAWN: _l("Withdrawn"),
}

#: The only state that counts towards a petition's total and goes into the bundle.
COUNTED_STATES = frozenset({SignatureState.CONFIRMED})
#: States a signer may confirm from (by the emailed link).
CONFIRMABLE_STATES = frozenset({SignatureState.PENDING})
#: States an organiser may invalidate from.
INVALIDATABLE_STATES = frozenset({SignatureState.PENDING, SignatureState.CONFIRMED})
#: States an invalidation may be undone from.
RESTORABLE_STATES = frozenset({SignatureState.INVALIDATED})
#: States a signer may withdraw from, by the link in their email.
WITHDRAWABLE_STATES = frozenset({SignatureState.PENDING, SignatureState.CONFIRMED})
#: States from which signing again starts over as a new pending signature.
RESIGNABLE_STATES = frozenset({SignatureState.WITHDRAWN})


@dataclass(frozen=True)
class FormerState:
    """A to-state chosen by whether a timestamp is set: where a row was before it left."""

    column: str
    if_set: enum.StrEnum
    otherwise: enum.StrEnum

    def of(self, row: Any) -> enum.StrEnum:
        return self.if_set if getattr(row, self.column) is not None else self.otherwise

    def expression(self, model: type) -> sa.ColumnElement[str]:
        return sa.case(
            (getattr(model, self.column).is_not(None), self.if_set.value),
            else_=self.otherwise.value,
        )


@dataclass(frozen=True)
class Transition:
    """One state change, declared once, enforced in Python and in SQL alike.

    `apply` changes an instance or raises `InvalidTransition`; `update` is the same change as
    one conditional UPDATE, race-free because the database re-checks the from-state of every row
    it writes (of two concurrent requests, exactly one matches). Declared in a model's body, it
    learns its model from the class.
    """

    verb: str
    from_states: frozenset[Any]
    to: enum.StrEnum | FormerState
    #: The organiser's message when the state does not allow it, given the state's name; None
    #: for a change that no one is ever shown a refusal of.
    refusal: Callable[[LazyString], LazyString] | None = None
    #: The `*_at` column set to the transition's time.
    stamp: str | None = None
    #: A column the stamp never passes: collection ends at the deadline, however late recorded.
    stamp_until: str | None = None
    #: Columns the caller gives a value for, every time.
    sets: tuple[str, ...] = ()
    #: Columns emptied.
    clears: tuple[str, ...] = ()
    model: Any = field(default=None, init=False, compare=False)

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "model", owner)

    def refused(self, state: enum.StrEnum) -> InvalidTransition:
        """Return the error that refuses this change from `state`."""
        message = f"cannot {self.verb} a {self.model.__name__.lower()} that is {state}"
        shown = message if self.refusal is None else self.refusal(_state_name(state))
        return InvalidTransition(message, shown)

    def apply(self, row: Any, now: datetime | None = None, **values: Any) -> None:
        """Change `row` in Python, or raise `InvalidTransition` if its state does not allow it."""
        self._check(values)
        if row.state not in self.from_states:
            raise self.refused(row.state)
        row.state = self.to.of(row) if isinstance(self.to, FormerState) else self.to
        if self.stamp is not None:
            limit = getattr(row, self.stamp_until) if self.stamp_until else None
            setattr(row, self.stamp, now if limit is None else min(now, limit))
        for name, value in {**values, **dict.fromkeys(self.clears)}.items():
            setattr(row, name, value)

    def update(self, now: datetime | None = None, **values: Any) -> sa.Update:
        """Build the guarded UPDATE of every row still in a from-state; narrow it with where()."""
        self._check(values)
        model = self.model
        changes: dict[str, Any] = {
            "state": self.to.expression(model) if isinstance(self.to, FormerState) else self.to
        }
        if self.stamp is not None:
            at = sa.literal(now, getattr(model, self.stamp).type)
            if self.stamp_until:
                limit = getattr(model, self.stamp_until)
                at = sa.case((limit < at, limit), else_=at)
            changes[self.stamp] = at
        changes.update(values, **dict.fromkeys(self.clears))
        return (
            sa.update(model)
            .where(model.state.in_(sorted(self.from_states)))
            .values(changes)
            .execution_options(synchronize_session=False)
        )

    def run(self, session: Any, row: Any, now: datetime | None = None, **values: Any) -> None:
        """Change one stored row by the guarded UPDATE, then reload it; refuse like `apply`."""
        changed = session.execute(self.update(now, **values).where(self.model.id == row.id))
        session.refresh(row)
        if changed.rowcount != 1:
            raise self.refused(row.state)

    def _check(self, values: dict[str, Any]) -> None:
        if set(values) != set(self.sets):
            raise TypeError(f"{self.verb} sets exactly {self.sets}, given {tuple(values)}")


class DeliveryKind(enum.StrEnum):
    INTERIM = "interim"
    FINAL = "final"


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


#: An export in one of these is still to be built, or being built.
UNFINISHED_EXPORT_STATES = (ExportStatus.QUEUED, ExportStatus.RUNNING)


LANGUAGES = ("kk", "ru", "en")


class MemberRole(enum.StrEnum):
    """What a member of a petition's team may do there (`ROLE_PERMISSIONS`)."""

    OWNER = "owner"
    EDITOR = "editor"
    MODERATOR = "moderator"
    VIEWER = "viewer"

    @property
    def label(self) -> LazyString:
        """Name the role as organisers read it (translated when shown)."""
        return _ROLE_LABELS[self]

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self]

    def allows(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self]


_ROLE_LABELS = {
    MemberRole.OWNER: _l("Owner"),
    MemberRole.EDITOR: _l("Editor"),
    MemberRole.MODERATOR: _l("Moderator"),
    MemberRole.VIEWER: _l("Viewer"),
}
#: Roles an invitation or a change of role may give: ownership only passes by a transfer.
GRANTABLE_ROLES = (MemberRole.EDITOR, MemberRole.MODERATOR, MemberRole.VIEWER)


class Permission(enum.StrEnum):
    """One thing an organiser route does to a petition; every such route needs exactly one."""

    #: The dashboard's counts, chart and countries, and the list of the team.
    VIEW = "view"
    #: The audit log (its details may quote a moderator's search for a name).
    AUDIT = "audit"
    #: The text and window, and sealing.
    EDIT = "edit"
    #: Publishing and closing.
    PUBLISH = "publish"
    #: The signed bundle: asking for it, downloading it, recording its delivery.
    EXPORT = "export"
    #: Signers' names, the signatures page and the busiest sources; invalidating, restoring.
    MODERATE = "moderate"
    #: Invitations, roles, removals and the transfer of ownership.
    MANAGE = "manage"
    #: Leaving the team, which its owner cannot do (ownership passes by a transfer first).
    LEAVE = "leave"


ROLE_PERMISSIONS: dict[MemberRole, frozenset[Permission]] = {
    MemberRole.OWNER: frozenset(Permission) - {Permission.LEAVE},
    MemberRole.EDITOR: frozenset(
        {
            Permission.VIEW,
            Permission.AUDIT,
            Permission.EDIT,
            Permission.PUBLISH,
            Permission.EXPORT,
            Permission.LEAVE,
        }
    ),
    MemberRole.MODERATOR: frozenset(
        {Permission.VIEW, Permission.AUDIT, Permission.MODERATE, Permission.LEAVE}
    ),
    MemberRole.VIEWER: frozenset({Permission.VIEW, Permission.LEAVE}),
}


class RecipientKind(enum.StrEnum):
    """What kind of body a petition is addressed to: it decides the letter's formal lines."""

    PRESIDENT = "president"
    MAZHILIS = "mazhilis"
    SENATE = "senate"
    MINISTRY = "ministry"
    AKIMAT = "akimat"
    EMBASSY = "embassy"
    OTHER = "other"

    @property
    def label(self) -> LazyString:
        return _RECIPIENT_KIND_LABELS[self]


_RECIPIENT_KIND_LABELS = {
    RecipientKind.PRESIDENT: _l("The President of the Republic of Kazakhstan"),
    RecipientKind.MAZHILIS: _l("The Mazhilis of the Parliament"),
    RecipientKind.SENATE: _l("The Senate of the Parliament"),
    RecipientKind.MINISTRY: _l("A ministry or another central state body"),
    RecipientKind.AKIMAT: _l("An akimat (local executive body)"),
    RecipientKind.EMBASSY: _l("A foreign embassy"),
    RecipientKind.OTHER: _l("Another recipient"),
}


class ApplicantKind(enum.StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"


class DeliveryChannel(enum.StrEnum):
    """How a bundle reached its recipient: the fixed set the public record names."""

    POST = "post"
    IN_PERSON = "in_person"
    EMAIL = "email"
    EOTINISH = "eotinish"
    OTHER = "other"

    @property
    def label(self) -> LazyString:
        return _DELIVERY_CHANNEL_LABELS[self]


_DELIVERY_CHANNEL_LABELS = {
    DeliveryChannel.POST: _l("By post"),
    DeliveryChannel.IN_PERSON: _l("In person"),
    DeliveryChannel.EMAIL: _l("By email"),
    DeliveryChannel.EOTINISH: _l("Through the eOtinish portal"),
    DeliveryChannel.OTHER: _l("Another way"),
}


class Outcome(enum.StrEnum):
    """What the recipient decided, from the small set the public page and the JSON name."""

    GRANTED = "granted"
    PARTLY_GRANTED = "partly_granted"
    REFUSED = "refused"
    NO_ANSWER = "no_answer"
    OTHER = "other"

    @property
    def label(self) -> LazyString:
        return _OUTCOME_LABELS[self]


_OUTCOME_LABELS = {
    Outcome.GRANTED: _l("Granted"),
    Outcome.PARTLY_GRANTED: _l("Partly granted"),
    Outcome.REFUSED: _l("Refused"),
    Outcome.NO_ANSWER: _l("No answer"),
    Outcome.OTHER: _l("Other"),
}


class Organiser(UserMixin, db.Model):
    __tablename__ = "organisers"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-cased; login compares lower-cased input.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    #: The name signers see on the organiser's petitions (a person's or an organisation's);
    #: None: the page says no name was given. `name` stays private, for the audit log.
    public_name: Mapped[str | None] = mapped_column(sa.String(120))
    #: How signers can reach whoever runs the petition (an address, a site), shown as text.
    public_contact: Mapped[str | None] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    petitions: Mapped[list[Petition]] = relationship(back_populates="organiser")
    memberships: Mapped[list[Membership]] = relationship(back_populates="organiser")

    #: The session this object was loaded for, and the random id its cookie carries: set by the
    #: organiser blueprint on every request, kept in memory only (never a column).
    current_session = None
    session_token = None

    def get_id(self) -> str:
        """Name the session in the cookie, not the account: its random id, checked each request."""
        if self.session_token is None:
            raise RuntimeError("an organiser signs in through a session record")
        return self.session_token

    @property
    def session_stamp(self) -> str:
        """Name the current password: a reset link dies with the password it would replace."""
        return hashlib.sha256(self.password_hash.encode("utf-8")).hexdigest()[:16]


class SessionEnd(enum.StrEnum):
    """Why an organiser's session ended."""

    SIGNED_OUT = "signed-out"
    #: Ended by the organiser from another of their sessions (the account page).
    ENDED = "ended"
    #: A new password ended every other session.
    NEW_PASSWORD = "password"  # noqa: S105 - the reason's name, not a password
    IDLE = "idle"
    EXPIRED = "expired"


class OrganiserSession(db.Model):
    """One signed-in browser of an organiser, looked up on every request of it.

    The cookie carries only the random id, which is stored as its SHA-256: a copy of the table
    opens no session. Ending the row ends the session, whatever the cookie still says.
    """

    __tablename__ = "organiser_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: SHA-256 of the random id in the session's cookie; the id itself is never stored.
    token_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    organiser_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The last request, written at most once a minute (`SESSION_TOUCH_EVERY`).
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The browser's family and system, read from User-Agent through a short table of names
    #: ("Firefox", "Android"); None when it names none. The header itself is never kept.
    browser: Mapped[str | None] = mapped_column(sa.String(32))
    platform: Mapped[str | None] = mapped_column(sa.String(32))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[SessionEnd | None] = mapped_column(_enum(SessionEnd, "session_end"))
    #: When the second factor was last given in this session; None: not in this session.
    factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organiser: Mapped[Organiser] = relationship()


class OrganiserBrowser(db.Model):
    """A browser an organiser has signed in from, known by the long-lived cookie it keeps.

    A sign-in from a browser not listed here emails the organiser. The hash covers the
    organiser's id with the cookie, so one browser shared by two organisers links no rows.
    """

    __tablename__ = "organiser_browsers"
    __table_args__ = (sa.UniqueConstraint("organiser_id", "token_hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organiser_id: Mapped[int] = mapped_column(sa.ForeignKey("organisers.id", ondelete="CASCADE"))
    #: SHA-256 of the organiser's id and the browser cookie's random value.
    token_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The language a new browser's warning is written in: the one last used in this browser
    #: once known, and until then the language of the organiser's browser used before it.
    language: Mapped[str] = mapped_column(sa.String(2))


#: Longest collection window a petition may have.
LONGEST_WINDOW = timedelta(days=366)


class InvalidWindow(InvalidTransition):
    """A collection window that cannot be: empty, already over, or longer than a year."""


def window_problem(
    opens_at: datetime, closes_at: datetime, now: datetime | None = None
) -> InvalidWindow | None:
    """Say what is wrong with a collection window, or None; given `now`, judge it for publishing.

    A draft's window must only end after it begins (the `window_order` CHECK backs this up);
    a window that is published must also end in the future and last at most LONGEST_WINDOW.
    """
    if closes_at <= opens_at:
        return InvalidWindow(
            "the window must close after it opens",
            _l("The closing time must be after the opening time."),
        )
    if now is not None and closes_at <= now:
        return InvalidWindow(
            "the window must close in the future", _l("The closing time must be in the future.")
        )
    if now is not None and closes_at - opens_at > LONGEST_WINDOW:
        return InvalidWindow(
            "the window must last at most a year",
            _l("A petition can collect signatures for at most one year."),
        )
    return None


def check_window(opens_at: datetime, closes_at: datetime, now: datetime | None = None) -> None:
    """Raise `InvalidWindow` for a window `window_problem` refuses."""
    problem = window_problem(opens_at, closes_at, now)
    if problem is not None:
        raise problem


def is_collecting(petition: Any, now: Any) -> Any:
    """Tell whether a petition collects signatures at `now`: OPEN, and opens_at <= now < closes_at.

    One body for Python and SQL: given a petition (or any copy with its state and window) the
    operators compare values; given the `Petition` class they build the SQL condition.
    """
    opened = (petition.state == PetitionState.OPEN) & (petition.opens_at <= now)
    return opened & (petition.closes_at > now)


def is_past_deadline(petition: Any, now: Any) -> Any:
    """Tell whether a petition is still OPEN at `now` although its deadline has passed."""
    return (petition.state == PetitionState.OPEN) & (petition.closes_at <= now)


#: 16 random bytes in URL-safe base64, without padding.
PUBLIC_ID_LENGTH = 22


def new_public_id() -> str:
    """Draw a public id (a petition's, a signature's): 128 random bits, safe in a URL."""
    return secrets.token_urlsafe(16)


class Petition(db.Model):
    __tablename__ = "petitions"
    __table_args__ = (
        sa.CheckConstraint("closes_at > opens_at", name="window_order"),
        sa.CheckConstraint("goal IS NULL OR goal > 0", name="goal_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    #: Random and never changed, unlike the slug: what every receipt's leaf is computed from.
    #: Never null (the default draws one); nullable in the schema because SQLite can make a
    #: column NOT NULL only by copying the table, which the tables pointing here forbid.
    public_id: Mapped[str] = mapped_column(
        sa.String(PUBLIC_ID_LENGTH), nullable=True, unique=True, index=True, default=new_public_id
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.String(500))
    #: Markdown as the organiser wrote it; sanitised every time it is rendered.
    body: Mapped[str] = mapped_column(sa.Text)
    #: Whom the petition is addressed to, as it appears on the cover letter.
    recipient: Mapped[str] = mapped_column(sa.String(200))
    #: The kind of body `recipient` names: the cover letter's formal line and salutation.
    recipient_kind: Mapped[RecipientKind] = mapped_column(
        _enum(RecipientKind, "recipient_kind"),
        default=RecipientKind.OTHER,
        server_default=RecipientKind.OTHER.value,
    )
    language: Mapped[str] = mapped_column(sa.String(2))
    goal: Mapped[int | None]
    #: IANA zone in which deadlines are shown and days are counted.
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Asia/Almaty")
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[PetitionState] = mapped_column(
        _enum(PetitionState, "petition_state"), default=PetitionState.DRAFT, index=True
    )
    #: The petition's owner (the member whose role is OWNER; a transfer changes both at once):
    #: the public page and the bundle name who runs the petition from this account.
    organiser_id: Mapped[int] = mapped_column(sa.ForeignKey("organisers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the CLOSED state was recorded; signing itself stops at closes_at regardless.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(sa.String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the retention purge removed the signers' personal data; the counts remain.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the confirmed count first reached the goal: the organisers are emailed once.
    goal_reached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A sealed petition's public key (`seal-x25519:…`): signers' names, emails, cities and
    #: comments are encrypted to it and only the organiser's private key, offline, opens them.
    sealing_key: Mapped[str | None] = mapped_column(sa.String(80))

    organiser: Mapped[Organiser] = relationship(back_populates="petitions")
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="petition", cascade="all, delete-orphan"
    )
    #: Who files the appeal in law; a final bundle needs one (`Applicant`).
    applicant: Mapped[Applicant | None] = relationship(
        back_populates="petition", cascade="all, delete-orphan", uselist=False
    )

    @property
    def is_sealed(self) -> bool:
        return self.sealing_key is not None

    def __init__(self, **fields: Any) -> None:
        fields.setdefault("state", PetitionState.DRAFT)
        # Whoever creates a petition owns it: the team starts with its owner, in the same flush.
        if "memberships" not in fields and ("organiser" in fields or "organiser_id" in fields):
            owner = (
                {"organiser": fields["organiser"]}
                if "organiser" in fields
                else {"organiser_id": fields["organiser_id"]}
            )
            fields["memberships"] = [Membership(role=MemberRole.OWNER, **owner)]
        super().__init__(**fields)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @hybrid_method
    def accepts_signatures_at(self, now: Any) -> Any:
        """Tell whether a signature made at `now` falls inside the collection window."""
        return is_collecting(self, now)

    @hybrid_method
    def past_deadline_at(self, now: Any) -> Any:
        """Tell whether the petition is still OPEN although its deadline has passed at `now`."""
        return is_past_deadline(self, now)

    def collection_ended_at(self, now: datetime) -> datetime | None:
        """Return when collection ended (early close or deadline), or None while it goes on."""
        if self.state in ENDED_STATES:
            return min(self.closed_at or self.closes_at, self.closes_at)
        if self.past_deadline_at(now):
            return self.closes_at
        return None

    def effective_state(self, now: datetime) -> PetitionState:
        """Return the state as signers see it: an open petition past its deadline is closed."""
        return PetitionState.CLOSED if self.past_deadline_at(now) else self.state

    #: DRAFT -> OPEN; the window is checked too (`check_window`), before the state.
    PUBLISH = Transition(
        "publish",
        PUBLISHABLE_STATES,
        PetitionState.OPEN,
        stamp="published_at",
        refusal=lambda state: _l(
            "This petition cannot be published: its state is “%(state)s”.", state=state
        ),
    )
    #: OPEN -> CLOSED, early (with a reason) or at the deadline (stamped at the deadline).
    CLOSE = Transition(
        "close",
        CLOSABLE_STATES,
        PetitionState.CLOSED,
        stamp="closed_at",
        stamp_until="closes_at",
        sets=("close_reason",),
        refusal=lambda state: _l(
            "This petition cannot be closed: its state is “%(state)s”.", state=state
        ),
    )
    #: CLOSED -> DELIVERED: the signatures reached the recipient.
    DELIVER = Transition(
        "deliver",
        DELIVERABLE_STATES,
        PetitionState.DELIVERED,
        stamp="delivered_at",
        refusal=lambda state: _l(
            "This petition cannot be recorded as delivered: its state is “%(state)s”.",
            state=state,
        ),
    )

    def publish(self, now: datetime) -> None:
        """Open a draft for signing within its window."""
        check_window(self.opens_at, self.closes_at, now)
        self.PUBLISH.apply(self, now)

    def close(self, now: datetime, reason: str | None = None) -> None:
        """Record the end of collection, early (with a reason) or at the deadline."""
        self.CLOSE.apply(self, now, close_reason=reason)

    def mark_delivered(self, now: datetime) -> None:
        """Record that the signatures reached the recipient."""
        self.DELIVER.apply(self, now)


class Membership(db.Model):
    """One organiser's role on one petition's team; a petition has exactly one owner."""

    __tablename__ = "memberships"
    __table_args__ = (
        sa.UniqueConstraint("petition_id", "organiser_id"),
        # At most one owner per petition, whatever the code does; a transfer demotes the old
        # owner before it promotes the new one, in one transaction.
        sa.Index(
            "uq_memberships_one_owner",
            "petition_id",
            unique=True,
            sqlite_where=sa.text("role = 'owner'"),
            postgresql_where=sa.text("role = 'owner'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id", ondelete="CASCADE"))
    organiser_id: Mapped[int] = mapped_column(sa.ForeignKey("organisers.id"), index=True)
    role: Mapped[MemberRole] = mapped_column(_enum(MemberRole, "member_role"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    petition: Mapped[Petition] = relationship(back_populates="memberships")
    organiser: Mapped[Organiser] = relationship(back_populates="memberships")


#: How long an emailed invitation to a petition's team can be accepted.
INVITATION_AGE = timedelta(days=7)


class Invitation(db.Model):
    """An emailed invitation to join a petition's team with a role; accepted once, or revoked.

    Only the SHA-256 of the link's random token is stored: the table alone opens no invitation.
    """

    __tablename__ = "invitations"
    __table_args__ = (sa.CheckConstraint("role <> 'owner'", name="invitation_not_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(
        sa.ForeignKey("petitions.id", ondelete="CASCADE"), index=True
    )
    #: The invited address, lower-cased: only the account with it can accept.
    email: Mapped[str] = mapped_column(sa.String(254))
    role: Mapped[MemberRole] = mapped_column(_enum(MemberRole, "invitation_role"))
    token_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisers.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    petition: Mapped[Petition] = relationship()
    invited_by: Mapped[Organiser | None] = relationship(foreign_keys=[invited_by_id])

    def is_pending_at(self, now: datetime) -> bool:
        """Tell whether the invitation can still be accepted at `now`."""
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at


class Applicant(db.Model):
    """Who files a petition as an appeal: a person or an organisation, with a postal address.

    Kazakhstan's law on appeals leaves an appeal without the applicant's name and postal
    address unconsidered, as anonymous: the cover letter of a final bundle names the applicant
    and asks for the answer at this address. Everything in it but its kind is encrypted; the
    public page never shows it, but for the postal address when `show_address` is chosen.
    """

    __tablename__ = "applicants"

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(
        sa.ForeignKey("petitions.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[ApplicantKind] = mapped_column(_enum(ApplicantKind, "applicant_kind"))
    #: A person's given name, or the organisation's name.
    name: Mapped[str] = mapped_column(EncryptedText("applicant.name"))
    #: A person's surname and patronymic (this one optional); null for an organisation.
    surname: Mapped[str | None] = mapped_column(EncryptedText("applicant.surname"))
    patronymic: Mapped[str | None] = mapped_column(EncryptedText("applicant.patronymic"))
    #: Whoever signs for an organisation; null for a person.
    signatory: Mapped[str | None] = mapped_column(EncryptedText("applicant.signatory"))
    address: Mapped[str] = mapped_column(EncryptedText("applicant.address"))
    #: A person's IIN or an organisation's BIN (12 digits), if given.
    id_number: Mapped[str | None] = mapped_column(EncryptedText("applicant.id_number"))
    email: Mapped[str] = mapped_column(EncryptedText("applicant.email"))
    phone: Mapped[str | None] = mapped_column(EncryptedText("applicant.phone"))
    #: The organiser chose to show the postal address on the public page.
    show_address: Mapped[bool] = mapped_column(default=False)
    #: The demo's invented applicant: the letter says that it is no appeal.
    demonstration: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    petition: Mapped[Petition] = relationship(back_populates="applicant")

    @property
    def full_name(self) -> str:
        """Name the applicant as official letters in Kazakhstan do: surname, name, patronymic."""
        if self.kind == ApplicantKind.ORGANISATION:
            return self.name
        return " ".join(part for part in (self.surname, self.name, self.patronymic) if part)


class Signature(db.Model):
    __tablename__ = "signatures"
    __table_args__ = (
        # One person per petition; the database settles concurrent duplicates.
        sa.UniqueConstraint("petition_id", "email_hash"),
        sa.Index("ix_signatures_petition_state", "petition_id", "state"),
        sa.Index("ix_signatures_receipt_leaf", "petition_id", "receipt_leaf"),
        # A line of a paper sheet is entered into the list once.
        sa.Index(
            "ix_signatures_paper_line", "petition_id", "paper_sheet", "paper_line", unique=True
        ),
        sa.Index("ix_signatures_person_hash", "petition_id", "person_hash"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: Random, and what the emailed links name instead of the row id: a link tells its holder
    #: nothing about how many others have signed.
    public_id: Mapped[str] = mapped_column(
        sa.String(PUBLIC_ID_LENGTH), unique=True, index=True, default=new_public_id
    )
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id"))
    #: In a sealed petition, only a name its signer chose to show publicly; otherwise null.
    name: Mapped[str | None] = mapped_column(EncryptedText("signature.name"))
    #: Null once the retention purge has removed it.
    email: Mapped[str | None] = mapped_column(EncryptedText("signature.email"))
    #: HMAC of the canonical email under HASH_KEY: equal for the same person, useless without it.
    #: Null after the purge: NULLs never clash in the UNIQUE constraint, on either database.
    email_hash: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32))
    #: HMAC of the email's domain: lets moderators group and search by domain without storing it.
    email_domain_hash: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32), index=True)
    #: ISO 3166-1 alpha-2, upper case.
    country: Mapped[str] = mapped_column(sa.String(2))
    #: Null in a sealed petition, and after the purge.
    city: Mapped[str | None] = mapped_column(EncryptedText("signature.city"))
    comment: Mapped[str | None] = mapped_column(EncryptedText("signature.comment"))
    #: A sealed petition's name, email, city and comment, in a sealed box to its public key
    #: (`petitions.sealing`); the server cannot open it. Null after the purge.
    sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    #: The receipt's leaf (petitions.receipts): how a receipt code finds its signature. Null for
    #: signatures made before receipts, whose codes were never sent.
    receipt_leaf: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32))
    #: Consent to appear by name on the public page.
    show_name: Mapped[bool] = mapped_column(default=False)
    #: HMAC of the client address; the raw address is never stored.
    ip_hash: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32), index=True)
    #: Language the signer used, for the emails we send them.
    locale: Mapped[str] = mapped_column(sa.String(2), default="en")
    state: Mapped[SignatureState] = mapped_column(
        _enum(SignatureState, "signature_state"), default=SignatureState.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invalidated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invalidation_reason: Mapped[str | None] = mapped_column(sa.String(500))
    #: Shared by every signature invalidated in one moderation action, so it can be undone whole.
    invalidation_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Random value carried by the newest emailed link; a fresh email makes older links void.
    token_nonce: Mapped[str | None] = mapped_column(sa.String(32))
    #: When we last emailed this signer; repeated submissions do not flood their inbox.
    last_emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A line of a paper sheet (petitions.services.paper): the sheet's number, null online.
    paper_sheet: Mapped[int | None]
    #: The line's number on its sheet, from 1; null online.
    paper_line: Mapped[int | None] = mapped_column(sa.SmallInteger)
    #: HMAC of the normalised name and city (`services.paper.person_hash`): finds a line that
    #: looks like a repeat of another line or of an online signature, sealed or not. Null for
    #: signatures made before paper sheets, and after the purge.
    person_hash: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32))
    #: When a moderator looked at this line's likely repeat and kept it; the flag then goes.
    repeat_kept_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    petition: Mapped[Petition] = relationship()

    @property
    def on_paper(self) -> bool:
        return self.paper_sheet is not None

    def __init__(self, **fields: Any) -> None:
        fields.setdefault("state", SignatureState.PENDING)
        super().__init__(**fields)

    #: PENDING -> CONFIRMED: the signer followed the newest emailed link.
    CONFIRM = Transition(
        "confirm",
        CONFIRMABLE_STATES,
        SignatureState.CONFIRMED,
        stamp="confirmed_at",
        refusal=lambda state: _l(
            "This signature cannot be confirmed: its state is “%(state)s”.", state=state
        ),
    )
    #: PENDING or CONFIRMED -> INVALIDATED, judged fraudulent by a moderator, with a reason.
    INVALIDATE = Transition(
        "invalidate",
        INVALIDATABLE_STATES,
        SignatureState.INVALIDATED,
        stamp="invalidated_at",
        sets=("invalidation_reason", "invalidation_id"),
        refusal=lambda state: _l(
            "This signature cannot be invalidated: its state is “%(state)s”.", state=state
        ),
    )
    #: INVALIDATED -> CONFIRMED or PENDING, as it was before.
    RESTORE = Transition(
        "restore",
        RESTORABLE_STATES,
        FormerState("confirmed_at", SignatureState.CONFIRMED, SignatureState.PENDING),
        clears=("invalidated_at", "invalidation_reason", "invalidation_id"),
        refusal=lambda state: _l(
            "This signature cannot be restored: its state is “%(state)s”.", state=state
        ),
    )
    #: PENDING or CONFIRMED -> WITHDRAWN, at the signer's request.
    WITHDRAW = Transition(
        "withdraw",
        WITHDRAWABLE_STATES,
        SignatureState.WITHDRAWN,
        stamp="withdrawn_at",
        refusal=lambda state: _l(
            "This signature cannot be withdrawn: its state is “%(state)s”.", state=state
        ),
    )
    #: WITHDRAWN -> PENDING: signing again starts over, as if signed now.
    RESIGN = Transition(
        "sign again",
        RESIGNABLE_STATES,
        SignatureState.PENDING,
        stamp="created_at",
        clears=("withdrawn_at",),
    )

    def confirm(self, now: datetime) -> None:
        """Count a pending signature."""
        self.CONFIRM.apply(self, now)

    def invalidate(self, now: datetime, reason: str, action_id: str | None = None) -> None:
        """Stop counting a signature judged fraudulent."""
        self.INVALIDATE.apply(self, now, invalidation_reason=reason, invalidation_id=action_id)

    def restore(self) -> None:
        """Undo an invalidation, back to confirmed or pending as before."""
        self.RESTORE.apply(self)

    def withdraw(self, now: datetime) -> None:
        """Remove one's own signature at the signer's request."""
        self.WITHDRAW.apply(self, now)

    def sign_again(self, now: datetime) -> None:
        """Start a withdrawn signature over as a pending one signed now."""
        self.RESIGN.apply(self, now)


class PaperSheet(db.Model):
    """A printed sheet of a petition being entered; its lines count once two passes agree.

    Sheets are not stored when they are printed: the check code printed on each
    (`services.paper.check_code`) lets the server recognise its own sheets without a list.
    """

    __tablename__ = "paper_sheets"
    __table_args__ = (sa.UniqueConstraint("petition_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id"), index=True)
    number: Mapped[int]
    #: SHA-256 (hex) of the organiser's scan or photo of the sheet; the image is not kept here.
    scan_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When two passes agreed and its lines joined the list; None while it waits.
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: How many lines were counted.
    line_count: Mapped[int | None]

    petition: Mapped[Petition] = relationship()
    passes: Mapped[list[PaperPass]] = relationship(
        back_populates="sheet", order_by="PaperPass.id", cascade="all, delete-orphan"
    )


class PaperPass(db.Model):
    """One typing of a sheet's lines, by one organiser; two identical passes count the sheet."""

    __tablename__ = "paper_passes"

    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(
        sa.ForeignKey("paper_sheets.id", ondelete="CASCADE"), index=True
    )
    #: Null for a pass imported on the command line.
    entered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisers.id"))
    #: Who typed it, as the audit log names them ("cli", an email).
    entered_by: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Keyed hashes of each line as typed (JSON list of hex): two passes agree when these do.
    line_hashes: Mapped[str] = mapped_column(sa.Text)
    #: The lines as typed (JSON), under the data keys, to show how passes differ. Null in a
    #: sealed petition (only the hashes are kept: the lines are sealed once two passes agree),
    #: and after the purge.
    lines: Mapped[str | None] = mapped_column(EncryptedText("paper.lines"))

    sheet: Mapped[PaperSheet] = relationship(back_populates="passes")


class Delivery(db.Model):
    """One export of the signed bundle and, once recorded, how it reached the recipient.

    An export asked for in the browser is queued here and built by the worker, which records its
    progress; one made on the command line is recorded when it is done.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id"), index=True)
    kind: Mapped[DeliveryKind] = mapped_column(_enum(DeliveryKind, "delivery_kind"))
    status: Mapped[ExportStatus] = mapped_column(
        _enum(ExportStatus, "export_status"), default=ExportStatus.DONE, index=True
    )
    #: When the export was asked for.
    exported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: A running export's last sign of life: a worker takes over one that has long been silent.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the export ended, done or failed; None while it waits or runs.
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Null when the export ran from the command line.
    exported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisers.id"))
    bundle_filename: Mapped[str | None] = mapped_column(sa.String(200))
    bundle_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    signature_count: Mapped[int | None]
    #: Progress of a running export, for the organiser's page.
    rows_done: Mapped[int] = mapped_column(default=0)
    rows_total: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Whom it was handed to, as they appear on a receipt.
    delivered_to: Mapped[str | None] = mapped_column(sa.String(200))
    #: How, as free text: from deliveries recorded before `channel` existed.
    delivery_method: Mapped[str | None] = mapped_column(sa.String(200))
    #: A tracking number or other reference the organiser notes.
    reference: Mapped[str | None] = mapped_column(sa.String(200))
    #: How the bundle reached the recipient, from a fixed set.
    channel: Mapped[DeliveryChannel | None] = mapped_column(
        _enum(DeliveryChannel, "delivery_channel")
    )
    #: The registration number and date the recipient's office gives an accepted appeal.
    registration_number: Mapped[str | None] = mapped_column(sa.String(100))
    registered_on: Mapped[date | None] = mapped_column(sa.Date)
    #: The RFC 6962 tree over the bundle's rows (petitions.receipts), once the export is done.
    tree_size: Mapped[int | None]
    tree_root: Mapped[str | None] = mapped_column(sa.String(64))

    petition: Mapped[Petition] = relationship()

    def __init__(self, **fields: Any) -> None:
        fields.setdefault("status", ExportStatus.QUEUED)
        fields.setdefault("rows_done", 0)
        super().__init__(**fields)


class ReceiptChunk(db.Model):
    """Consecutive nodes of one level of an export's receipt tree, for the receipts' proofs.

    A chunk of the leaves also keeps the bundle order's key of its first row, so that a
    signature's chunk, and then its place, are found without reading the others.
    """

    __tablename__ = "receipt_chunks"
    __table_args__ = (
        sa.Index("ix_receipt_chunks_first_row", "delivery_id", "level", "first_at", "first_id"),
    )

    delivery_id: Mapped[int] = mapped_column(
        sa.ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True)
    #: Level 0 only: the created_at and id of the chunk's first row, in the bundle's order.
    first_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_id: Mapped[int | None] = mapped_column(BigId)
    #: The nodes' SHA-256 hashes, 32 bytes each, joined.
    hashes: Mapped[bytes] = mapped_column(sa.LargeBinary)


class OutboxMessage(db.Model):
    """An email waiting to be sent, written in the same transaction as what caused it.

    Everything personal in it (address, subject, bodies with their links) is encrypted, and the
    bodies are erased once the message has gone.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        sa.Index("ix_outbox_messages_due", "sent_at", "next_attempt_at"),
        sa.Index(
            "uq_outbox_messages_broadcast_subscription",
            "broadcast_id",
            "subscription_id",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: What the message is for ("confirm", "already_signed", ...), for logs and counts.
    kind: Mapped[str] = mapped_column(sa.String(40))
    #: Null for a sealed petition's message, whose address is in `envelope`.
    recipient: Mapped[str | None] = mapped_column(EncryptedText("outbox.recipient"))
    subject: Mapped[str | None] = mapped_column(EncryptedText("outbox.subject"))
    body_text: Mapped[str | None] = mapped_column(EncryptedText("outbox.body_text"))
    body_html: Mapped[str | None] = mapped_column(EncryptedText("outbox.body_html"))
    #: What the worker needs to write the email when it sends it (JSON), if not written yet.
    payload: Mapped[str | None] = mapped_column(EncryptedText("outbox.payload"))
    #: A sealed petition's message: its address and payload under the hour's outbox key
    #: (`petitions.outbox_keys`), never under the data keys; erased once sent.
    envelope: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    #: The signature an email is about, so the retention purge can remove its address too.
    signature_id: Mapped[int | None] = mapped_column(BigId, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A news email: the broadcast it belongs to and the subscription it goes to. The address is
    #: read from the subscription when it is sent (so an unsubscribe or a purge meanwhile stops
    #: it), and the unique index makes one broadcast reach one subscription at most once.
    broadcast_id: Mapped[int | None]
    subscription_id: Mapped[int | None] = mapped_column(BigId)
    #: When the receiving server refused the address for good (a 5xx answer): not retried.
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @classmethod
    def went_out(cls) -> sa.ColumnElement[bool]:
        """In SQL: handed to the mail server, accepted or refused there for good (not dropped)."""
        return sa.and_(
            cls.sent_at.is_not(None), sa.or_(cls.last_error.is_(None), cls.bounced_at.is_not(None))
        )

    @classmethod
    def was_dropped(cls) -> sa.ColumnElement[bool]:
        """In SQL: done without sending, since there was nothing left to send (why: last_error)."""
        return sa.and_(
            cls.sent_at.is_not(None), cls.last_error.is_not(None), cls.bounced_at.is_(None)
        )


class PetitionUpdate(db.Model):
    """A dated update the organisers post on a petition; shown newest first, Markdown sanitised.

    Removing one keeps the row (`removed_at`) so the audit log and a sent email still name it;
    the public page and the JSON no longer show it.
    """

    __tablename__ = "petition_updates"
    __table_args__ = (sa.Index("ix_petition_updates_petition_posted", "petition_id", "posted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(200))
    #: Markdown as the organiser wrote it; sanitised every time it is rendered, like the body.
    body: Mapped[str] = mapped_column(sa.Text)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    posted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="SET NULL")
    )
    #: When it was last changed after posting: the page says "edited".
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    petition: Mapped[Petition] = relationship()


class PetitionOutcome(db.Model):
    """The recipient's answer and what came of the petition: at most one per petition."""

    __tablename__ = "petition_outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(
        sa.ForeignKey("petitions.id", ondelete="CASCADE"), unique=True
    )
    outcome: Mapped[Outcome] = mapped_column(_enum(Outcome, "outcome"))
    #: When the recipient answered; null for "no answer".
    answered_on: Mapped[date | None] = mapped_column(sa.Date)
    #: Who answered, as the answer names them (an office, an official).
    answered_by: Mapped[str | None] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.String(1000))
    #: The answer's full text (Markdown, sanitised when shown), or null when `link` points to it.
    full_text: Mapped[str | None] = mapped_column(sa.Text)
    link: Mapped[str | None] = mapped_column(sa.String(500))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="SET NULL")
    )
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    petition: Mapped[Petition] = relationship()


class Subscription(db.Model):
    """A signer's choice, made when signing, to be emailed news of the petition.

    The address is kept for that purpose only, under the data keys (in a sealed petition too:
    choosing news means the server keeps it), and the retention purge deletes the row. Only a
    subscription whose signature is confirmed is ever emailed.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (sa.Index("ix_subscriptions_petition", "petition_id", "unsubscribed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: Random: what the unsubscribe link names, with a keyed tag beside it.
    public_id: Mapped[str] = mapped_column(
        sa.String(PUBLIC_ID_LENGTH), unique=True, default=new_public_id
    )
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id", ondelete="CASCADE"))
    signature_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("signatures.id", ondelete="CASCADE"), unique=True
    )
    email: Mapped[str] = mapped_column(EncryptedText("subscription.email"))
    #: The signer's language, for every news email.
    locale: Mapped[str] = mapped_column(sa.String(2), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    signature: Mapped[Signature] = relationship()


class NewsBroadcast(db.Model):
    """One update, or the outcome, sent to a petition's subscribers through the outbox.

    Its emails are outbox messages pointing here; queuing is resumable (each subscription at
    most once) and sending is paced by `NEWS_RATE_LIMIT`.
    """

    __tablename__ = "news_broadcasts"
    __table_args__ = (
        # One broadcast per update, and one of the outcome per petition.
        sa.UniqueConstraint("petition_id", "item", name="uq_news_broadcasts_item"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id", ondelete="CASCADE"))
    #: What is sent: "update:<id>" or "outcome".
    item: Mapped[str] = mapped_column(sa.String(40))
    update_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("petition_updates.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="SET NULL")
    )
    #: When every subscription had its message queued; null while queuing (or after a crash).
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: How many messages were queued.
    queued: Mapped[int] = mapped_column(default=0)

    petition: Mapped[Petition] = relationship()


class TotpFactor(db.Model):
    """An organiser's authenticator app (TOTP, RFC 6238): at most one per organiser."""

    __tablename__ = "totp_factors"

    organiser_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="CASCADE"), primary_key=True
    )
    #: The row's key under the name key rotation walks by (`keys reencrypt`).
    id: Mapped[int] = synonym("organiser_id")
    #: The shared secret (base32), encrypted at rest under DATA_KEYS like signers' data.
    secret: Mapped[str] = mapped_column(EncryptedText("totp.secret"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: None while it is being set up: the secret was shown, no code from it was given yet.
    enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The time-step (30-second period since 1970) of the last code accepted: a code of that
    #: step or an earlier one is refused, so an overheard code cannot be used again.
    last_step: Mapped[int | None] = mapped_column(sa.BigInteger)


class Passkey(db.Model):
    """A passkey (WebAuthn credential) an organiser added as a second factor, beside the app."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="CASCADE"), index=True
    )
    #: What the organiser called it ("work laptop"), shown in their list only.
    name: Mapped[str] = mapped_column(sa.String(60))
    #: The authenticator's id for the credential, unique among all passkeys.
    credential_id: Mapped[bytes] = mapped_column(sa.LargeBinary(1023), unique=True)
    #: The credential's public key (COSE), as the authenticator gave it at registration.
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    #: The authenticator's signature counter last seen: one not above it is refused (a clone).
    sign_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: How the browser can reach the authenticator ("internal,hybrid"), as it said at registration.
    transports: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasskeyChallenge(db.Model):
    """A challenge handed to a browser for a passkey: taken once, within its age, then gone."""

    __tablename__ = "passkey_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="CASCADE"), index=True
    )
    #: SHA-256 of the challenge (the challenge itself travels in the browser's signed session).
    challenge_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    #: "register" or "sign-in": a challenge drawn for one is refused for the other.
    purpose: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecoveryCode(db.Model):
    """A single-use code that stands in for the authenticator app; only its keyed hash is kept."""

    __tablename__ = "recovery_codes"
    __table_args__ = (sa.UniqueConstraint("organiser_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="CASCADE"), index=True
    )
    #: HMAC-SHA256 of the code under HASH_KEY; the code itself is shown once and never stored.
    code_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set once, by a guarded UPDATE, when the code is given: a used code opens nothing.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(db.Model):
    """Who did what to which petition; written in the same transaction as the change."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: Null for actions of the system itself (the close-expired job, the CLI).
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisers.id"))
    #: Shown in the log even if the organiser is later deleted ("cli", "system", an email).
    actor_label: Mapped[str] = mapped_column(sa.String(254))
    petition_id: Mapped[int | None] = mapped_column(sa.ForeignKey("petitions.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
