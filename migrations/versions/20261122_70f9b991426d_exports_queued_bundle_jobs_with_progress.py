"""Exports: queued bundle jobs with progress

Revision ID: 70f9b991426d
Revises: 49814a18c7eb
Created: 2026-11-22 07:13:05.339689
"""

import sqlalchemy as sa
from alembic import op


revision = "70f9b991426d"
down_revision = "49814a18c7eb"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sa.Enum(
                    "queued",
                    "running",
                    "done",
                    "failed",
                    name="export_status",
                    native_enum=False,
                    create_constraint=True,
                    length=16,
                ),
                nullable=False,
                # Deliveries recorded before this revision were finished exports.
                server_default="done",
            )
        )
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("rows_done", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("rows_total", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("error", sa.String(length=500), nullable=True))
        batch_op.alter_column(
            "bundle_filename", existing_type=sa.VARCHAR(length=200), nullable=True
        )
        batch_op.alter_column("bundle_sha256", existing_type=sa.VARCHAR(length=64), nullable=True)
        batch_op.alter_column("signature_count", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f("ix_deliveries_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        # The status column's CHECK constraint must go first, or the rebuilt table refers to it.
        batch_op.drop_constraint(batch_op.f("ck_deliveries_export_status"), type_="check")
        batch_op.drop_index(batch_op.f("ix_deliveries_status"))
        batch_op.alter_column("signature_count", existing_type=sa.INTEGER(), nullable=False)
        batch_op.alter_column("bundle_sha256", existing_type=sa.VARCHAR(length=64), nullable=False)
        batch_op.alter_column(
            "bundle_filename", existing_type=sa.VARCHAR(length=200), nullable=False
        )
        batch_op.drop_column("error")
        batch_op.drop_column("rows_total")
        batch_op.drop_column("rows_done")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("status")
