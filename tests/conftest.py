"""Shared fixtures: an app on a real database (SQLite, and PostgreSQL for integration tests).

Each test run creates its own PostgreSQL database and drops it at the end. The schema is made by
the Alembic migrations, exactly as in production, once per run and backend; every test then starts
from empty tables.

Isolation: by default a test runs inside one transaction that is rolled back at its end. The app
(one per backend for the whole run) and everything it does in the test, requests and commands
included, share one connection; each session works in a savepoint of its own, so a commit is real
to the code under test but never reaches the disk. A test whose data must be seen by another
connection (threads, a snapshot opened beside the session, migrations) says so with
`@pytest.mark.committed`: its commits are real, and every table is emptied after it.
"""

from __future__ import annotations

import base64
import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from flask.globals import app_ctx
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from hypothesis import settings
from sqlalchemy.orm import scoped_session, sessionmaker

from petitions import cache, create_app
from petitions.extensions import db as _db
from petitions.extensions import limiter
from petitions.models import (
    Applicant,
    ApplicantKind,
    Organiser,
    Petition,
    PetitionState,
    Signature,
    SignatureState,
    new_public_id,
    utcnow,
)
from petitions.services.privacy import email_hashes
from petitions.services.receipts import leaf_of

#: The admin connection used to create and drop this run's PostgreSQL database.
POSTGRES_ADMIN = os.environ.get("TEST_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
#: Where an app records how the current test is isolated: "rollback" or "committed".
ISOLATION = "tests.isolation"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "committed: the test's commits are real (other connections or threads must see them); "
        "every table is emptied after it",
    )


def _key(fill: bytes) -> str:
    return base64.urlsafe_b64encode(fill * 32).decode("ascii")


TEST_HASH_KEY = _key(b"h")
TEST_DATA_KEY = _key(b"d")


def unavailable(reason: str) -> None:
    """Skip a test that needs a missing server, but fail it in CI, where it must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: servers the tests need must be running)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Create a fresh PostgreSQL database for this test run and drop it afterwards."""
    name = f"petitions_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        unavailable(f"PostgreSQL is not reachable at {POSTGRES_ADMIN}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = sa.make_url(POSTGRES_ADMIN).set(drivername="postgresql+psycopg", database=name)
    yield url.render_as_string(hide_password=False)
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'petitions.sqlite3'}"


@pytest.fixture
def backend() -> str:
    """The database the test runs on; integration tests override this with both."""
    return "sqlite"


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{backend}_url")


def make_test_app(database_url: str, instance_path: str, **overrides: Any) -> Flask:
    """Build an app with fixed test keys on the given database."""
    config: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "HASH_KEY": TEST_HASH_KEY,
        "DATA_KEYS": TEST_DATA_KEY,
        "INSTANCE_PATH": instance_path,
        # The test client's own host: links in pages and emails are built on it.
        "BASE_URL": "http://localhost",
        "TESTING": True,
        "RATELIMIT_ENABLED": False,
        # Tests must see every change at once; the cache has tests of its own.
        "PUBLIC_CACHE_SECONDS": "0",
    }
    config.update(overrides)
    return create_app(config)


def _settle_test_session(application: Flask) -> None:
    """End the test's own transaction before a request or a command, as a commit would.

    Under rollback isolation every session shares one connection, each in a savepoint of its own.
    A savepoint the test left open would enclose what the request commits, and the test's next
    rollback would take that away too. Committing also expires the test's objects, so that they
    read what the request wrote, as they did when every factory row was committed.
    """
    if application.extensions.get(ISOLATION) != "rollback" or not has_app_context():
        return
    if current_app._get_current_object() is not application or not _db.session.registry.has():
        return
    if _db.session().in_transaction():
        _db.session.commit()


class FreshContextClient(FlaskClient):
    """A test client whose every request runs in an application context of its own.

    Without this, a request made while a test holds an app context reuses that context, so `g`
    (Flask-Login's user, Flask-Babel's locale) and the database session would leak from one
    request into the next, which never happens in production.
    """

    _in_request = False

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if self._in_request:  # a redirect being followed: the same browser visit goes on
            return super().open(*args, **kwargs)
        _settle_test_session(self.application)
        self._in_request = True
        try:
            with self.application.app_context():
                return super().open(*args, **kwargs)
        finally:
            self._in_request = False


class SettlingCliRunner(FlaskCliRunner):
    """A command runner that ends the test's own transaction first, as the client does."""

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        _settle_test_session(self.app)
        return super().invoke(*args, **kwargs)


class _JoinedSession(FlaskSession):
    """A session on the test's connection (Flask-SQLAlchemy's would always take the engine)."""

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kw: Any) -> Any:
        return bind if bind is not None else self.bind


def _app_context_id() -> int:
    """Scope sessions as Flask-SQLAlchemy does: one per application context."""
    return id(app_ctx._get_current_object())


@contextlib.contextmanager
def _rolled_back(application: Flask) -> Iterator[None]:
    """Run everything the app does on one connection, in a transaction rolled back at the end."""
    with application.app_context():
        connection = _db.engine.connect()
    raw = connection.connection.driver_connection
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # pysqlite begins a transaction only before a write and lets a SAVEPOINT outside one
        # commit on RELEASE; take transactions from it, and begin this one for real.
        isolation_level = raw.isolation_level
        raw.isolation_level = None
    outer = connection.begin()
    if sqlite:
        connection.exec_driver_sql("BEGIN")
    engine_session = _db.session
    _db.session = scoped_session(
        sessionmaker(
            class_=_JoinedSession,
            db=_db,
            query_cls=_db.Query,
            bind=connection,
            join_transaction_mode="create_savepoint",
        ),
        scopefunc=_app_context_id,
    )
    application.extensions[ISOLATION] = "rollback"
    try:
        yield
    finally:
        del application.extensions[ISOLATION]
        # Sessions of contexts the test pushed and left open are on this connection too.
        for session in list(_db.session.registry.registry.values()):
            session.close()
        _db.session = engine_session
        outer.rollback()
        if sqlite:
            raw.isolation_level = isolation_level
        connection.close()


@contextlib.contextmanager
def _committed(application: Flask) -> Iterator[None]:
    """Let the test commit for real, then empty every table."""
    application.extensions[ISOLATION] = "committed"
    try:
        yield
    finally:
        del application.extensions[ISOLATION]
        with application.app_context():
            _db.session.rollback()
            for table in reversed(_db.metadata.sorted_tables):
                _db.session.execute(table.delete())
            _db.session.commit()


def save(db: Any) -> None:
    """Write what a factory made: a flush under rollback isolation, a commit when it must be seen
    by other connections."""
    if current_app.extensions.get(ISOLATION) == "committed":
        db.session.commit()
    else:
        db.session.flush()


_migrated: set[str] = set()


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """Settings a test module adds to the test app (override this fixture in the module)."""
    return {}


def _new_app(database_url: str, instance_path: str, overrides: dict[str, Any]) -> Flask:
    application = make_test_app(database_url, instance_path, **overrides)
    application.test_client_class = FreshContextClient
    application.test_cli_runner_class = SettlingCliRunner
    if database_url not in _migrated:
        with application.app_context():
            upgrade()
        _migrated.add(database_url)
    return application


@pytest.fixture(scope="session")
def shared_apps() -> Iterator[dict[str, Flask]]:
    """The test app of each database, made once for the whole run."""
    apps: dict[str, Flask] = {}
    yield apps
    for application in apps.values():
        with application.app_context():
            _db.engine.dispose()


@pytest.fixture
def app(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    app_overrides: dict[str, Any],
    shared_apps: dict[str, Flask],
    request: pytest.FixtureRequest,
) -> Iterator[Flask]:
    """The application on a migrated, empty database, isolated as the module above says."""
    instance_path = str(tmp_path_factory.mktemp("instance"))
    if app_overrides:  # settings of its own: an app of its own (about 30 ms)
        application = _new_app(database_url, instance_path, app_overrides)
    else:
        application = shared_apps.get(database_url)
        if application is None:
            application = shared_apps[database_url] = _new_app(database_url, instance_path, {})
        # The limiter is one object for every app: give it back this app's settings (off).
        limiter.init_app(application)
        # Files (exports, the development signing key) go to a directory of the test's own.
        application.config["INSTANCE_PATH"] = instance_path
    committed = request.node.get_closest_marker("committed") is not None
    try:
        with (_committed if committed else _rolled_back)(application):
            yield application
    finally:
        cache.public.clear()
        if application.config.get("RATELIMIT_ENABLED", True):
            limiter.reset()
        if app_overrides:
            with application.app_context():
                _db.engine.dispose()


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    """The SQLAlchemy handle, inside an application context."""
    with app.app_context():
        yield _db


@pytest.fixture
def make_organiser(db: Any) -> Callable[..., Organiser]:
    counter = iter(range(1, 1_000_000))

    def make(**fields: Any) -> Organiser:
        number = next(counter)
        fields.setdefault("email", f"organiser{number}@example.org")
        fields.setdefault("name", f"Organiser {number}")
        fields.setdefault("password_hash", "not-a-real-hash")
        organiser = Organiser(**fields)
        db.session.add(organiser)
        save(db)
        return organiser

    return make


PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_account(db: Any) -> Callable[..., Organiser]:
    """Make an organiser who can sign in with PASSWORD."""
    counter = iter(range(1, 1_000_000))

    def make(email: str | None = None, name: str = "Organiser") -> Organiser:
        from petitions.services.accounts import create_organiser

        organiser = create_organiser(email or f"account{next(counter)}@example.org", name, PASSWORD)
        save(db)
        return organiser

    return make


def an_applicant(**fields: Any) -> Applicant:
    """Return a person applying, with every required field (and none of the optional ones)."""
    values: dict[str, Any] = {
        "kind": ApplicantKind.PERSON,
        "surname": "Applicantova",
        "name": "Aigerim",
        "address": "050000, Almaty, 1 Example Street, flat 2",
        "email": "applicant@example.org",
    }
    values.update(fields)
    return Applicant(**values)


@pytest.fixture
def make_petition(db: Any, make_organiser: Callable[..., Organiser]) -> Callable[..., Petition]:
    """Make a petition in any state; by default open from an hour ago for five days."""
    counter = iter(range(1, 1_000_000))

    def make(state: PetitionState = PetitionState.OPEN, **fields: Any) -> Petition:
        number = next(counter)
        now = utcnow()
        fields.setdefault("slug", f"petition-{number}")
        fields.setdefault("title", f"Petition {number}")
        fields.setdefault("summary", "A summary.")
        fields.setdefault("body", "The **text** of the petition.")
        fields.setdefault("recipient", "President of the Republic of Kazakhstan")
        fields.setdefault("language", "en")
        fields.setdefault("opens_at", now - timedelta(hours=1))
        fields.setdefault("closes_at", now + timedelta(days=5))
        if "organiser" not in fields:
            fields["organiser"] = make_organiser()
        # Every petition may be exported as final; pass applicant=None for one that may not.
        if "applicant" not in fields:
            fields["applicant"] = an_applicant()
        petition = Petition(state=state, **fields)
        db.session.add(petition)
        save(db)
        return petition

    return make


@pytest.fixture
def make_signature(db: Any) -> Callable[..., Signature]:
    """Make a signature on a petition, confirmed unless a state is given."""
    counter = iter(range(1, 1_000_000))

    def make(
        petition: Petition, state: SignatureState = SignatureState.CONFIRMED, **fields: Any
    ) -> Signature:
        number = next(counter)
        email = fields.pop("email", f"signer{number}@example.org")
        fields.setdefault("name", f"Signer {number}")
        fields.setdefault("country", "KZ")
        fields.setdefault("city", "Almaty")
        if state == SignatureState.CONFIRMED:
            fields.setdefault("confirmed_at", utcnow())
        # As signing does: every signature has its receipt's leaf from the moment it is made.
        fields.setdefault("public_id", new_public_id())
        if petition.public_id is None:
            save(db)  # the petition's public id is drawn when it is first written
        fields.setdefault("receipt_leaf", leaf_of(petition.public_id, fields["public_id"]))
        hashes = email_hashes(email)
        signature = Signature(
            petition=petition,
            email=email,
            email_hash=hashes.email,
            email_domain_hash=hashes.domain,
            state=state,
            **fields,
        )
        db.session.add(signature)
        save(db)
        return signature

    return make


# Property-based tests: few examples locally to stay fast; more, and reproducible, in CI.
settings.register_profile("default", max_examples=20, deadline=None, database=None)
settings.register_profile("ci", max_examples=40, deadline=None, database=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if IN_CI else "default"))
