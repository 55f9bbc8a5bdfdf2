"""Exports: a running job's sign of life in heartbeat_at; finished_at only when it has finished

Revision ID: 767c4615f10c
Revises: 3c7e2a9f5b10
Created: 2026-12-03 08:55:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = "767c4615f10c"
down_revision = "3c7e2a9f5b10"
branch_labels = None
depends_on = None

deliveries = sa.table(
    "deliveries",
    sa.column("status", sa.String()),
    sa.column("finished_at", sa.DateTime(timezone=True)),
    sa.column("heartbeat_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    # A job running now wrote its last sign of life into finished_at; it has not finished.
    op.execute(
        deliveries.update()
        .where(deliveries.c.status == "running")
        .values(heartbeat_at=deliveries.c.finished_at, finished_at=None)
    )


def downgrade() -> None:
    op.execute(
        deliveries.update()
        .where(deliveries.c.status == "running")
        .values(finished_at=deliveries.c.heartbeat_at)
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
