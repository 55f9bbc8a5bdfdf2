"""Integration tests run once on SQLite and once on PostgreSQL; rate-limit tests on both stores."""

import os

import pytest
import redis

from tests.conftest import unavailable
from tests.smtp import SMTPServer, free_port

#: A database of its own, since resetting the limiter empties every counter in it (two test
#: runs at once on one Redis server each need their own).
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limit_storage(request: pytest.FixtureRequest) -> str:
    """Where the rate limits count: process memory, or the Redis server (required in CI)."""
    if request.param == "memory":
        return "memory://"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        unavailable(f"Redis is not reachable at {REDIS_URL}: {error}")
    return REDIS_URL


@pytest.fixture
def smtp_port() -> int:
    """A free port for the local SMTP server of the tests that read the emails sent."""
    return free_port()


@pytest.fixture
def mail_to_smtp(smtp_port: int) -> dict[str, str]:
    """The settings that send the app's mail to the local SMTP server: a module that reads the
    emails makes them its `app_overrides`."""
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "MAIL_DEFAULT_SENDER": "petitions@example.org",
    }


@pytest.fixture
def smtp(smtp_port: int):
    """The local SMTP server on `smtp_port`, which a module's `app_overrides` sends mail to."""
    server = SMTPServer(smtp_port).start()
    yield server
    server.stop()
