"""Retention: purged signatures keep no email, and emails know their signature

Revision ID: 3c7e2a9f5b10
Revises: d92e1737514d
Created: 2026-12-01 07:30:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = "3c7e2a9f5b10"
down_revision = "d92e1737514d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("petitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.alter_column("email", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.alter_column("email_hash", existing_type=sa.LargeBinary(length=32), nullable=True)
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "signature_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_messages_signature_id"), ["signature_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_signature_id"))
        batch_op.drop_column("signature_id")
    # Purged signatures have no email left to put back: refuse rather than lose their count.
    purged = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM signatures WHERE email_hash IS NULL")
    )
    if purged:
        raise RuntimeError(f"{purged} purged signature(s) have no email; cannot downgrade")
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.alter_column("email_hash", existing_type=sa.LargeBinary(length=32), nullable=False)
        batch_op.alter_column("email", existing_type=sa.LargeBinary(), nullable=False)
    with op.batch_alter_table("petitions", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
