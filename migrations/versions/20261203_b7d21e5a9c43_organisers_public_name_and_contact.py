"""Organisers: the public name and contact that signers see before signing

Revision ID: b7d21e5a9c43
Revises: b7d41c9e2a63
Created: 2026-12-03 10:05:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = "b7d21e5a9c43"
down_revision = "b7d41c9e2a63"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not a batch: SQLite (3.35 and later) adds and drops these columns in place,
# where a batch would copy the table and drop the old one, which the tables pointing at
# organisers forbid while they hold rows.


def upgrade() -> None:
    # Both empty for existing accounts: nobody is named in public without choosing to be.
    op.add_column("organisers", sa.Column("public_name", sa.String(length=120), nullable=True))
    op.add_column("organisers", sa.Column("public_contact", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("organisers", "public_contact")
    op.drop_column("organisers", "public_name")
