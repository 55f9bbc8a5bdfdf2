"""The application factory: settings, extensions, blueprints, commands and error pages."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from petitions.crypto import Keyring, use_keyring
from petitions.extensions import babel, csrf, db, limiter, login_manager, migrate
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
                # A connection that died (PostgreSQL restarted) is replaced, not handed out.
                "pool_pre_ping": True,
                "pool_size": settings.database_pool_size,
                "max_overflow": settings.database_max_overflow,
                "pool_timeout": 10,
                "pool_recycle": 1800,
                "connect_args": {"connect_timeout": 5},
            }
        ),
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
        cursor.close()


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
    app.extensions["petitions.keyring"] = Keyring(settings.hash_key, settings.data_keys)
    # Encrypted columns sit below Flask: they are told how to find the current app's keyring.
    use_keyring(keyring)
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=settings.trusted_proxies,
            x_proto=settings.trusted_proxies,
            x_host=settings.trusted_proxies,
        )
    _init_extensions(app)
    _register(app)
    _configure_logging()
    for warning in settings.warnings:
        logging.getLogger("petitions").warning(warning)
    return app


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
    # "basic", not "strong": signers and organisers on mobile networks change address often.
    login_manager.session_protection = "basic"


def _register(app: Flask) -> None:
    from petitions import cli, errors, i18n, security
    from petitions.api import bp as api_bp
    from petitions.organiser import bp as organiser_bp
    from petitions.public import bp as public_bp
    from petitions.routing import RestOfPathConverter, RowIdConverter

    # Before the blueprints: their rules are compiled with the converters known when they are added.
    app.url_map.converters["rest"] = RestOfPathConverter
    app.url_map.converters["int"] = RowIdConverter
    app.register_blueprint(public_bp)
    app.register_blueprint(organiser_bp)
    app.register_blueprint(api_bp)
    i18n.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    cli.init_app(app)
