"""Signed, expiring links that name one record and die when the record's stamp changes.

The token carries a record id and a stamp (a value stored with the record, or derived from it);
it is valid while it is unexpired, untampered, and the record still has that stamp. Changing
the stamp (a new link, a new password) voids every older token at once, without a table.
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


def issue(salt: str, record_id: int, stamp: str) -> str:
    """Make a token for one record and its current stamp."""
    return _serializer(salt).dumps([record_id, stamp])


def redeem(
    salt: str,
    token: str,
    max_age: timedelta,
    model: type[Record],
    stamp_of: Callable[[Record], str | None],
) -> Record | None:
    """Return the record a valid token names, or None if it is expired, altered or outdated."""
    try:
        record_id, stamp = _serializer(salt).loads(token, max_age=int(max_age.total_seconds()))
    except (BadSignature, ValueError, TypeError):  # SignatureExpired is a BadSignature
        return None
    if not isinstance(record_id, int) or not stamp:
        return None
    record = db.session.get(model, record_id)
    if record is None or stamp_of(record) != stamp:
        return None
    return record
