"""Every setting of the application, read from the environment and validated at start.

A wrong value never reaches the code that uses it: `load_settings` collects one clear message per
wrong setting and raises `SettingsError` with all of them, so an operator fixes them in one pass.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import RateLimitItem, parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from petitions.files import private_directory

ENVIRONMENTS = ("development", "production")
DEFAULT_SIGN_RATE_LIMIT = "60 per minute;5000 per day"
DEFAULT_SIGN_EMAIL_RATE_LIMIT = "5 per minute;20 per day"
DEFAULT_ONION_SIGN_LIMIT = "300 per minute"
DEFAULT_GLOBAL_SIGN_LIMIT = "600 per minute"
DEFAULT_RECEIPT_RATE_LIMIT = "30 per minute;300 per day"
#: News emails to subscribers, all workers together: what a small mail server takes calmly.
DEFAULT_NEWS_RATE_LIMIT = "600 per minute"
#: A version 3 onion service's host name: 56 base32 characters (its public key, a checksum and
#: the version), then ".onion".
ONION_HOST = re.compile(r"[a-z2-7]{56}\.onion")
MIN_SECRET_LENGTH = 32


class SettingsError(Exception):
    """One or more settings are wrong; `problems` holds one message per setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    """The validated settings; see the README's settings table for each one."""

    environment: str
    secret_key: str
    database_url: str
    ratelimit_storage_uri: str
    sign_rate_limit: str
    sign_email_rate_limit: str
    onion_sign_limit: str
    global_sign_limit: str
    receipt_rate_limit: str
    hash_key: bytes
    data_keys: tuple[bytes, ...]
    trusted_proxies: int
    default_timezone: str
    mail_server: str | None
    mail_port: int
    mail_use_tls: bool
    mail_username: str | None
    mail_password: str | None
    mail_default_sender: str
    signing_key_file: str | None
    signing_key_password: str | None
    timestamp_url: str | None
    retention_days: int
    base_url: str
    trusted_hosts: tuple[str, ...]
    onion_address: str
    export_dir: str | None
    public_cache_seconds: float
    database_pool_size: int
    database_max_overflow: int
    #: Where a sealed petition's outbox keys live: "instance" (files) or a redis:// URL.
    outbox_key_store: str
    outbox_key_minutes: int
    #: An organiser's session ends after this long without a request, and this long in all.
    session_idle_minutes: int
    session_max_hours: int
    #: Whether every organiser must turn on a second factor before using any organiser page.
    require_two_factor: bool = False
    #: How long a given second factor stays fresh enough for exports, deliveries and sealing.
    fresh_factor_minutes: int = 15
    #: How many news emails all mail workers together send per window (limits' notation).
    news_rate_limit: str = DEFAULT_NEWS_RATE_LIMIT
    warnings: list[str] = field(default_factory=list)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def news_rates(self) -> list[RateLimitItem]:
        """The windows of NEWS_RATE_LIMIT, each with how many news emails it lets go."""
        return parse_many(self.news_rate_limit)

    @property
    def onion_base_url(self) -> str | None:
        """The onion service's address under BASE_URL's path, or None without ONION_ADDRESS."""
        if not self.onion_address:
            return None
        return f"http://{self.onion_address}{urlsplit(self.base_url).path}"


class _Reader:
    """Read raw values from a mapping and remember every problem found."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.environ.get(name)
        if value is None or not value.strip():
            return default
        return value.strip()

    def integer(self, name: str, default: int, minimum: int, maximum: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name}: expected a whole number, got {raw!r}")
            return default
        if not minimum <= value <= maximum:
            self.problems.append(f"{name}: must be between {minimum} and {maximum}, got {value}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        self.problems.append(f"{name}: expected true or false, got {raw!r}")
        return default


def _base_url(reader: _Reader, production: bool) -> str:
    """Read the one address every absolute link is built on; never taken from a request."""
    # The address `make run` serves on, so that development links work without a setting.
    default = f"http://{reader.text('HOST', '127.0.0.1')}:{reader.text('PORT', '5000')}"
    raw = reader.text("BASE_URL")
    if raw is None:
        if production:
            reader.problems.append(
                "BASE_URL: required in production: the address signers reach the site at "
                "(e.g. https://petitions.example.org); every link in emails is built on it"
            )
        return default
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username
    ):
        reader.problems.append(
            f"BASE_URL: expected an address such as https://petitions.example.org, got {raw!r}"
        )
        return default
    return raw.rstrip("/")


def _onion_checksum_holds(name: str) -> bool:
    """Tell whether a v3 onion name carries its own checksum and version (rend-spec-v3)."""
    try:
        raw = base64.b32decode(name.removesuffix(".onion").upper())
    except binascii.Error:
        return False
    public_key, checksum, version = raw[:32], raw[32:34], raw[34:]
    expected = hashlib.sha3_256(b".onion checksum" + public_key + version).digest()[:2]
    return version == b"\x03" and checksum == expected


def _onion_address(reader: _Reader) -> str:
    """Read the onion service's host name (tor's `hostname` file); empty when there is none."""
    raw = reader.text("ONION_ADDRESS")
    if raw is None:
        return ""
    name = raw.lower()
    if not ONION_HOST.fullmatch(name):
        reader.problems.append(
            "ONION_ADDRESS: expected the host name of a version 3 onion service, 56 letters a-z "
            "and digits 2-7 then .onion, as in the hidden service's hostname file (no http:// "
            f"and no path), got {raw!r}"
        )
        return ""
    if not _onion_checksum_holds(name):
        reader.problems.append(
            f"ONION_ADDRESS: {raw!r} is not a valid onion address (its checksum does not match: "
            "copy it again from the hidden service's hostname file)"
        )
        return ""
    return name


def _trusted_hosts(
    reader: _Reader, base_url: str, onion_address: str, production: bool
) -> tuple[str, ...]:
    """Name the hosts whose requests are answered: BASE_URL's, the onion service's,
    TRUSTED_HOSTS, and locally ours."""
    hosts = [urlsplit(base_url).hostname or "", onion_address]
    for part in (reader.text("TRUSTED_HOSTS") or "").split(","):
        host = part.strip().lower()
        if not host:
            continue
        if "/" in host or ":" in host or " " in host:
            reader.problems.append(
                f"TRUSTED_HOSTS: expected host names separated by commas "
                f"(e.g. www.example.org,.example.org), got {part.strip()!r}"
            )
            continue
        hosts.append(host)
    if not production:
        hosts += ["localhost", "127.0.0.1"]
    return tuple(dict.fromkeys(host for host in hosts if host))


def _kept_secret(path: Path) -> str | None:
    """Return a development secret kept in `instance/`, or None when there is none yet."""
    if not path.exists():
        return None
    return path.read_text(encoding="ascii").strip() or None


def _keep_new_secret(path: Path, make: Callable[[], str]) -> str:
    """Create a development secret in `instance/`, readable by its owner alone, exactly once."""
    private_directory(path.parent)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(make() + "\n")
    try:
        # A hard link appears whole or not at all: of processes starting together (the server
        # and its workers), the first one's secret is the one every process reads.
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text(encoding="ascii").strip()


def _new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def _decode_key(name: str, raw: str, reader: _Reader) -> bytes | None:
    try:
        key = base64.urlsafe_b64decode(raw.encode("ascii") + b"=" * (-len(raw) % 4))
    except (ValueError, UnicodeEncodeError):
        key = b""
    if len(key) != 32:
        reader.problems.append(
            f"{name}: expected 32 random bytes in URL-safe base64 (make one with "
            '`python -c "import base64,secrets;'
            'print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"`)'
        )
        return None
    return key


def _database_url(reader: _Reader, instance_path: Path) -> str:
    default = f"sqlite:///{instance_path / 'petitions.sqlite3'}"
    raw = reader.text("DATABASE_URL", default)
    try:
        url = make_url(raw)
    except ArgumentError:
        reader.problems.append(
            f"DATABASE_URL: cannot parse {raw!r} as a database URL "
            "(examples: sqlite:///instance/petitions.sqlite3, "
            "postgresql+psycopg://user:password@host:5432/petitions)"
        )
        return default
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        reader.problems.append(
            f"DATABASE_URL: unsupported database {url.get_backend_name()!r}; "
            "use sqlite or postgresql"
        )
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        # SQLAlchemy would pick psycopg2, which we do not install; psycopg 3 is the driver.
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return raw


def _rate_limit(reader: _Reader, name: str, default: str) -> str:
    raw = reader.text(name, default)
    try:
        if not parse_many(raw):
            raise ValueError(raw)
    except ValueError:
        reader.problems.append(
            f"{name}: cannot read {raw!r} as rate limits (example: '10 per minute;200 per day')"
        )
        return default
    return raw


def _storage_uri(reader: _Reader) -> str:
    raw = reader.text("RATELIMIT_STORAGE_URI", "memory://")
    if raw.split("://", 1)[0] not in {"memory", "redis", "rediss", "redis+sentinel"}:
        reader.problems.append(
            f"RATELIMIT_STORAGE_URI: expected memory:// or redis://host:port/db, got {raw!r}"
        )
        return "memory://"
    return raw


def _outbox_key_store(reader: _Reader, storage_uri: str) -> str:
    """Keep outbox keys in Redis when the rate limits are there (shared by every app host),
    otherwise in files under instance/ (one machine)."""
    default = storage_uri if storage_uri.startswith(("redis://", "rediss://")) else "instance"
    raw = reader.text("OUTBOX_KEY_STORE", default)
    if raw != "instance" and not raw.startswith(("redis://", "rediss://")):
        reader.problems.append(
            f"OUTBOX_KEY_STORE: expected instance or redis://host:port/db, got {raw!r}"
        )
        return "instance"
    return raw


def _timezone(reader: _Reader) -> str:
    raw = reader.text("DEFAULT_TIMEZONE", "Asia/Almaty")
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        reader.problems.append(f"DEFAULT_TIMEZONE: unknown time zone {raw!r}")
        return "Asia/Almaty"
    return raw


#: The secrets: each setting, the file of `instance/` that keeps it in development, and how a new
#: one is made.
_SECRETS: tuple[tuple[str, str, Callable[[], str]], ...] = (
    ("SECRET_KEY", "secret_key", lambda: secrets.token_urlsafe(48)),
    ("HASH_KEY", "hash_key", _new_key),
    ("DATA_KEYS", "data_keys", _new_key),
)


def _read_secrets(reader: _Reader, instance_path: Path, production: bool) -> dict[str, str | None]:
    """Read each secret from the environment, or in development from `instance/`; write nothing."""
    found: dict[str, str | None] = {}
    for name, filename, _make in _SECRETS:
        raw = reader.text(name)
        if raw is None and not production:
            raw = _kept_secret(instance_path / filename)
        found[name] = raw
    if production:
        _require_production_secrets(reader, found)
    return found


def _require_production_secrets(reader: _Reader, found: Mapping[str, str | None]) -> None:
    # Never invent secrets in production: a restart would silently change them.
    secret_key = found["SECRET_KEY"]
    if secret_key is None or len(secret_key) < MIN_SECRET_LENGTH:
        reader.problems.append(
            f"SECRET_KEY: required in production, at least {MIN_SECRET_LENGTH} characters "
            '(make one with `python -c "import secrets;print(secrets.token_urlsafe(48))"`)'
        )
    for name in ("HASH_KEY", "DATA_KEYS"):
        if found[name] is None:
            reader.problems.append(
                f"{name}: required in production; losing it makes stored signatures "
                "unreadable, so generate it once and back it up (see docs/deployment.md)"
            )


def _decode_secrets(
    reader: _Reader, found: Mapping[str, str | None]
) -> tuple[str, bytes, tuple[bytes, ...]]:
    """Decode the keys that are there, noting a problem for each malformed one."""
    hash_raw, data_raw = found["HASH_KEY"], found["DATA_KEYS"]
    hash_key = None if hash_raw is None else _decode_key("HASH_KEY", hash_raw, reader)
    data_keys = tuple(
        key
        for part in (data_raw or "").split(",")
        if part.strip()
        for key in [_decode_key("DATA_KEYS", part.strip(), reader)]
        if key is not None
    )
    if data_raw is not None and not data_raw.replace(",", "").strip():
        # Commas alone would leave no key, and the all-zero stand-in would encrypt.
        reader.problems.append("DATA_KEYS: expected one or more keys separated by commas")
    return found["SECRET_KEY"] or "", hash_key or b"\0" * 32, data_keys or (b"\0" * 32,)


def _generate_missing_secrets(
    settings: Settings, found: Mapping[str, str | None], instance_path: Path
) -> Settings:
    """Make, once, each development secret that is neither set nor kept in `instance/`."""
    missing = [(name, filename, make) for name, filename, make in _SECRETS if found[name] is None]
    if not missing:
        return settings
    complete = dict(found)
    for name, filename, make in missing:
        complete[name] = _keep_new_secret(instance_path / filename, make)
        if not complete[name]:
            raise SettingsError([f"{name}: {instance_path / filename} is empty; delete it"])
    reader = _Reader({})
    secret_key, hash_key, data_keys = _decode_secrets(reader, complete)
    if reader.problems:  # another process's file, changed by hand since
        raise SettingsError(reader.problems)
    return replace(settings, secret_key=secret_key, hash_key=hash_key, data_keys=data_keys)


def _production_warnings(settings: Settings) -> list[str]:
    warnings = []
    if settings.database_url.startswith("sqlite"):
        warnings.append(
            "DATABASE_URL points at SQLite: fine for one process, but production wants PostgreSQL"
        )
    if settings.ratelimit_storage_uri.startswith("memory"):
        warnings.append(
            "RATELIMIT_STORAGE_URI is memory://: each worker process counts alone, so limits "
            "are multiplied by the number of workers; use redis:// in production"
        )
    if settings.outbox_key_store == "instance":
        warnings.append(
            "OUTBOX_KEY_STORE is instance: sealed petitions' outbox keys are files on this host, "
            "so mail must be sent from it; with several app hosts use redis://"
        )
    if not settings.require_two_factor:
        warnings.append(
            "REQUIRE_TWO_FACTOR is off: an organiser without a second factor is opened by their "
            "password alone"
        )
    if settings.mail_server is None:
        warnings.append("MAIL_SERVER is not set: confirmation emails go to the log, not to signers")
    return warnings


def load_settings(environ: Mapping[str, str], instance_path: Path) -> Settings:
    """Read and validate every setting; raise SettingsError listing each wrong one."""
    reader = _Reader(environ)
    environment = reader.text("PETITIONS_ENV", "development").lower()
    if environment not in ENVIRONMENTS:
        reader.problems.append(
            f"PETITIONS_ENV: expected one of {', '.join(ENVIRONMENTS)}, got {environment!r}"
        )
        environment = "development"
    production = environment == "production"
    found_secrets = _read_secrets(reader, instance_path, production)
    base_url = _base_url(reader, production)
    onion_address = _onion_address(reader)
    secret_key, hash_key, data_keys = _decode_secrets(reader, found_secrets)
    storage_uri = _storage_uri(reader)
    settings = Settings(
        environment=environment,
        secret_key=secret_key,
        database_url=_database_url(reader, instance_path),
        ratelimit_storage_uri=storage_uri,
        sign_rate_limit=_rate_limit(reader, "SIGN_RATE_LIMIT", DEFAULT_SIGN_RATE_LIMIT),
        sign_email_rate_limit=_rate_limit(
            reader, "SIGN_EMAIL_RATE_LIMIT", DEFAULT_SIGN_EMAIL_RATE_LIMIT
        ),
        onion_sign_limit=_rate_limit(reader, "ONION_SIGN_LIMIT", DEFAULT_ONION_SIGN_LIMIT),
        global_sign_limit=_rate_limit(reader, "GLOBAL_SIGN_LIMIT", DEFAULT_GLOBAL_SIGN_LIMIT),
        receipt_rate_limit=_rate_limit(reader, "RECEIPT_RATE_LIMIT", DEFAULT_RECEIPT_RATE_LIMIT),
        hash_key=hash_key,
        data_keys=data_keys,
        trusted_proxies=reader.integer("TRUSTED_PROXIES", 0, 0, 10),
        default_timezone=_timezone(reader),
        mail_server=reader.text("MAIL_SERVER"),
        mail_port=reader.integer("MAIL_PORT", 25, 1, 65535),
        mail_use_tls=reader.boolean("MAIL_USE_TLS", False),
        mail_username=reader.text("MAIL_USERNAME"),
        mail_password=reader.text("MAIL_PASSWORD"),
        mail_default_sender=reader.text("MAIL_DEFAULT_SENDER", "petitions@localhost"),
        signing_key_file=reader.text("SIGNING_KEY_FILE"),
        signing_key_password=reader.text("SIGNING_KEY_PASSWORD"),
        timestamp_url=reader.text("TIMESTAMP_URL"),
        retention_days=reader.integer("RETENTION_DAYS", 90, 1, 3650),
        base_url=base_url,
        trusted_hosts=_trusted_hosts(reader, base_url, onion_address, production),
        onion_address=onion_address,
        export_dir=reader.text("EXPORT_DIR"),
        public_cache_seconds=reader.integer("PUBLIC_CACHE_SECONDS", 2, 0, 60),
        database_pool_size=reader.integer("DATABASE_POOL_SIZE", 5, 1, 100),
        database_max_overflow=reader.integer("DATABASE_MAX_OVERFLOW", 5, 0, 100),
        outbox_key_store=_outbox_key_store(reader, storage_uri),
        outbox_key_minutes=reader.integer("OUTBOX_KEY_MINUTES", 60, 1, 1440),
        session_idle_minutes=reader.integer("SESSION_IDLE_MINUTES", 30, 2, 1440),
        session_max_hours=reader.integer("SESSION_MAX_HOURS", 12, 1, 168),
        require_two_factor=reader.boolean("REQUIRE_TWO_FACTOR", production),
        fresh_factor_minutes=reader.integer("FRESH_FACTOR_MINUTES", 15, 1, 720),
        news_rate_limit=_rate_limit(reader, "NEWS_RATE_LIMIT", DEFAULT_NEWS_RATE_LIMIT),
    )
    if settings.session_idle_minutes > settings.session_max_hours * 60:
        reader.problems.append(
            f"SESSION_IDLE_MINUTES: {settings.session_idle_minutes} minutes is longer than "
            f"SESSION_MAX_HOURS ({settings.session_max_hours} hours), which ends a session first"
        )
    if reader.problems:
        raise SettingsError(reader.problems)
    if production:
        settings.warnings.extend(_production_warnings(settings))
        return settings
    if reader.text("BASE_URL") is None:
        settings.warnings.append(
            f"BASE_URL is not set: links in emails and pages point at {settings.base_url}; "
            "set BASE_URL to the address visitors use"
        )
    # Only a start whose every setting is accepted writes anything: the development secrets.
    return _generate_missing_secrets(settings, found_secrets, instance_path)
