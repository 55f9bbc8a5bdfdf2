"""A petition's life: writing a draft, publishing it, closing it, and the end of its window."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from petitions.extensions import db
from petitions.models import (
    Applicant,
    ApplicantKind,
    InvalidTransition,
    Organiser,
    Petition,
    PetitionState,
    RecipientKind,
    Signature,
    check_window,
    utcnow,
)
from petitions.sealing import SealingError, SealingPublicKey
from petitions.services import audit, milestones

#: Fields that are the text signers agreed to; frozen once anyone has signed.
TEXT_FIELDS = ("title", "summary", "body", "recipient", "recipient_kind", "language")
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
#: The longest Markdown text a petition, or an update of it, may have.
MAX_BODY_LENGTH = 50_000
#: Kazakh and Russian letters in Latin, close to the official Kazakh Latin alphabet of 2021.
_TRANSLITERATION = str.maketrans(
    {
        "а": "a",
        "ә": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "ғ": "g",
        "д": "d",
        "е": "e",
        "ё": "e",
        "ж": "zh",
        "з": "z",
        "и": "i",
        "й": "i",
        "к": "k",
        "қ": "q",
        "л": "l",
        "м": "m",
        "н": "n",
        "ң": "n",
        "о": "o",
        "ө": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ұ": "u",
        "ү": "u",
        "ф": "f",
        "х": "kh",
        "һ": "h",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "shch",
        "ъ": "",
        "ы": "y",
        "і": "i",
        "ь": "",
        "э": "e",
        "ю": "yu",
        "я": "ya",
    }
)


class PetitionError(ValueError):
    """A change to a petition that the rules do not allow; the message says why."""


@dataclass(frozen=True)
class ApplicantDraft:
    """Who files the appeal, as the organiser enters it (checked by the form)."""

    kind: ApplicantKind
    #: A person's given name, or the organisation's name.
    name: str
    address: str
    email: str
    surname: str | None = None
    patronymic: str | None = None
    signatory: str | None = None
    #: IIN of a person, BIN of an organisation.
    id_number: str | None = None
    phone: str | None = None
    show_address: bool = False
    demonstration: bool = False

    def differs_from(self, applicant: Applicant | None) -> bool:
        if applicant is None:
            return True
        return any(getattr(applicant, f.name) != getattr(self, f.name) for f in fields(self))


@dataclass
class PetitionDraft:
    """What an organiser writes; times are aware UTC."""

    title: str
    slug: str
    summary: str
    body: str
    recipient: str
    language: str
    goal: int | None
    timezone: str
    opens_at: datetime
    closes_at: datetime
    recipient_kind: RecipientKind = RecipientKind.OTHER
    #: None: no applicant yet (a final bundle cannot be made until there is one).
    applicant: ApplicantDraft | None = None

    def petition_fields(self) -> dict:
        """Return the values stored in the petition's own columns."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "applicant"}


def slugify(title: str) -> str:
    """Make a URL slug from a title in any of our languages."""
    text = unicodedata.normalize("NFKC", title).lower().translate(_TRANSLITERATION)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60].strip("-") or "petition"


def unique_slug(wanted: str, petition_id: int | None = None) -> str:
    """Return `wanted`, or `wanted-2`, `wanted-3` ... whichever no other petition uses."""
    taken = set(
        db.session.scalars(
            sa.select(Petition.slug).where(
                Petition.slug.like(f"{wanted}%"), Petition.id != (petition_id or -1)
            )
        )
    )
    candidate, number = wanted, 1
    while candidate in taken:
        number += 1
        candidate = f"{wanted}-{number}"
    return candidate


def has_signatures(petition: Petition) -> bool:
    """Tell whether anyone has signed, in any state: their words must not change under them."""
    return db.session.scalar(sa.select(sa.exists().where(Signature.petition_id == petition.id)))


def create_draft(organiser: Organiser, draft: PetitionDraft) -> Petition:
    """Save a new draft under a free slug."""
    if not SLUG_PATTERN.match(draft.slug or ""):
        draft.slug = slugify(draft.title)
    draft.slug = unique_slug(draft.slug)
    _check_draft_window(draft)
    petition = Petition(organiser=organiser, state=PetitionState.DRAFT, **draft.petition_fields())
    _set_applicant(petition, draft.applicant)
    db.session.add(petition)
    db.session.flush()
    audit.record("create", actor=organiser, petition=petition, slug=petition.slug)
    return petition


def update_petition(petition: Petition, draft: PetitionDraft, actor: Organiser) -> list[str]:
    """Apply an edit within the rules; return the names of the fields that changed."""
    wanted = draft.petition_fields()
    changed = [name for name, value in wanted.items() if getattr(petition, name) != value]
    applicant_changed = (
        draft.applicant.differs_from(petition.applicant)
        if draft.applicant is not None
        else petition.applicant is not None
    )
    if applicant_changed:
        changed.append("applicant")
    if petition.state != PetitionState.DRAFT:
        _check_published_edit(petition, changed)
    _check_draft_window(draft)
    if "slug" in changed:
        if not SLUG_PATTERN.match(draft.slug):
            raise PetitionError(_l("The address may use only a-z, 0-9 and single hyphens."))
        wanted["slug"] = unique_slug(draft.slug, petition.id)
    for name in changed:
        if name != "applicant":
            setattr(petition, name, wanted[name])
    if applicant_changed:
        _set_applicant(petition, draft.applicant)
    if changed:
        db.session.flush()
        audit.record("edit", actor=actor, petition=petition, fields=changed)
    if "goal" in changed:
        milestones.note_goal(petition, utcnow())  # a goal lowered below the count is reached
    return changed


def _set_applicant(petition: Petition, draft: ApplicantDraft | None) -> None:
    """Give the petition its applicant as drafted, or remove it; the audit names no value."""
    if draft is None:
        petition.applicant = None
        return
    values = {f.name: getattr(draft, f.name) for f in fields(draft)}
    if petition.applicant is None:
        petition.applicant = Applicant(**values)
        return
    for name, value in values.items():
        setattr(petition.applicant, name, value)


def _check_draft_window(draft: PetitionDraft) -> None:
    """Refuse a window that ends before it begins, before the database's CHECK has to."""
    try:
        check_window(draft.opens_at, draft.closes_at)
    except InvalidTransition as error:
        raise PetitionError(error.user_message) from error


def _check_published_edit(petition: Petition, changed: list[str]) -> None:
    if petition.state != PetitionState.OPEN:
        if petition.state == PetitionState.DELIVERED and "applicant" in changed:
            raise PetitionError(
                _l("The applicant of a delivered petition cannot change: the bundle names them.")
            )
        # The applicant is not part of the text signers agreed to: a closed petition may get
        # one before its final bundle is made.
        if set(changed) - {"goal", "applicant"}:
            raise PetitionError(_l("Only the goal of a closed petition can change."))
        return
    if "slug" in changed:
        raise PetitionError(_l("The address cannot change once the petition is published."))
    if {"opens_at", "closes_at"} & set(changed):
        raise PetitionError(_l("The window cannot change once the petition is published."))
    if set(TEXT_FIELDS) & set(changed) and has_signatures(petition):
        raise PetitionError(
            _l("People have signed this text, so it is frozen: they agreed to these words.")
        )


def publish(petition: Petition, actor: Organiser, now: datetime) -> None:
    """Open a draft for signing after checking its window."""
    try:
        check_window(petition.opens_at, petition.closes_at, now)
        # A guarded UPDATE: of two concurrent publications, one opens it and one is refused.
        Petition.PUBLISH.run(db.session, petition, now)
    except InvalidTransition as error:
        raise PetitionError(error.user_message) from error
    audit.record("publish", actor=actor, petition=petition)
    db.session.flush()


def close_early(petition: Petition, actor: Organiser | None, now: datetime, reason: str) -> None:
    """Stop collection before the deadline, saying why."""
    try:
        Petition.CLOSE.run(db.session, petition, now, close_reason=reason or None)
    except InvalidTransition as error:
        raise PetitionError(error.user_message) from error
    audit.record("close", actor=actor, actor_label="cli", petition=petition, reason=reason)
    milestones.tell_team(petition.id, milestones.TeamNotice.PETITION_CLOSED)
    db.session.flush()


def close_expired(now: datetime) -> list[Petition]:
    """Record CLOSED for every open petition whose window has ended; signing already stopped."""
    closed = db.session.scalars(
        Petition.CLOSE.update(now, close_reason=None)
        .where(Petition.past_deadline_at(now))
        .returning(Petition.id)
    ).all()
    expired = list(
        db.session.scalars(
            sa.select(Petition)
            .where(Petition.id.in_(closed))
            .order_by(Petition.closes_at, Petition.id)
            .execution_options(populate_existing=True)
        )
    )
    for petition in expired:
        audit.record("close", petition=petition, reason="window ended")
        milestones.tell_team(petition.id, milestones.TeamNotice.PETITION_CLOSED)
    db.session.flush()
    return expired


#: The states a petition may be sealed in: before anyone can have signed it, or while open.
SEALABLE_STATES = frozenset({PetitionState.DRAFT, PetitionState.OPEN})


def seal(
    petition: Petition, key_text: str, actor: Organiser | None, actor_label: str = "cli"
) -> SealingPublicKey:
    """Give a petition its organiser's public key, before its first signature; flush.

    A key may be replaced (a wrong one pasted) until someone signs, never removed. On PostgreSQL
    the signatures table is held in SHARE mode for the instant of the change, so a signature being
    written at that moment either finishes first (and sealing is refused) or waits and finds the
    petition sealed; SQLite has one writer at a time anyway.
    """
    try:
        key = SealingPublicKey.parse(key_text)
    except SealingError as error:
        # The reason stays in the log's English; the organiser is told what to give instead.
        raise PetitionError(
            _l(
                "This is not a sealing public key: give the one line of sealing.pub, which "
                "begins with “seal-x25519:”."
            )
        ) from error
    if petition.state not in SEALABLE_STATES:
        raise PetitionError(_l("A closed petition cannot be sealed."))
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("LOCK TABLE signatures IN SHARE MODE"))
    nobody_signed = ~sa.exists().where(Signature.petition_id == petition.id)
    updated = db.session.execute(
        sa.update(Petition)
        .where(Petition.id == petition.id, nobody_signed)
        .values(sealing_key=key.line)
        .execution_options(synchronize_session=False)
    ).rowcount
    if updated != 1:
        raise PetitionError(
            _l(
                "People have signed already: a petition can be sealed only before its "
                "first signature."
            )
        )
    db.session.refresh(petition)
    audit.record(
        "seal", actor=actor, actor_label=actor_label, petition=petition, key=key.fingerprint
    )
    db.session.flush()
    return key
