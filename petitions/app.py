"""The application factory: settings, extensions, blueprints, commands and error pages."""

from __future__ import annotations

import logging
import os
import select
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool
from werkzeug.middleware.proxy_fix import ProxyFix

from petitions.crypto import Keyring, use_keyring
from petitions.extensions import babel, csrf, db, limiter, login_manager, migrate
from petitions.files import private_file
from petitions.outbox_keys import FileKeyStore, OutboxKeys, RedisKeyStore
from petitions.proxies import watch_trusted_proxies
from petitions.rendering import render_markdown
from petitions.services.privacy import keyring
from petitions.settings import Settings, load_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Request bodies larger than this are refused with 413 before any form parsing.
MAX_CONTENT_LENGTH = 64 * 1024


def _environment(test_config: Mapping[str, Any] | None) -> dict[str, str]:
    """Return the settings' source: the environment over `.env`, or only the test's values."""
    if test_config is not None:
        return {key: value for key, value in test_config.items() if isinstance(value, str)}
    from_file = {k: v for k, v in dotenv_values(PROJECT_ROOT / ".env").items() if v is not None}
    return {**from_file, **os.environ}


def _configure(app: Flask, settings: Settings) -> None:
    database_is_sqlite = settings.database_url.startswith("sqlite")
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=(
            {"connect_args": {"timeout": 15}}
            if database_is_sqlite
            else {
                # A connection that died (PostgreSQL restarted) is replaced, not handed out:
                # see _refuse_dead_connection, which does it without a round trip per request.
                "pool_size": settings.database_pool_size,
                "max_overflow": settings.database_max_overflow,
                "pool_timeout": 10,
                "pool_recycle": 1800,
                "connect_args": {"connect_timeout": 5},
            }
        ),
        # A request naming another host is refused with 400 before any view runs: no page, link
        # or email is ever built on a Host header an attacker chose.
        TRUSTED_HOSTS=list(settings.trusted_hosts),
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        # X-RateLimit-* on every answer would cost a storage round trip per limit; the 429 page
        # sets Retry-After itself.
        RATELIMIT_HEADERS_ENABLED=False,
        RATELIMIT_KEY_PREFIX="petitions",
        # If Redis stops answering, keep limiting in process memory rather than failing open.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        BABEL_DEFAULT_LOCALE="en",
        BABEL_DEFAULT_TIMEZONE="UTC",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(app.root_path) / "translations"),
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.is_production,
        WTF_CSRF_TIME_LIMIT=None if not settings.is_production else 6 * 3600,
    )


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Make SQLite enforce foreign keys and let readers run beside one writer."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # Deleted and overwritten rows are zeroed, not left in free pages for whoever copies the
        # file (what the WAL still holds of a sealed petition's outbox needs its destroyed key).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()


#: A pooled PostgreSQL connection unused for longer than this is pinged before it is handed out.
POOL_PING_AFTER_IDLE_SECONDS = 1.0


@event.listens_for(Pool, "checkin")
def _note_idle_since(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _refuse_dead_connection(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Hand out no PostgreSQL connection that the server has closed; the pool makes a new one.

    SQLAlchemy's pool_pre_ping asks the server on every checkout: one round trip more on every
    request, and under load each round trip is a wait for a core on a busy machine (measured in
    docs/benchmarks.md). An idle connection is sent nothing, unless the server ends it (restart,
    shutdown, pg_terminate_backend, idle timeout): then its last words or its end of file make
    the socket readable, which a poll with no timeout tells without asking. Only a connection
    idle for a while (it may have outlived the server's host, which says nothing when it dies)
    is pinged as before.
    """
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:  # SQLite: a file in this process, nothing to lose.
        return
    from psycopg import pq

    if dbapi_connection.closed or pgconn.status != pq.ConnStatus.OK:
        raise DisconnectionError("the connection is closed")
    poll = select.poll()
    poll.register(pgconn.socket, select.POLLIN | select.POLLPRI)
    if poll.poll(0):
        raise DisconnectionError("the server has ended the connection")
    idle_since = record.info.get("idle_since")
    if idle_since is not None and time.monotonic() - idle_since > POOL_PING_AFTER_IDLE_SECONDS:
        # Outside a transaction, as SQLAlchemy's own ping: the borrower may still choose its
        # isolation level (the export's REPEATABLE READ), which an open transaction forbids.
        autocommit = dbapi_connection.autocommit
        try:
            dbapi_connection.autocommit = True
            dbapi_connection.execute("SELECT 1")
        except Exception as error:  # any failure: this connection is not to be trusted
            raise DisconnectionError("the connection failed its ping") from error
        finally:
            if not dbapi_connection.closed:
                dbapi_connection.autocommit = autocommit


@event.listens_for(Engine, "do_connect")
def _create_sqlite_file_privately(
    dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]
) -> None:
    """Create a missing SQLite database file 0600 before SQLite does, as it would make it 0644.

    SQLite gives its -wal and -shm files the database file's mode, so they follow. A missing
    directory is left missing: SQLite's own error then names the wrong path. Done on the first
    connection, not at start: commands that use no database (`bundles unseal` on an
    organiser's machine) leave none behind.
    """
    if dialect.name != "sqlite" or not cargs or cparams.get("uri"):
        return  # a URI filename is SQLite's to interpret
    name = str(cargs[0])
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    if path.parent.is_dir():
        private_file(path)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application from the environment, or from `test_config` alone in tests."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    instance = Path((test_config or {}).get("INSTANCE_PATH", app.instance_path))
    settings = load_settings(_environment(test_config), instance)
    _configure(app, settings)
    # Drop the newlines and indentation around block tags: smaller pages, same text.
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.config["INSTANCE_PATH"] = str(instance)
    if test_config is not None:
        app.config.update(test_config)
        # The setting shares Flask's name: keep the validated list, not the test's raw text.
        app.config["TRUSTED_HOSTS"] = list(settings.trusted_hosts)
    app.extensions["petitions.keyring"] = Keyring(settings.hash_key, settings.data_keys)
    # Encrypted columns sit below Flask: they are told how to find the current app's keyring.
    use_keyring(keyring)
    app.extensions["petitions.outbox_keys"] = _outbox_keys(settings, instance)
    # A key lives through its period and the next: what a sealed petition's page promises.
    app.jinja_env.globals["outbox_key_hours"] = -(-2 * settings.outbox_key_minutes // 60)
    # Organisers' Markdown, sanitised, wherever a template shows it (updates, the answer).
    app.jinja_env.filters["markdown"] = render_markdown
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=settings.trusted_proxies,
            x_proto=settings.trusted_proxies,
            x_host=settings.trusted_proxies,
        )
    watch_trusted_proxies(app, settings.trusted_proxies)
    _init_extensions(app)
    _register(app)
    _configure_logging()
    _announce(app, settings)
    return app


def _announce(app: Flask, settings: Settings) -> None:
    """Log the settings' warnings: in production at start, in development at the first request.

    A development warning (BASE_URL unset) concerns the pages and emails a server makes; said at
    start, it would be a second line on stderr from every command an organiser runs offline on
    files alone (`keys sealing-new`, `bundles unseal`), where it means nothing.
    """
    log = logging.getLogger("petitions")
    if settings.is_production:
        for warning in settings.warnings:
            log.warning(warning)
        return
    pending = list(settings.warnings)

    def announce_once() -> None:
        while pending:
            log.warning(pending.pop(0))

    if pending:
        app.before_request(announce_once)


def _outbox_keys(settings: Settings, instance: Path) -> OutboxKeys:
    """The short-lived keys of sealed petitions' outboxes, where every process finds them."""
    if settings.outbox_key_store == "instance":
        store = FileKeyStore(instance / "outbox-keys")
    else:
        import redis

        store = RedisKeyStore(redis.Redis.from_url(settings.outbox_key_store))
    return OutboxKeys(store, period_seconds=settings.outbox_key_minutes * 60)


def _configure_logging() -> None:
    """Send the app's and its libraries' messages (Flask-Limiter's fall-back to memory, the mail
    worker's retries) to stderr, unless the host process has set up logging already."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


def _init_extensions(app: Flask) -> None:
    from petitions.i18n import select_locale

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "organiser.login"
    login_manager.login_message = None
    # Off: every request checks the session's record on the server (organiser/sessions.py),
    # and Flask-Login's protection would keep a hash of the client's address in the cookie.
    login_manager.session_protection = None


def _register(app: Flask) -> None:
    from petitions import cli, errors, i18n, security
    from petitions.api import bp as api_bp
    from petitions.organiser import bp as organiser_bp
    from petitions.public import bp as public_bp
    from petitions.routing import RestOfPathConverter, RowIdConverter, SegmentConverter

    # Before the blueprints: their rules are compiled with the converters known when they are added.
    app.url_map.converters["rest"] = RestOfPathConverter
    app.url_map.converters["int"] = RowIdConverter
    app.url_map.converters["segment"] = SegmentConverter
    app.register_blueprint(public_bp)
    app.register_blueprint(organiser_bp)
    app.register_blueprint(api_bp)
    i18n.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    cli.init_app(app)
