"""News: updates, the outcome, subscriptions and their broadcasts; the goal's stamp

Revision ID: 69744c56bda1
Revises: b7d2f4a9c6e1
Created: 2026-12-04 18:27:21.708667
"""

import sqlalchemy as sa
from alembic import op

revision = "69744c56bda1"
down_revision = "b7d2f4a9c6e1"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "petition_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "granted",
                "partly_granted",
                "refused",
                "no_answer",
                "other",
                name="outcome",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.Column("summary", sa.String(length=1000), nullable=False),
        sa.Column("full_text", sa.Text(), nullable=True),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_petition_outcomes_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["organisers.id"],
            name=op.f("fk_petition_outcomes_recorded_by_id_organisers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_petition_outcomes")),
        sa.UniqueConstraint("petition_id", name=op.f("uq_petition_outcomes_petition_id")),
    )
    op.create_table(
        "petition_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_by_id", sa.Integer(), nullable=True),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_petition_updates_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["posted_by_id"],
            ["organisers.id"],
            name=op.f("fk_petition_updates_posted_by_id_organisers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_petition_updates")),
    )
    with op.batch_alter_table("petition_updates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_petition_updates_petition_posted", ["petition_id", "posted_at"], unique=False
        )

    op.create_table(
        "news_broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=40), nullable=False),
        sa.Column("update_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["organisers.id"],
            name=op.f("fk_news_broadcasts_created_by_id_organisers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_news_broadcasts_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["update_id"],
            ["petition_updates.id"],
            name=op.f("fk_news_broadcasts_update_id_petition_updates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_broadcasts")),
        sa.UniqueConstraint("petition_id", "item", name="uq_news_broadcasts_item"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.String(length=22), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column(
            "signature_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("email", sa.LargeBinary(), nullable=False),
        sa.Column("locale", sa.String(length=2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_subscriptions_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signature_id"],
            ["signatures.id"],
            name=op.f("fk_subscriptions_signature_id_signatures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("public_id", name=op.f("uq_subscriptions_public_id")),
        sa.UniqueConstraint("signature_id", name=op.f("uq_subscriptions_signature_id")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriptions_petition", ["petition_id", "unsubscribed_at"], unique=False
        )

    # Plain ALTERs, not a batch copy: copying a table on SQLite would turn the CHECKs of its enum
    # columns into table constraints that older downgrades cannot drop. (So `broadcast_id` has no
    # reference, which SQLite could not add: like `signature_id`, it only names its row.)
    op.add_column("outbox_messages", sa.Column("broadcast_id", sa.Integer()))
    op.add_column(
        "outbox_messages",
        sa.Column(
            "subscription_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
    )
    op.add_column("outbox_messages", sa.Column("bounced_at", sa.DateTime(timezone=True)))
    op.create_index(
        "uq_outbox_messages_broadcast_subscription",
        "outbox_messages",
        ["broadcast_id", "subscription_id"],
        unique=True,
    )
    op.add_column("petitions", sa.Column("goal_reached_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("petitions", "goal_reached_at")
    op.drop_index("uq_outbox_messages_broadcast_subscription", table_name="outbox_messages")
    op.drop_column("outbox_messages", "bounced_at")
    op.drop_column("outbox_messages", "subscription_id")
    op.drop_column("outbox_messages", "broadcast_id")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_petition")

    op.drop_table("subscriptions")
    op.drop_table("news_broadcasts")
    with op.batch_alter_table("petition_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_petition_updates_petition_posted")

    op.drop_table("petition_updates")
    op.drop_table("petition_outcomes")
