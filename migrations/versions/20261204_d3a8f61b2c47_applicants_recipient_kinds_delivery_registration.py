"""Applicants of appeals, recipients' kinds, and deliveries' channel and registration

Revision ID: d3a8f61b2c47
Revises: e3a9c5d71b42
Created: 2026-12-04 01:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "d3a8f61b2c47"
down_revision = "e3a9c5d71b42"
branch_labels = None
depends_on = None

RECIPIENT_KINDS = ("president", "mazhilis", "senate", "ministry", "akimat", "embassy", "other")
CHANNELS = ("post", "in_person", "email", "eotinish", "other")


def _choice(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _add_choice(table: str, column: str, name: str, values: tuple[str, ...], default: str | None):
    """Add a short string column with its CHECK constraint, on both databases.

    No batch: on SQLite a batch copies the table, which the tables pointing at petitions and
    deliveries forbid. Alembic skips a CHECK in a plain ALTER on SQLite, which accepts one in
    the column's own definition: the statement is written out for it (from constants only).
    """
    if op.get_bind().dialect.name != "sqlite":
        op.add_column(
            table,
            sa.Column(
                column, _choice(name, values), nullable=default is None, server_default=default
            ),
        )
        return
    allowed = ", ".join(f"'{value}'" for value in values)
    required = f" DEFAULT '{default}' NOT NULL" if default is not None else ""
    op.execute(
        f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(16){required} "
        f"CONSTRAINT ck_{table}_{name} CHECK ({column} IN ({allowed}))"
    )


def upgrade() -> None:
    # Existing petitions get "other": their letters keep naming the recipient as typed.
    _add_choice("petitions", "recipient_kind", "recipient_kind", RECIPIENT_KINDS, "other")
    _add_choice("deliveries", "channel", "delivery_channel", CHANNELS, None)
    op.add_column(
        "deliveries", sa.Column("registration_number", sa.String(length=100), nullable=True)
    )
    op.add_column("deliveries", sa.Column("registered_on", sa.Date(), nullable=True))
    op.create_table(
        "applicants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            _choice("applicant_kind", ("person", "organisation")),
            nullable=False,
        ),
        sa.Column("name", sa.LargeBinary(), nullable=False),
        sa.Column("surname", sa.LargeBinary(), nullable=True),
        sa.Column("patronymic", sa.LargeBinary(), nullable=True),
        sa.Column("signatory", sa.LargeBinary(), nullable=True),
        sa.Column("address", sa.LargeBinary(), nullable=False),
        sa.Column("id_number", sa.LargeBinary(), nullable=True),
        sa.Column("email", sa.LargeBinary(), nullable=False),
        sa.Column("phone", sa.LargeBinary(), nullable=True),
        sa.Column("show_address", sa.Boolean(), nullable=False),
        sa.Column("demonstration", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["petition_id"], ["petitions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("petition_id"),
    )


def downgrade() -> None:
    op.drop_table("applicants")
    op.drop_column("deliveries", "registered_on")
    op.drop_column("deliveries", "registration_number")
    op.drop_column("deliveries", "channel")
    op.drop_column("petitions", "recipient_kind")
