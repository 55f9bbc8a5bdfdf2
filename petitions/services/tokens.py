"""Signed, expiring links that name one record and die when the record's stamp changes.

The token carries a key naming the record (a signature's random public id, an organiser's row
id) and a stamp (a value stored with the record, or derived from it); it is valid while it is
unexpired, untampered, and the record still has that stamp. Changing the stamp (a new link, a
new password) voids every older token at once, without a table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from petitions.extensions import db

Record = TypeVar("Record")


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


#: The largest row id any of our databases stores (a signed 64-bit integer).
MAX_ROW_ID = 2**63 - 1


def issue(salt: str, key: int | str, stamp: str) -> str:
    """Make a token for one record's key and its current stamp."""
    return _serializer(salt).dumps([key, stamp])


def by_row_id(model: type[Record]) -> Callable[[object], Record | None]:
    """Find a record by a row id taken from a token, once the id is known to be one."""

    def find(key: object) -> Record | None:
        # bool is an int to Python, and an id past 64 bits is an overflow to PostgreSQL.
        if type(key) is not int or not 0 < key <= MAX_ROW_ID:
            return None
        return db.session.get(model, key)

    return find


def redeem(
    salt: str,
    token: str,
    max_age: timedelta,
    find: Callable[[object], Record | None],
    stamp_of: Callable[[Record], str | None],
) -> Record | None:
    """Return the record a valid token names, or None if it is expired, altered or outdated."""
    try:
        key, stamp = _serializer(salt).loads(token, max_age=int(max_age.total_seconds()))
    except (BadSignature, ValueError, TypeError):  # SignatureExpired is a BadSignature
        return None
    if not isinstance(stamp, str) or not stamp:
        return None
    record = find(key)
    if record is None or stamp_of(record) != stamp:
        return None
    return record
