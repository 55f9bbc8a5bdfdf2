"""A pooled PostgreSQL connection that the server has ended is never handed to a request."""

import time

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import pq

from petitions import app as app_module
from petitions.extensions import db
from tests.conftest import POSTGRES_ADMIN

# The pool itself is under test: sessions must take real connections from it, not the test's own.
pytestmark = [pytest.mark.postgres, pytest.mark.committed]


@pytest.fixture
def backend() -> str:
    return "postgres"


@pytest.fixture
def app_overrides():
    """An app of its own, whose pool holds one connection: the one each test follows."""
    return {"DATABASE_POOL_SIZE": "1", "DATABASE_MAX_OVERFLOW": "0"}


def _backend_pid() -> int:
    pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
    db.session.commit()  # back to the pool, as at the end of a request
    return pid


def _terminate(pid: int) -> None:
    """End one server process from outside, as a restart or an administrator would."""
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        alive = "SELECT 1 FROM pg_stat_activity WHERE pid = %s"
        for _ in range(100):  # the server answers before the process has gone
            if not admin.execute(alive, (pid,)).fetchone():
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} still running")


def test_a_connection_the_server_ended_is_replaced_before_use(app, client, make_petition):
    make_petition(slug="open-one")
    with app.app_context():
        first = _backend_pid()
        assert _backend_pid() == first  # the pool hands the same connection out again
        _terminate(first)
        replacement = _backend_pid()
    assert replacement != first
    assert client.get("/petitions/open-one").status_code == 200


def test_a_page_after_the_server_ended_every_pooled_connection_answers(app, client, make_petition):
    make_petition(slug="open-one")
    assert client.get("/petitions/open-one").status_code == 200
    with app.app_context():
        _terminate(_backend_pid())
    assert client.get("/petitions/open-one").status_code == 200
    assert client.get("/petitions/open-one.json").status_code == 200


def _last_query(pid: int) -> str:
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        return admin.execute(
            "SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()[0]


def test_a_recently_used_connection_is_handed_out_without_a_round_trip(app, monkeypatch):
    with app.app_context():
        pid = _backend_pid()
        with db.engine.connect() as connection:
            assert connection.connection.dbapi_connection.info.backend_pid == pid
            assert _last_query(pid) == "COMMIT", "nothing sent on checkout"
        monkeypatch.setattr(app_module, "POOL_PING_AFTER_IDLE_SECONDS", 0.0)
        with db.engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            assert _last_query(pid) == "SELECT 1", "idle for longer than allowed: pinged"
            # The ping left no transaction open, so the isolation level can still be chosen.
            assert raw.pgconn.transaction_status == pq.TransactionStatus.IDLE
            assert raw.autocommit is False


def test_an_isolation_level_can_be_chosen_after_the_ping(app, monkeypatch):
    monkeypatch.setattr(app_module, "POOL_PING_AFTER_IDLE_SECONDS", 0.0)
    with app.app_context():
        _backend_pid()
        with db.engine.connect() as connection:
            snapshot = connection.execution_options(isolation_level="REPEATABLE READ")
            level = snapshot.execute(sa.text("SHOW transaction_isolation")).scalar()
            assert level == "repeatable read"
