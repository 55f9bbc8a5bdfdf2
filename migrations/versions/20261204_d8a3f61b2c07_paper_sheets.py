"""Paper sheets: their passes, and the signatures that are lines of a sheet

Revision ID: d8a3f61b2c07
Revises: d3a8f61b2c47
Created: 2026-12-04 01:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "d8a3f61b2c07"
down_revision = "d3a8f61b2c47"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, no batch: on SQLite a batch copies the table, which the tables pointing
    # at signatures forbid; the one-entry-per-line rule is a unique index instead.
    op.add_column("signatures", sa.Column("paper_sheet", sa.Integer(), nullable=True))
    op.add_column("signatures", sa.Column("paper_line", sa.SmallInteger(), nullable=True))
    op.add_column("signatures", sa.Column("person_hash", sa.LargeBinary(length=32), nullable=True))
    op.add_column(
        "signatures", sa.Column("repeat_kept_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_signatures_paper_line",
        "signatures",
        ["petition_id", "paper_sheet", "paper_line"],
        unique=True,
    )
    op.create_index("ix_signatures_person_hash", "signatures", ["petition_id", "person_hash"])
    op.create_table(
        "paper_sheets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("scan_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("line_count", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["petition_id"], ["petitions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("petition_id", "number"),
    )
    op.create_index("ix_paper_sheets_petition_id", "paper_sheets", ["petition_id"])
    op.create_table(
        "paper_passes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sheet_id", sa.Integer(), nullable=False),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("entered_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("line_hashes", sa.Text(), nullable=False),
        sa.Column("lines", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["sheet_id"], ["paper_sheets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entered_by_id"], ["organisers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_paper_passes_sheet_id", "paper_passes", ["sheet_id"])


def downgrade() -> None:
    op.drop_index("ix_paper_passes_sheet_id", table_name="paper_passes")
    op.drop_table("paper_passes")
    op.drop_index("ix_paper_sheets_petition_id", table_name="paper_sheets")
    op.drop_table("paper_sheets")
    op.drop_index("ix_signatures_person_hash", table_name="signatures")
    op.drop_index("ix_signatures_paper_line", table_name="signatures")
    op.drop_column("signatures", "repeat_kept_at")
    op.drop_column("signatures", "person_hash")
    op.drop_column("signatures", "paper_line")
    op.drop_column("signatures", "paper_sheet")
