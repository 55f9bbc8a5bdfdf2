"""The schema exists only through migrations, and the migrations match the models."""

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from petitions.extensions import db
from petitions.models import Delivery, ExportStatus, MemberRole, Membership, Petition, Signature

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


def test_a_running_export_keeps_its_sign_of_life_across_the_heartbeat_migration(app, db):
    """Before it, finished_at was a running export's last sign of life; after it, heartbeat_at."""
    downgrade(revision="3c7e2a9f5b10")
    beat = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    ended = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    tables = db.metadata.tables
    with db.engine.begin() as connection:
        petition = _old_petition(connection, ended, beat)
        rows = [("running", beat), ("done", ended), ("queued", None)]
        for status, finished_at in rows:
            connection.execute(
                tables["deliveries"]
                .insert()
                .values(
                    petition_id=petition,
                    kind="final",
                    status=status,
                    exported_at=ended,
                    finished_at=finished_at,
                    rows_done=0,
                )
            )
    upgrade()
    deliveries = db.session.execute(
        sa.select(Delivery.status, Delivery.heartbeat_at, Delivery.finished_at).order_by(
            Delivery.id
        )
    ).all()
    assert deliveries == [
        (ExportStatus.RUNNING, beat, None),
        (ExportStatus.DONE, None, ended),
        (ExportStatus.QUEUED, None, None),
    ]
    db.session.rollback()  # end the read, or PostgreSQL's ALTER TABLE waits for its lock
    downgrade(revision="3c7e2a9f5b10")
    with db.engine.connect() as connection:
        columns = {column["name"] for column in sa.inspect(connection).get_columns("deliveries")}
    assert "heartbeat_at" not in columns
    upgrade()
    assert (
        db.session.execute(
            sa.select(Delivery.status, Delivery.heartbeat_at, Delivery.finished_at).order_by(
                Delivery.id
            )
        ).all()
        == deliveries
    )


def _old_petition(connection, opens_at: datetime, closes_at: datetime, slug: str = "p") -> int:
    tables = db.metadata.tables
    organiser = connection.execute(
        tables["organisers"]
        .insert()
        .values(email=f"{slug}@example.org", name="O", password_hash="x")
    ).inserted_primary_key[0]
    # The table as it stood before the receipts' migration: the model's has public_id.
    old_petitions = sa.table(
        "petitions",
        *(sa.column(name) for name in ("slug", "title", "summary", "body", "recipient")),
        *(sa.column(name) for name in ("language", "timezone", "opens_at", "closes_at", "state")),
        *(sa.column(name) for name in ("organiser_id", "created_at", "updated_at", "id")),
    )
    return connection.execute(
        old_petitions.insert()
        .returning(old_petitions.c.id)
        .values(
            slug=slug,
            title="P",
            summary="S",
            body="B",
            recipient="R",
            language="en",
            timezone="Asia/Almaty",
            opens_at=opens_at,
            closes_at=closes_at,
            state="open",
            organiser_id=organiser,
            created_at=opens_at,
            updated_at=opens_at,
        )
    ).scalar_one()


def test_every_signature_gets_its_own_random_public_id_in_the_migration(app, db):
    """Rows signed before public ids get one each, distinct, URL-safe and 22 characters long."""
    downgrade(revision="767c4615f10c")
    signed = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    # The table as it stood before the migration: the model's has public_id already.
    old_signatures = sa.table(
        "signatures",
        *(sa.column(name) for name in ("petition_id", "name", "email", "email_hash", "country")),
        *(sa.column(name) for name in ("city", "show_name", "locale", "state", "created_at")),
    )
    with db.engine.begin() as connection:
        petition = _old_petition(connection, signed, datetime(2027, 1, 1, tzinfo=UTC))
        connection.execute(
            old_signatures.insert(),
            [
                {
                    "petition_id": petition,
                    "name": b"n",
                    "email": b"e",
                    "email_hash": number.to_bytes(32, "big"),
                    "country": "KZ",
                    "city": b"c",
                    "show_name": False,
                    "locale": "en",
                    "state": "pending",
                    "created_at": signed,
                }
                for number in range(2500)
            ],
        )
    upgrade()
    public_ids = db.session.scalars(sa.select(Signature.public_id)).all()
    db.session.rollback()
    assert len(public_ids) == 2500 and len(set(public_ids)) == 2500
    assert {len(key) for key in public_ids} == {22}
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", key) for key in public_ids)
    with db.engine.connect() as connection:
        indexes = sa.inspect(connection).get_indexes("signatures")
        column = next(
            c for c in sa.inspect(connection).get_columns("signatures") if c["name"] == "public_id"
        )
    index = next(i for i in indexes if i["name"] == "ix_signatures_public_id")
    assert (index["column_names"], bool(index["unique"])) == (["public_id"], True)
    assert column["nullable"] is False
    downgrade(revision="767c4615f10c")
    with db.engine.connect() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("signatures")}
    assert "public_id" not in columns
    upgrade()


def test_every_petition_gets_its_own_random_public_id_for_its_receipts(app, db):
    """Petitions made before receipts get a fixed public id each; old signatures no leaf."""
    downgrade(revision="5e4a1c2b9d70")
    with db.engine.begin() as connection:
        made = [
            _old_petition(
                connection,
                datetime(2026, 12, 1, tzinfo=UTC),
                datetime(2027, 1, 1, tzinfo=UTC),
                slug=f"appeal-{number}",
            )
            for number in range(3)
        ]
    upgrade()
    public_ids = dict(
        db.session.execute(
            sa.select(Petition.id, Petition.public_id).where(Petition.id.in_(made))
        ).all()
    )
    db.session.rollback()
    assert sorted(public_ids) == sorted(made)
    assert len(set(public_ids.values())) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", key) for key in public_ids.values())
    with db.engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert "receipt_chunks" in inspector.get_table_names()
        index = next(
            i for i in inspector.get_indexes("petitions") if i["name"] == "ix_petitions_public_id"
        )
    assert (index["column_names"], bool(index["unique"])) == (["public_id"], True)
    downgrade(revision="5e4a1c2b9d70")
    with db.engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert "public_id" not in {c["name"] for c in inspector.get_columns("petitions")}
        assert "receipt_chunks" not in inspector.get_table_names()
    upgrade()


def test_every_existing_petition_gets_its_organiser_as_its_one_owner(app, db):
    """The teams' migration makes each petition's organiser its owner, and nobody else."""
    downgrade(revision="9f3b6d2a7c51")
    created = datetime(2026, 12, 1, tzinfo=UTC)
    with db.engine.begin() as connection:
        made = [
            _old_petition(connection, created, datetime(2027, 1, 1, tzinfo=UTC), f"team-{n}")
            for n in range(3)
        ]
        organisers = dict(
            connection.execute(
                sa.select(Petition.__table__.c.id, Petition.__table__.c.organiser_id)
            ).all()
        )
    upgrade()
    rows = db.session.execute(
        sa.select(Membership.petition_id, Membership.organiser_id, Membership.role).order_by(
            Membership.petition_id
        )
    ).all()
    db.session.rollback()
    assert rows == [(petition, organisers[petition], MemberRole.OWNER) for petition in made]
    with db.engine.connect() as connection:
        indexes = {i["name"]: i for i in sa.inspect(connection).get_indexes("memberships")}
    assert indexes["uq_memberships_one_owner"]["column_names"] == ["petition_id"]
    assert bool(indexes["uq_memberships_one_owner"]["unique"])
    with db.engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
        connection.execute(
            Membership.__table__.insert().values(
                petition_id=made[0],
                organiser_id=organisers[made[1]],
                role="owner",
                created_at=created,
            )
        )
    downgrade(revision="9f3b6d2a7c51")
    with db.engine.connect() as connection:
        names = set(sa.inspect(connection).get_table_names())
    assert not names & {"memberships", "invitations"}
    upgrade()
