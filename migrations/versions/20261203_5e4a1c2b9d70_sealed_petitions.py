"""Sealed petitions: the public key, sealed signatures, outbox envelopes under short-lived keys

Revision ID: 5e4a1c2b9d70
Revises: b7d21e5a9c43
Created: 2026-12-03 12:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "5e4a1c2b9d70"
down_revision = "b7d21e5a9c43"
branch_labels = None
depends_on = None


# The new columns are plain ALTER TABLE ADD COLUMN; making name, city and recipient nullable is a
# batch on SQLite (a copy of the table), which works because no table points at signatures or at
# the outbox.


def upgrade() -> None:
    op.add_column("petitions", sa.Column("sealing_key", sa.String(length=80), nullable=True))
    op.add_column("signatures", sa.Column("sealed", sa.LargeBinary(), nullable=True))
    op.add_column("outbox_messages", sa.Column("envelope", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("signatures") as batch:
        batch.alter_column("name", existing_type=sa.LargeBinary(), nullable=True)
        batch.alter_column("city", existing_type=sa.LargeBinary(), nullable=True)
    with op.batch_alter_table("outbox_messages") as batch:
        batch.alter_column("recipient", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    # A sealed signature has no name or city the server could put back: the downgrade refuses
    # while any exists rather than invent them.
    connection = op.get_bind()
    sealed = connection.execute(
        sa.text("SELECT COUNT(*) FROM signatures WHERE sealed IS NOT NULL")
    ).scalar_one()
    if sealed:
        raise RuntimeError(f"{sealed} sealed signatures exist; they cannot be unsealed here")
    connection.execute(sa.text("DELETE FROM outbox_messages WHERE envelope IS NOT NULL"))
    with op.batch_alter_table("outbox_messages") as batch:
        batch.alter_column("recipient", existing_type=sa.LargeBinary(), nullable=False)
    with op.batch_alter_table("signatures") as batch:
        batch.alter_column("city", existing_type=sa.LargeBinary(), nullable=False)
        batch.alter_column("name", existing_type=sa.LargeBinary(), nullable=False)
    op.drop_column("outbox_messages", "envelope")
    op.drop_column("signatures", "sealed")
    op.drop_column("petitions", "sealing_key")
