"""Outbox: write emails when sending them

Revision ID: d92e1737514d
Revises: 70f9b991426d
Created: 2026-11-22 08:12:35.157048
"""

import sqlalchemy as sa
from alembic import op


revision = "d92e1737514d"
down_revision = "70f9b991426d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("payload")
