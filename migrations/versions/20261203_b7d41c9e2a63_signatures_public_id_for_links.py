"""Signatures: a random public id for the emailed links, instead of the row id

Revision ID: b7d41c9e2a63
Revises: 767c4615f10c
Created: 2026-12-03 10:10:00.000000
"""

import secrets

import sqlalchemy as sa
from alembic import op


revision = "b7d41c9e2a63"
down_revision = "767c4615f10c"
branch_labels = None
depends_on = None

#: Rows given their public id per statement: a petition of millions is filled in steps.
BATCH = 1000

signatures = sa.table("signatures", sa.column("id", sa.BigInteger()), sa.column("public_id"))


def _fill_public_ids() -> None:
    """Give every existing signature its own random public id (16 bytes, URL-safe)."""
    connection = op.get_bind()
    fill = (
        signatures.update()
        .where(signatures.c.id == sa.bindparam("row"))
        .values(public_id=sa.bindparam("drawn"))
    )
    ids = connection.execute(sa.select(signatures.c.id).order_by(signatures.c.id)).scalars().all()
    for start in range(0, len(ids), BATCH):
        rows = [{"row": row, "drawn": secrets.token_urlsafe(16)} for row in ids[start : start + BATCH]]
        connection.execute(fill, rows)


def upgrade() -> None:
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_id", sa.String(length=22), nullable=True))
    _fill_public_ids()
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.alter_column("public_id", existing_type=sa.String(length=22), nullable=False)
        batch_op.create_index("ix_signatures_public_id", ["public_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.drop_index("ix_signatures_public_id")
        batch_op.drop_column("public_id")
