"""Shared fixtures: an app on a real database (SQLite, and PostgreSQL for integration tests).

Each test run creates its own PostgreSQL database and drops it at the end. The schema is made by
the Alembic migrations, exactly as in production, once per run and backend; every test then starts
from empty tables.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from hypothesis import settings

from petitions import create_app
from petitions.extensions import db as _db
from petitions.extensions import limiter
from petitions.models import (
    Organiser,
    Petition,
    PetitionState,
    Signature,
    SignatureState,
    utcnow,
)
from petitions.services.privacy import canonical_email, keyring

#: The admin connection used to create and drop this run's PostgreSQL database.
POSTGRES_ADMIN = os.environ.get("TEST_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


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
        "TESTING": True,
        "RATELIMIT_ENABLED": False,
        # Tests must see every change at once; the cache has tests of its own.
        "PUBLIC_CACHE_SECONDS": "0",
    }
    config.update(overrides)
    return create_app(config)


class FreshContextClient(FlaskClient):
    """A test client whose every request runs in an application context of its own.

    Without this, a request made while a test holds an app context reuses that context, so `g`
    (Flask-Login's user, Flask-Babel's locale) and the database session would leak from one
    request into the next, which never happens in production.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


_migrated: set[str] = set()


def _empty_tables() -> None:
    for table in reversed(_db.metadata.sorted_tables):
        _db.session.execute(table.delete())
    _db.session.commit()


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """Settings a test module adds to the test app (override this fixture in the module)."""
    return {}


@pytest.fixture
def app(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, app_overrides: dict[str, Any]
) -> Iterator[Flask]:
    """The application on a migrated, empty database."""
    application = make_test_app(
        database_url, str(tmp_path_factory.mktemp("instance")), **app_overrides
    )
    application.test_client_class = FreshContextClient
    with application.app_context():
        if database_url not in _migrated:
            upgrade()
            _migrated.add(database_url)
        _empty_tables()
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()
        if application.config.get("RATELIMIT_ENABLED", True):
            limiter.reset()


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
        db.session.commit()
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
        db.session.commit()
        return organiser

    return make


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
        petition = Petition(state=state, **fields)
        db.session.add(petition)
        db.session.commit()
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
        canonical = canonical_email(email)
        signature = Signature(
            petition=petition,
            email=email,
            email_hash=keyring().keyed_hash("email", canonical),
            email_domain_hash=keyring().keyed_hash("email-domain", canonical.rpartition("@")[2]),
            state=state,
            **fields,
        )
        db.session.add(signature)
        db.session.commit()
        return signature

    return make


# Property-based tests: few examples locally to stay fast; more, and reproducible, in CI.
settings.register_profile("default", max_examples=20, deadline=None, database=None)
settings.register_profile("ci", max_examples=40, deadline=None, database=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if IN_CI else "default"))
