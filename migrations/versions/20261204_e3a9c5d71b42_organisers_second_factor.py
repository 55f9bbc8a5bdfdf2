"""Organisers: a second factor (TOTP) and single-use recovery codes

Revision ID: e3a9c5d71b42
Revises: d5b8e3a1c7f2
Created: 2026-12-04 01:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "e3a9c5d71b42"
down_revision = "d5b8e3a1c7f2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Two new tables rather than columns on organisers: an account without a second factor has
    # no row, and nothing about existing accounts changes.
    op.create_table(
        "totp_factors",
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organisers.id"],
            name=op.f("fk_totp_factors_organiser_id_organisers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organiser_id", name=op.f("pk_totp_factors")),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organisers.id"],
            name=op.f("fk_recovery_codes_organiser_id_organisers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint(
            "organiser_id", "code_hash", name=op.f("uq_recovery_codes_organiser_id_code_hash")
        ),
    )
    op.create_index(
        op.f("ix_recovery_codes_organiser_id"), "recovery_codes", ["organiser_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_recovery_codes_organiser_id"), table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_table("totp_factors")
