"""What happened next: the updates organisers post on a petition, and the recipient's answer.

Each change writes the audit log in the same transaction. A text is checked here, whoever calls
(a page or a command): the problems found are raised together, each under the name of the field
it concerns, so that a form can show every one of them beside its field.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import LazyString, format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from petitions.extensions import db
from petitions.models import (
    ANSWERABLE_STATES,
    UPDATABLE_STATES,
    Organiser,
    Outcome,
    Petition,
    PetitionOutcome,
    PetitionUpdate,
)
from petitions.services import audit
from petitions.services.lifecycle import MAX_BODY_LENGTH

#: As long as the columns allow.
MAX_TITLE_LENGTH = 200
MAX_ANSWERED_BY_LENGTH = 200
MAX_SUMMARY_LENGTH = 1000
MAX_LINK_LENGTH = 500
LINK_SCHEMES = frozenset({"http", "https"})
#: Why a draft has no updates, and an open petition no answer yet.
NOT_PUBLISHED = _l("Updates are for the people who signed: publish the petition first.")
NOT_ENDED = _l(
    "The recipient's answer can be recorded once the petition is closed: until then signing "
    "goes on, and the answer would come before the last signature."
)


class NewsError(ValueError):
    """An update or an answer refused as a whole.

    `problems` names each field found wrong (None for the petition itself, such as its state)
    with what to do, in the reader's language; `str(error)` stays plain English for logs.
    """

    def __init__(self, problems: dict[str | None, str | LazyString]) -> None:
        super().__init__(
            "; ".join(f"{field or 'petition'}: {text}" for field, text in problems.items())
        )
        self.problems = problems


@dataclass(frozen=True)
class UpdateDraft:
    """An update as the organiser wrote it."""

    title: str
    #: Markdown, sanitised when it is shown.
    body: str


@dataclass(frozen=True)
class OutcomeDraft:
    """The recipient's answer as the organiser recorded it."""

    outcome: Outcome
    answered_on: date | None
    answered_by: str | None
    summary: str
    full_text: str | None
    link: str | None


# Updates ---------------------------------------------------------------------------------------


def may_post_update(petition: Petition, now: datetime) -> bool:
    """Say whether the petition is published, so that updates may be posted on it."""
    return petition.effective_state(now) in UPDATABLE_STATES


def _check_updatable(petition: Petition, now: datetime) -> None:
    if not may_post_update(petition, now):
        raise NewsError({None: NOT_PUBLISHED})


def _update_problems(draft: UpdateDraft) -> dict[str | None, str | LazyString]:
    problems: dict[str | None, str | LazyString] = {}
    if not draft.title:
        problems["title"] = _l("Give the update a title.")
    elif len(draft.title) > MAX_TITLE_LENGTH:
        problems["title"] = _l("Keep the title within %(num)s characters.", num=MAX_TITLE_LENGTH)
    if not draft.body:
        problems["body"] = _l("Write the text of the update.")
    elif len(draft.body) > MAX_BODY_LENGTH:
        problems["body"] = _l("Keep the text within %(num)s characters.", num=MAX_BODY_LENGTH)
    return problems


def _check_update(petition: Petition, draft: UpdateDraft, now: datetime) -> None:
    _check_updatable(petition, now)
    problems = _update_problems(draft)
    if problems:
        raise NewsError(problems)


def post_update(
    petition: Petition, draft: UpdateDraft, actor: Organiser, now: datetime
) -> PetitionUpdate:
    """Post an update on a published petition and log it."""
    _check_update(petition, draft, now)
    update = PetitionUpdate(
        petition=petition, title=draft.title, body=draft.body, posted_at=now, posted_by_id=actor.id
    )
    db.session.add(update)
    db.session.flush()
    audit.record("post_update", actor=actor, petition=petition, update=update.id, title=draft.title)
    return update


def update_of(petition: Petition, update_id: int) -> PetitionUpdate | None:
    """Return the petition's update with this id, unless it was removed or is another's."""
    return db.session.scalar(
        sa.select(PetitionUpdate).where(
            PetitionUpdate.id == update_id,
            PetitionUpdate.petition_id == petition.id,
            PetitionUpdate.removed_at.is_(None),
        )
    )


def shown_updates(petition: Petition) -> list[PetitionUpdate]:
    """Return the petition's updates that are not removed, newest first."""
    return list(
        db.session.scalars(
            sa.select(PetitionUpdate)
            .where(PetitionUpdate.petition_id == petition.id, PetitionUpdate.removed_at.is_(None))
            .order_by(PetitionUpdate.posted_at.desc(), PetitionUpdate.id.desc())
        )
    )


def edit_update(
    update: PetitionUpdate, draft: UpdateDraft, actor: Organiser, now: datetime
) -> list[str]:
    """Change an update's title or text, mark it edited and log it; return the fields changed."""
    _check_update(update.petition, draft, now)
    changed = [name for name in ("title", "body") if getattr(update, name) != getattr(draft, name)]
    if not changed:
        return []
    update.title, update.body, update.edited_at = draft.title, draft.body, now
    audit.record(
        "edit_update", actor=actor, petition=update.petition, update=update.id, fields=changed
    )
    return changed


def remove_update(update: PetitionUpdate, actor: Organiser, now: datetime) -> None:
    """Take an update off the public page and the JSON; the row stays for the log."""
    _check_updatable(update.petition, now)
    update.removed_at = now
    audit.record(
        "remove_update", actor=actor, petition=update.petition, update=update.id, title=update.title
    )


# The recipient's answer ------------------------------------------------------------------------


def may_record_outcome(petition: Petition, now: datetime) -> bool:
    """Say whether collection has ended, so that the recipient's answer may be recorded."""
    return petition.effective_state(now) in ANSWERABLE_STATES


def _link_is_web_address(link: str) -> bool:
    try:
        parts = urlsplit(link)
    except ValueError:
        return False
    return (
        parts.scheme.lower() in LINK_SCHEMES
        and bool(parts.hostname)
        and not any(character.isspace() or ord(character) < 32 for character in link)
    )


def _date_problem(petition: Petition, answered_on: date, now: datetime) -> LazyString | None:
    zone = petition.zone
    if answered_on > now.astimezone(zone).date():
        return _l("The answer cannot be dated in the future.")
    published = (petition.published_at or petition.opens_at).astimezone(zone).date()
    if answered_on < published:
        return LazyString(_before_publication, published)
    return None


def _before_publication(published: date) -> str:
    return _(
        "The answer cannot come before the petition was published (%(day)s).",
        day=format_date(published, "medium"),
    )


def _outcome_problems(
    petition: Petition, draft: OutcomeDraft, now: datetime
) -> dict[str | None, str | LazyString]:
    problems: dict[str | None, str | LazyString] = {}
    if draft.answered_on is None and draft.outcome != Outcome.NO_ANSWER:
        problems["answered_on"] = _l("Give the date of the answer.")
    elif draft.answered_on is not None and (
        wrong := _date_problem(petition, draft.answered_on, now)
    ):
        problems["answered_on"] = wrong
    if draft.answered_by and len(draft.answered_by) > MAX_ANSWERED_BY_LENGTH:
        problems["answered_by"] = _l(
            "Keep this within %(num)s characters.", num=MAX_ANSWERED_BY_LENGTH
        )
    if not draft.summary:
        problems["summary"] = _l("Summarise the answer in a few sentences.")
    elif len(draft.summary) > MAX_SUMMARY_LENGTH:
        problems["summary"] = _l(
            "Keep the summary within %(num)s characters.", num=MAX_SUMMARY_LENGTH
        )
    if draft.full_text and len(draft.full_text) > MAX_BODY_LENGTH:
        problems["full_text"] = _l("Keep the text within %(num)s characters.", num=MAX_BODY_LENGTH)
    if draft.link and (len(draft.link) > MAX_LINK_LENGTH or not _link_is_web_address(draft.link)):
        problems["link"] = _l("Give a web address that starts with https:// or http://.")
    return problems


def _check_outcome(petition: Petition, draft: OutcomeDraft, now: datetime) -> None:
    if not may_record_outcome(petition, now):
        raise NewsError({None: NOT_ENDED})
    problems = _outcome_problems(petition, draft, now)
    if problems:
        raise NewsError(problems)


def outcome_of(petition: Petition) -> PetitionOutcome | None:
    """Return the recipient's answer recorded for the petition, if any."""
    return db.session.scalar(
        sa.select(PetitionOutcome).where(PetitionOutcome.petition_id == petition.id)
    )


def record_outcome(
    petition: Petition, draft: OutcomeDraft, actor: Organiser, now: datetime
) -> list[str]:
    """Record the recipient's answer, or change the one recorded; log it; return what changed."""
    _check_outcome(petition, draft, now)
    outcome = outcome_of(petition)
    names = [field.name for field in fields(OutcomeDraft)]
    if outcome is None:
        outcome = PetitionOutcome(
            petition=petition, recorded_at=now, recorded_by_id=actor.id, **_values(draft)
        )
        db.session.add(outcome)
        audit.record("record_outcome", actor=actor, petition=petition, outcome=str(draft.outcome))
        return names
    changed = [name for name in names if getattr(outcome, name) != getattr(draft, name)]
    if changed:
        for name in changed:
            setattr(outcome, name, getattr(draft, name))
        outcome.edited_at = now
        audit.record(
            "edit_outcome",
            actor=actor,
            petition=petition,
            outcome=str(draft.outcome),
            fields=changed,
        )
    return changed


def _values(draft: OutcomeDraft) -> dict:
    return {field.name: getattr(draft, field.name) for field in fields(OutcomeDraft)}


# What the public page and the JSON show --------------------------------------------------------


@dataclass(frozen=True)
class PublicUpdate(UpdateDraft):
    """An update as signers see it: no author, nothing removed."""

    posted_at: datetime
    edited_at: datetime | None


@dataclass(frozen=True)
class PublicOutcome(OutcomeDraft):
    """The recipient's answer as signers see it."""

    recorded_at: datetime
    edited_at: datetime | None


def public_updates(petition_id: int) -> tuple[PublicUpdate, ...]:
    """Return a petition's updates that are shown, newest first."""
    columns = [getattr(PetitionUpdate, field.name) for field in fields(PublicUpdate)]
    rows = db.session.execute(
        sa.select(*columns)
        .where(PetitionUpdate.petition_id == petition_id, PetitionUpdate.removed_at.is_(None))
        .order_by(PetitionUpdate.posted_at.desc(), PetitionUpdate.id.desc())
    )
    return tuple(PublicUpdate(*row) for row in rows)


def public_outcome(petition_id: int) -> PublicOutcome | None:
    """Return a petition's recorded answer, or None."""
    columns = [getattr(PetitionOutcome, field.name) for field in fields(PublicOutcome)]
    row = db.session.execute(
        sa.select(*columns).where(PetitionOutcome.petition_id == petition_id)
    ).first()
    return None if row is None else PublicOutcome(*row)
