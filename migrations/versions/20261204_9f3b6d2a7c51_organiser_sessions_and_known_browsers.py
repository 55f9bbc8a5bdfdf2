"""Organisers' sessions kept on the server, and the browsers each organiser is known by

Revision ID: 9f3b6d2a7c51
Revises: c41f7d2e8a15
Created: 2026-12-04 01:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "9f3b6d2a7c51"
down_revision = "c41f7d2e8a15"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Sessions made before this migration lived in cookies alone: their ids ("id:stamp") name no
    # row here, so every organiser signs in once more after it.
    op.create_table(
        "organiser_sessions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("browser", sa.String(length=32), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "end_reason",
            sa.Enum(
                "signed-out",
                "ended",
                "password",
                "idle",
                "expired",
                name="session_end",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("factor_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organisers.id"],
            name=op.f("fk_organiser_sessions_organiser_id_organisers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organiser_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_organiser_sessions_token_hash")),
    )
    op.create_index(
        op.f("ix_organiser_sessions_organiser_id"), "organiser_sessions", ["organiser_id"]
    )
    op.create_table(
        "organiser_browsers",
        sa.Column("id", BigId, nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organisers.id"],
            name=op.f("fk_organiser_browsers_organiser_id_organisers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organiser_browsers")),
        sa.UniqueConstraint(
            "organiser_id",
            "token_hash",
            name=op.f("uq_organiser_browsers_organiser_id_token_hash"),
        ),
    )


def downgrade() -> None:
    op.drop_table("organiser_browsers")
    op.drop_index(op.f("ix_organiser_sessions_organiser_id"), table_name="organiser_sessions")
    op.drop_table("organiser_sessions")
