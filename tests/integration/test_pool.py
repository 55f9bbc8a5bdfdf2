"""A pooled PostgreSQL connection that the server has ended is never handed to a request."""

import time

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import pq

from petitions import app as app_module
from petitions.extensions import db
from tests.conftest import POSTGRES_ADMIN

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend() -> str:
    return "postgres"


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


def test_a_recently_used_connection_is_handed_out_without_a_round_trip(app, monkeypatch):
    with app.app_context():
        _backend_pid()
        with db.engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            # Nothing was sent on checkout: no ping opened a transaction.
            assert raw.pgconn.transaction_status == pq.TransactionStatus.IDLE
        monkeypatch.setattr(app_module, "POOL_PING_AFTER_IDLE_SECONDS", 0.0)
        with db.engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            # Idle for longer than allowed: pinged, and the ping's transaction is open.
            assert raw.pgconn.transaction_status == pq.TransactionStatus.INTRANS
