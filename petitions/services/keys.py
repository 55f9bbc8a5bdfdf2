"""Re-encrypting stored personal data under the current key, after a new one is put first."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm.attributes import flag_modified

from petitions.crypto import EncryptedText
from petitions.extensions import db
from petitions.models import Applicant, OutboxMessage, Signature, TotpFactor

#: Every model with encrypted columns; a new one must be added here to take part in rotation.
ENCRYPTED_MODELS = (Signature, OutboxMessage, TotpFactor, Applicant)


def encrypted_columns(model: type[db.Model]) -> list[str]:
    """Name the columns of a model that are stored encrypted."""
    return [
        column.key for column in model.__table__.columns if isinstance(column.type, EncryptedText)
    ]


def reencrypt_batch(model: type[db.Model], after_id: int, size: int) -> tuple[int, int] | None:
    """Rewrite one batch under the current key; return (rows, last id), or None when done."""
    rows = db.session.scalars(
        sa.select(model).where(model.id > after_id).order_by(model.id).limit(size)
    ).all()
    columns = encrypted_columns(model)
    for row in rows:
        for name in columns:
            if getattr(row, name) is not None:
                flag_modified(row, name)
    db.session.flush()
    return (len(rows), rows[-1].id) if rows else None
