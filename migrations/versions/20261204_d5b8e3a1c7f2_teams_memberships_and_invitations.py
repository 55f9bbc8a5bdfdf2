"""Teams: every petition's members with their roles, and emailed invitations to join

Revision ID: d5b8e3a1c7f2
Revises: 9f3b6d2a7c51
Created: 2026-12-04 01:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "d5b8e3a1c7f2"
down_revision = "9f3b6d2a7c51"
branch_labels = None
depends_on = None

ROLES = ("owner", "editor", "moderator", "viewer")


def _role(name: str) -> sa.Enum:
    return sa.Enum(*ROLES, name=name, native_enum=False, create_constraint=True, length=16)


def _memberships() -> None:
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("role", _role("member_role"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organisers.id"],
            name=op.f("fk_memberships_organiser_id_organisers"),
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_memberships_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint(
            "petition_id", "organiser_id", name=op.f("uq_memberships_petition_id_organiser_id")
        ),
    )
    op.create_index(op.f("ix_memberships_organiser_id"), "memberships", ["organiser_id"])
    # At most one owner per petition, on both databases (each has partial indexes).
    op.create_index(
        "uq_memberships_one_owner",
        "memberships",
        ["petition_id"],
        unique=True,
        sqlite_where=sa.text("role = 'owner'"),
        postgresql_where=sa.text("role = 'owner'"),
    )


def _invitations() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", _role("invitation_role"), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role <> 'owner'", name=op.f("ck_invitations_invitation_not_owner")),
        sa.ForeignKeyConstraint(
            ["accepted_by_id"],
            ["organisers.id"],
            name=op.f("fk_invitations_accepted_by_id_organisers"),
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["organisers.id"],
            name=op.f("fk_invitations_invited_by_id_organisers"),
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_invitations_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_index(op.f("ix_invitations_petition_id"), "invitations", ["petition_id"])


def _owners_of_existing_petitions() -> None:
    """Make every petition's organiser its owner, from the day the petition was created."""
    petitions = sa.table(
        "petitions", sa.column("id"), sa.column("organiser_id"), sa.column("created_at")
    )
    memberships = sa.table(
        "memberships",
        sa.column("petition_id"),
        sa.column("organiser_id"),
        sa.column("role"),
        sa.column("created_at"),
    )
    op.execute(
        memberships.insert().from_select(
            ["petition_id", "organiser_id", "role", "created_at"],
            sa.select(
                petitions.c.id,
                petitions.c.organiser_id,
                sa.literal("owner", sa.String(16)),
                petitions.c.created_at,
            ),
        )
    )


def upgrade() -> None:
    _memberships()
    _invitations()
    _owners_of_existing_petitions()


def downgrade() -> None:
    # Only the owners survive a downgrade, as each petition's organiser (which they still are).
    op.drop_index(op.f("ix_invitations_petition_id"), table_name="invitations")
    op.drop_table("invitations")
    op.drop_index("uq_memberships_one_owner", table_name="memberships")
    op.drop_index(op.f("ix_memberships_organiser_id"), table_name="memberships")
    op.drop_table("memberships")
