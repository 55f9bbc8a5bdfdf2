"""Moderation: email domain hash and invalidation action id

Revision ID: 49814a18c7eb
Revises: a5a1707e1d42
Created: 2026-11-22 06:59:24.055696
"""

import sqlalchemy as sa
from alembic import op


revision = "49814a18c7eb"
down_revision = "a5a1707e1d42"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_domain_hash", sa.LargeBinary(length=32), nullable=True)
        )
        batch_op.add_column(sa.Column("invalidation_id", sa.String(length=32), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_signatures_email_domain_hash"), ["email_domain_hash"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_signatures_invalidation_id"), ["invalidation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signatures_invalidation_id"))
        batch_op.drop_index(batch_op.f("ix_signatures_email_domain_hash"))
        batch_op.drop_column("invalidation_id")
        batch_op.drop_column("email_domain_hash")
