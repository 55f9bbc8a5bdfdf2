"""Moderation: searching signatures, invalidating them with a reason, and undoing it.

Invalidation is an UPDATE with the same filters the search used, so "every signature from this
address in this hour" is one statement however many rows it touches; every action records who,
what, why and how many in the audit log, and carries an id so that it can be undone as a whole.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from petitions.extensions import db
from petitions.models import (
    PUBLIC_ID_LENGTH,
    Organiser,
    Petition,
    Signature,
    SignatureState,
    utcnow,
)
from petitions.services import audit, milestones
from petitions.services.privacy import domain_hash
from petitions.services.tokens import MAX_ROW_ID

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


class NamesAreSealed(ValueError):
    """A name search of a sealed petition: the server holds no names to compare."""

    def __init__(self) -> None:
        super().__init__("this petition is sealed: its signers' names cannot be searched")


def search(petition: Petition, wanted: SignatureFilter, limit: int = 200) -> SearchResult:
    """Find signatures matching a filter, newest first; refuse a name search of a sealed one."""
    if wanted.name and petition.is_sealed:
        raise NamesAreSealed()
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
    actor: Organiser | None,
    reason: str,
    now: datetime,
    *,
    ids: list[int] | None = None,
    wanted: SignatureFilter | None = None,
    actor_label: str = "system",
) -> tuple[int, str]:
    """Invalidate chosen signatures, or all matching a filter; return (count, action id).

    Raises ScanLimitReached, changing nothing, when a filter by name has more candidates than
    the name search checks, and NamesAreSealed for a filter by name in a sealed petition.
    `actor_label` names an actor who is not an organiser (the command line: "cli").
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
        actor_label=actor_label,
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
    if count:
        milestones.note_goal(petition, utcnow())  # restored signatures count towards the goal
    return count


#: Ids one action may name: far above a day's moderation, and far below the bound parameters
#: that SQLite (32,766) and PostgreSQL (65,535) accept in one statement.
MAX_IDS = 10_000
#: The header that `bundles unseal --rows-out` writes first (delivery/sealed.py).
ROWS_ID_COLUMN = "signature_id"
_SEPARATORS = re.compile(r"[\s,;]+")
#: A signature's public id, as the sealed export and its rows CSV name it (models.new_public_id).
_PUBLIC_ID = re.compile(rf"[A-Za-z0-9_-]{{{PUBLIC_ID_LENGTH}}}")
#: A signature named by its row id (as the moderation page's boxes do) or by its public id.
SignatureKey = int | str


class IdListError(ValueError):
    """A list of signature ids refused as a whole.

    `str(error)` is plain English for the command line; `user_message` says the same to an
    organiser in their language.
    """

    def __init__(self, message: str, user_message: str | LazyString) -> None:
        super().__init__(message)
        self.user_message = user_message


def read_ids(data: bytes) -> list[SignatureKey]:
    """Read the signature ids in a file: the rows CSV of `bundles unseal`, or a list of ids."""
    try:
        if b"\x00" in data:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL")
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise IdListError(
            "not a text file: give the rows CSV of `bundles unseal --rows-out`, or one id per line",
            _l("This file is not text: give the rows CSV of “bundles unseal”, or a list of ids."),
        ) from None
    return parse_ids(text)


def parse_ids(text: str) -> list[SignatureKey]:
    """Read signature ids from text: the rows CSV, or ids separated by spaces, commas or lines.

    An id is a signature's public id (the rows CSV's signature_id, 22 characters) or its row id
    (digits, as the moderation page's boxes hold); no row id has 22 digits. In a list, blank
    lines and everything after a `#` are ignored. Each id is returned once, in the order given;
    any value that is not an id refuses the whole list, naming its line.
    """
    text = text.removeprefix("\ufeff")
    first = next((line for line in text.splitlines() if line.strip()), "")
    lines = _rows_csv_ids(text) if _is_rows_csv(first) else _listed_ids(text)
    ids = list(dict.fromkeys(_id_on(number, value) for number, value in lines))
    if not ids:
        raise IdListError("no signature ids given", _l("Give at least one signature id."))
    if len(ids) > MAX_IDS:
        raise IdListError(
            f"{len(ids)} ids: at most {MAX_IDS} at a time, split the list",
            _l("At most %(num)s ids at a time: split the list.", num=MAX_IDS),
        )
    return ids


def _is_rows_csv(first_line: str) -> bool:
    header = next(csv.reader([first_line]), [])
    return bool(header) and header[0].strip() == ROWS_ID_COLUMN


def _rows_csv_ids(text: str):
    """Yield (line number, id cell) of each row of the rows CSV; a quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""))
    column = next(reader).index(ROWS_ID_COLUMN)
    start = reader.line_num + 1
    for row in reader:
        if any(cell.strip() for cell in row):
            yield start, row[column] if column < len(row) else ""
        start = reader.line_num + 1


def _listed_ids(text: str):
    """Yield (line number, value) of each value in a list of ids."""
    for number, line in enumerate(text.splitlines(), start=1):
        for value in _SEPARATORS.split(line.split("#", 1)[0]):
            if value:
                yield number, value


def _id_on(number: int, value: str) -> SignatureKey:
    value = value.strip()
    # ASCII digits only ("²" is a digit to Python, but not to int()), and within a row id.
    if value.isascii() and value.isdigit() and len(value) <= 19 and 0 < int(value) <= MAX_ROW_ID:
        return int(value)
    if _PUBLIC_ID.fullmatch(value):
        return value
    if not value:
        raise IdListError(
            f"line {number}: no signature id", _l("Line %(line)s: no signature id.", line=number)
        )
    shown = value if len(value) <= 40 else value[:40] + "…"
    raise IdListError(
        f"line {number}: {shown!r} is not a signature id",
        _l("Line %(line)s: “%(value)s” is not a signature id.", line=number, value=shown),
    )


@dataclass(frozen=True)
class IdInvalidation:
    """What invalidating a list of ids did."""

    invalidated: int
    #: Named, but invalid already: not invalidated (or counted) a second time.
    already_invalid: int
    #: Named, but withdrawn by the signer: left as they are.
    withdrawn: int
    action_id: str


def invalidate_ids(
    petition: Petition,
    actor: Organiser | None,
    reason: str,
    now: datetime,
    keys: list[SignatureKey],
    *,
    actor_label: str = "system",
) -> IdInvalidation:
    """Invalidate signatures of this petition by id; refuse, changing nothing, if any is not."""
    if not reason.strip():
        raise IdListError("a reason is required", _l("Give a reason."))
    found = _signatures_named(petition, keys)
    foreign = [key for key in keys if key not in found]
    if foreign:
        listed = ", ".join(str(key) for key in foreign[:20])
        listed += ", …" if len(foreign) > 20 else ""
        raise IdListError(
            f"not signatures of this petition: {listed}; nothing was invalidated",
            _l(
                "Nothing was invalidated: these ids are not signatures of this petition: %(ids)s.",
                ids=listed,
            ),
        )
    # One row named twice (by its row id and its public id) is invalidated and counted once.
    chosen = dict(found[key] for key in keys)
    count, action_id = invalidate(
        petition, actor, reason, now, ids=list(chosen), actor_label=actor_label
    )
    before = list(chosen.values())
    return IdInvalidation(
        invalidated=count,
        already_invalid=before.count(SignatureState.INVALIDATED),
        withdrawn=before.count(SignatureState.WITHDRAWN),
        action_id=action_id,
    )


def _signatures_named(
    petition: Petition, keys: list[SignatureKey]
) -> dict[SignatureKey, tuple[int, SignatureState]]:
    """Map each key naming a signature of this petition to that row's (id, state)."""
    row_ids = [key for key in keys if isinstance(key, int)]
    public_ids = [key for key in keys if isinstance(key, str)]
    rows = db.session.execute(
        sa.select(Signature.id, Signature.public_id, Signature.state).where(
            Signature.petition_id == petition.id,
            sa.or_(Signature.id.in_(row_ids), Signature.public_id.in_(public_ids)),
        )
    ).all()
    found: dict[SignatureKey, tuple[int, SignatureState]] = {}
    for row_id, public_id, state in rows:
        found[row_id] = found[public_id] = (row_id, state)
    return found
