"""The domain's tables: organisers, petitions, signatures, deliveries and the audit log.

States are StrEnums and change only through guarded transitions that stamp a `*_at` time and raise
`InvalidTransition` when the change makes no sense (closing a draft, confirming a withdrawal).
Times are stored in UTC and shown in the petition's own time zone.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from petitions.extensions import db
from petitions.services.privacy import keyring

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


def _state_name(state: enum.StrEnum) -> LazyString:
    """Name a state as organisers read it, in the language of whoever is shown the message."""
    return LazyString(_named_state, state)


def _named_state(state: enum.StrEnum) -> str:
    # petitions.i18n imports this module for the states, so its names are looked up on display.
    from petitions.i18n import STATE_NAMES

    return str(STATE_NAMES[state])


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


class EncryptedText(TypeDecorator):
    """Text encrypted at rest with the application's data key, bound to its purpose."""

    impl = sa.LargeBinary()
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: Any) -> bytes | None:
        return None if value is None else keyring().encrypt(self.purpose, value)

    def process_result_value(self, value: bytes | None, dialect: Any) -> str | None:
        return None if value is None else keyring().decrypt(self.purpose, value)


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


#: States in which a petition has a public page.
PUBLIC_STATES = frozenset({PetitionState.OPEN, PetitionState.CLOSED, PetitionState.DELIVERED})


class SignatureState(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    INVALIDATED = "invalidated"
    WITHDRAWN = "withdrawn"


#: The only state that counts towards a petition's total and goes into the bundle.
COUNTED_STATES = frozenset({SignatureState.CONFIRMED})
#: States an organiser may invalidate from.
INVALIDATABLE_STATES = frozenset({SignatureState.PENDING, SignatureState.CONFIRMED})


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


class Organiser(UserMixin, db.Model):
    __tablename__ = "organisers"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-cased; login compares lower-cased input.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    petitions: Mapped[list[Petition]] = relationship(back_populates="organiser")

    def get_id(self) -> str:
        """Identify the session by account and password: a new password ends old sessions."""
        return f"{self.id}:{self.session_stamp}"

    @property
    def session_stamp(self) -> str:
        return hashlib.sha256(self.password_hash.encode("utf-8")).hexdigest()[:16]


class Petition(db.Model):
    __tablename__ = "petitions"
    __table_args__ = (
        sa.CheckConstraint("closes_at > opens_at", name="window_order"),
        sa.CheckConstraint("goal IS NULL OR goal > 0", name="goal_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.String(500))
    #: Markdown as the organiser wrote it; sanitised every time it is rendered.
    body: Mapped[str] = mapped_column(sa.Text)
    #: Whom the petition is addressed to, as it appears on the cover letter.
    recipient: Mapped[str] = mapped_column(sa.String(200))
    language: Mapped[str] = mapped_column(sa.String(2))
    goal: Mapped[int | None]
    #: IANA zone in which deadlines are shown and days are counted.
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Asia/Almaty")
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[PetitionState] = mapped_column(
        _enum(PetitionState, "petition_state"), default=PetitionState.DRAFT, index=True
    )
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

    organiser: Mapped[Organiser] = relationship(back_populates="petitions")

    def __init__(self, **fields: Any) -> None:
        fields.setdefault("state", PetitionState.DRAFT)
        super().__init__(**fields)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def accepts_signatures_at(self, now: datetime) -> bool:
        """Tell whether a signature made at `now` falls inside the collection window."""
        return self.state == PetitionState.OPEN and self.opens_at <= now < self.closes_at

    def collection_ended_at(self, now: datetime) -> datetime | None:
        """Return when collection ended (early close or deadline), or None while it goes on."""
        if self.state in (PetitionState.CLOSED, PetitionState.DELIVERED):
            return min(self.closed_at or self.closes_at, self.closes_at)
        if self.state == PetitionState.OPEN and now >= self.closes_at:
            return self.closes_at
        return None

    def effective_state(self, now: datetime) -> PetitionState:
        """Return the state as signers see it: an open petition past its deadline is closed."""
        if self.state == PetitionState.OPEN and now >= self.closes_at:
            return PetitionState.CLOSED
        return self.state

    def publish(self, now: datetime) -> None:
        """Open a draft for signing within its window."""
        if self.state != PetitionState.DRAFT:
            raise InvalidTransition(
                f"cannot publish a petition that is {self.state}",
                _l(
                    "This petition cannot be published: its state is “%(state)s”.",
                    state=_state_name(self.state),
                ),
            )
        if self.closes_at <= max(now, self.opens_at):
            raise InvalidTransition(
                "the window must close after it opens and after now",
                _l("The closing time must be after the opening time and in the future."),
            )
        self.state = PetitionState.OPEN
        self.published_at = now

    def close(self, now: datetime, reason: str | None = None) -> None:
        """Record the end of collection, early (with a reason) or at the deadline."""
        if self.state != PetitionState.OPEN:
            raise InvalidTransition(
                f"cannot close a petition that is {self.state}",
                _l(
                    "This petition cannot be closed: its state is “%(state)s”.",
                    state=_state_name(self.state),
                ),
            )
        self.state = PetitionState.CLOSED
        self.closed_at = min(now, self.closes_at)
        self.close_reason = reason

    def mark_delivered(self, now: datetime) -> None:
        """Record that the signatures reached the recipient."""
        if self.state != PetitionState.CLOSED:
            raise InvalidTransition(
                f"cannot deliver a petition that is {self.state}",
                _l(
                    "This petition cannot be recorded as delivered: its state is “%(state)s”.",
                    state=_state_name(self.state),
                ),
            )
        self.state = PetitionState.DELIVERED
        self.delivered_at = now


class Signature(db.Model):
    __tablename__ = "signatures"
    __table_args__ = (
        # One person per petition; the database settles concurrent duplicates.
        sa.UniqueConstraint("petition_id", "email_hash"),
        sa.Index("ix_signatures_petition_state", "petition_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id"))
    name: Mapped[str] = mapped_column(EncryptedText("signature.name"))
    #: Null once the retention purge has removed it.
    email: Mapped[str | None] = mapped_column(EncryptedText("signature.email"))
    #: HMAC of the canonical email under HASH_KEY: equal for the same person, useless without it.
    #: Null after the purge: NULLs never clash in the UNIQUE constraint, on either database.
    email_hash: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32))
    #: HMAC of the email's domain: lets moderators group and search by domain without storing it.
    email_domain_hash: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32), index=True)
    #: ISO 3166-1 alpha-2, upper case.
    country: Mapped[str] = mapped_column(sa.String(2))
    city: Mapped[str] = mapped_column(EncryptedText("signature.city"))
    comment: Mapped[str | None] = mapped_column(EncryptedText("signature.comment"))
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

    petition: Mapped[Petition] = relationship()

    def __init__(self, **fields: Any) -> None:
        fields.setdefault("state", SignatureState.PENDING)
        super().__init__(**fields)

    def confirm(self, now: datetime) -> None:
        """Count a pending signature."""
        if self.state != SignatureState.PENDING:
            raise InvalidTransition(
                f"cannot confirm a signature that is {self.state}",
                _l(
                    "This signature cannot be confirmed: its state is “%(state)s”.",
                    state=_state_name(self.state),
                ),
            )
        self.state = SignatureState.CONFIRMED
        self.confirmed_at = now

    def invalidate(self, now: datetime, reason: str, action_id: str | None = None) -> None:
        """Stop counting a signature judged fraudulent."""
        if self.state not in INVALIDATABLE_STATES:
            raise InvalidTransition(
                f"cannot invalidate a signature that is {self.state}",
                _l(
                    "This signature cannot be invalidated: its state is “%(state)s”.",
                    state=_state_name(self.state),
                ),
            )
        self.state = SignatureState.INVALIDATED
        self.invalidated_at = now
        self.invalidation_reason = reason
        self.invalidation_id = action_id

    def restore(self) -> None:
        """Undo an invalidation, back to confirmed or pending as before."""
        if self.state != SignatureState.INVALIDATED:
            raise InvalidTransition(
                f"cannot restore a signature that is {self.state}",
                _l(
                    "This signature cannot be restored: its state is “%(state)s”.",
                    state=_state_name(self.state),
                ),
            )
        self.state = SignatureState.CONFIRMED if self.confirmed_at else SignatureState.PENDING
        self.invalidated_at = None
        self.invalidation_reason = None
        self.invalidation_id = None

    def withdraw(self, now: datetime) -> None:
        """Remove one's own signature at the signer's request."""
        if self.state not in (SignatureState.PENDING, SignatureState.CONFIRMED):
            raise InvalidTransition(
                f"cannot withdraw a signature that is {self.state}",
                _l(
                    "This signature cannot be withdrawn: its state is “%(state)s”.",
                    state=_state_name(self.state),
                ),
            )
        self.state = SignatureState.WITHDRAWN
        self.withdrawn_at = now


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
    #: How: by hand, post, the e-Otinish portal, email...
    delivery_method: Mapped[str | None] = mapped_column(sa.String(200))
    #: The recipient's registration or tracking number.
    reference: Mapped[str | None] = mapped_column(sa.String(200))

    petition: Mapped[Petition] = relationship()

    def __init__(self, **fields: Any) -> None:
        fields.setdefault("status", ExportStatus.QUEUED)
        fields.setdefault("rows_done", 0)
        super().__init__(**fields)


class OutboxMessage(db.Model):
    """An email waiting to be sent, written in the same transaction as what caused it.

    Everything personal in it (address, subject, bodies with their links) is encrypted, and the
    bodies are erased once the message has gone.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (sa.Index("ix_outbox_messages_due", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: What the message is for ("confirm", "already_signed", ...), for logs and counts.
    kind: Mapped[str] = mapped_column(sa.String(40))
    recipient: Mapped[str] = mapped_column(EncryptedText("outbox.recipient"))
    subject: Mapped[str | None] = mapped_column(EncryptedText("outbox.subject"))
    body_text: Mapped[str | None] = mapped_column(EncryptedText("outbox.body_text"))
    body_html: Mapped[str | None] = mapped_column(EncryptedText("outbox.body_html"))
    #: What the worker needs to write the email when it sends it (JSON), if not written yet.
    payload: Mapped[str | None] = mapped_column(EncryptedText("outbox.payload"))
    #: The signature an email is about, so the retention purge can remove its address too.
    signature_id: Mapped[int | None] = mapped_column(BigId, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
