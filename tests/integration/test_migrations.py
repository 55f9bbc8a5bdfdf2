"""The schema exists only through migrations, and the migrations match the models."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from petitions.extensions import db

# Alembic works on a connection of its own, and the schema it changes is shared by the run.
pytestmark = pytest.mark.committed


def _differences(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, db.metadata)


def test_migrations_and_models_agree(db):
    with db.engine.connect() as connection:
        assert _differences(connection) == []


def test_migrations_go_down_to_nothing_and_back_up(app, db):
    downgrade(revision="base")
    names = set(sa.inspect(db.engine).get_table_names())
    assert not names & {"petitions", "signatures", "organisers", "deliveries", "audit_events"}
    upgrade()
    with db.engine.connect() as connection:
        assert _differences(connection) == []
