"""Receipts: petitions' public ids, signatures' receipt leaves, every export's receipt tree

Revision ID: c41f7d2e8a15
Revises: 5e4a1c2b9d70
Created: 2026-12-03 18:30:00.000000
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "c41f7d2e8a15"
down_revision = "5e4a1c2b9d70"
branch_labels = None
depends_on = None

petitions = sa.table("petitions", sa.column("id", sa.Integer()), sa.column("public_id"))


def _fill_public_ids() -> None:
    """Give every existing petition its own random public id (16 bytes, URL-safe)."""
    connection = op.get_bind()
    fill = (
        petitions.update()
        .where(petitions.c.id == sa.bindparam("row"))
        .values(public_id=sa.bindparam("drawn"))
    )
    ids = connection.execute(sa.select(petitions.c.id)).scalars().all()
    if ids:
        connection.execute(fill, [{"row": row, "drawn": secrets.token_urlsafe(16)} for row in ids])


def upgrade() -> None:
    # Plain ALTER TABLE, no batch: on SQLite a batch copies the table, which the signatures and
    # deliveries pointing at petitions forbid; the column stays nullable in the schema.
    op.add_column("petitions", sa.Column("public_id", sa.String(length=22), nullable=True))
    _fill_public_ids()
    op.create_index("ix_petitions_public_id", "petitions", ["public_id"], unique=True)
    # Signatures made before receipts keep a null leaf: their codes were never sent to anyone,
    # and the exports compute their leaves all the same.
    op.add_column("signatures", sa.Column("receipt_leaf", sa.LargeBinary(length=32), nullable=True))
    op.create_index("ix_signatures_receipt_leaf", "signatures", ["petition_id", "receipt_leaf"])
    op.add_column("deliveries", sa.Column("tree_size", sa.Integer(), nullable=True))
    op.add_column("deliveries", sa.Column("tree_root", sa.String(length=64), nullable=True))
    op.create_table(
        "receipt_chunks",
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "first_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("delivery_id", "level", "number"),
    )
    op.create_index(
        "ix_receipt_chunks_first_row",
        "receipt_chunks",
        ["delivery_id", "level", "first_at", "first_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_receipt_chunks_first_row", table_name="receipt_chunks")
    op.drop_table("receipt_chunks")
    op.drop_column("deliveries", "tree_root")
    op.drop_column("deliveries", "tree_size")
    op.drop_index("ix_signatures_receipt_leaf", table_name="signatures")
    op.drop_column("signatures", "receipt_leaf")
    op.drop_index("ix_petitions_public_id", table_name="petitions")
    op.drop_column("petitions", "public_id")
