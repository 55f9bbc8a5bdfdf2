"""Seizing the server: what a sealed petition's signers are worth to whoever takes everything.

After signatures in Kazakh, Russian and Arabic, the test takes what a seizure takes: the database
files (SQLite with its WAL and shared memory; PostgreSQL's `pg_dump`, the database's own heap and
index files after a checkpoint, dead tuples included, and the WAL written meanwhile), `instance/`,
the logs and every key the server holds. It then looks for the signers' names, emails, cities and
comments: in clear in every byte, and by decrypting every encrypted value it can find, carved out
of the raw files, with every key it took. It finds none, once the outbox key has been destroyed;
and `unseal`, with the organiser's key alone, yields every row into a bundle that verifies.

Controls that show the search can find what it looks for: the name a signer chose to show is
found (it is kept readable, by design), and before the outbox key is destroyed, the address of a
signer whose email has not gone yet is found too.

One signer asks for news: the form tells them the server then keeps their address, and the
seizure finds it, and nothing else of them, until the purge. After the purge the database holds
it no more (no row, not in the SQLite file or PostgreSQL's dump, nowhere in clear); only the
history of the writes (the WAL, PostgreSQL's dead tuples) still has an encrypted copy.
"""

from __future__ import annotations

import base64
import csv
import io
import logging
import os
import re
import secrets
import shutil
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from petitions import workers
from petitions.crypto import DecryptionError, EncryptedText, Keyring, _key_id
from petitions.delivery.keys import ensure_development_key, load_signing_key
from petitions.delivery.sealed import unseal
from petitions.delivery.verify import verify_bundle
from petitions.extensions import db as _db
from petitions.models import DeliveryKind, Petition, PetitionState, utcnow
from petitions.outbox_keys import OutboxKeys
from petitions.sealing import SealingIdentity
from petitions.services import export, lifecycle, retention
from petitions.services.accounts import create_organiser
from petitions.services.privacy import email_hashes
from tests.conftest import POSTGRES_ADMIN, make_test_app, unavailable
from tests.helpers import confirm_path, csrf_token, sign
from tests.smtp import SMTPServer

SLUG = "free-the-poet"
RUN = secrets.token_hex(3)


@dataclass(frozen=True)
class Signer:
    name: str
    email: str
    country: str
    city: str
    comment: str | None
    show_name: bool = False
    confirms: bool = True
    #: Ticks "email me news": the server keeps this address readable until the purge.
    news: bool = False


SIGNERS = (
    Signer(
        "Айгерім Сәрсенбаева", f"aigerim.s{RUN}@example.kz", "KZ", "Талдықорған", "Ақынға бостандық"
    ),
    Signer(
        "Дмитрий Колесников",
        f"kolesnikov{RUN}@example.ru",
        "RU",
        "Новосибирск",
        "Свободу поэту",
        news=True,
    ),
    Signer("فاطمة الزهراء", f"fatima{RUN}@example.org", "EG", "الإسكندرية", "الحرية للشاعر"),
    Signer("Нұрлан Әбілұлы", f"nurlan{RUN}@example.kz", "KZ", "Шымкент", None, show_name=True),
    # Signs last and never confirms: the email is still waiting when the server is taken.
    Signer(
        "Гүлнар Жақсылықова", f"gulnar{RUN}@example.kz", "KZ", "Қызылорда", "Кеш", confirms=False
    ),
)
PUBLIC_NAME = "Нұрлан Әбілұлы"
LATE = SIGNERS[-1]
SUBSCRIBER = SIGNERS[1]


def _secrets() -> set[str]:
    """Everything of the signers that a seizure must not yield."""
    found = set()
    for signer in SIGNERS:
        found |= {signer.email, signer.email.split("@")[0], signer.city}
        if signer.comment:
            found.add(signer.comment)
        if not signer.show_name:
            found.add(signer.name)
    return found


def _random_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


class Clock:
    """The outbox keys' clock, moved by the test: a key period passes without waiting."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


# The database of the seized server: one of its own, so that what is taken is only its own.


@pytest.fixture
def seized_database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'server' / 'petitions.sqlite3'}"
        return
    name = f"petitions_seizure_{uuid.uuid4().hex[:10]}"
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


@pytest.fixture
def server(seized_database: str, tmp_path: Path) -> Iterator[tuple[Flask, SMTPServer, Clock]]:
    """A server with keys of its own, real SMTP, and outbox keys on the test's clock."""
    (tmp_path / "server").mkdir(exist_ok=True)
    smtp = SMTPServer().start()
    log = logging.FileHandler(tmp_path / "server" / "server.log", encoding="utf-8")
    log.setLevel(logging.DEBUG)
    # The SMTP server runs in this process for the test, but it is the mail provider's machine,
    # not ours: its own log ("mail.log", aiosmtpd's) is not part of what is seized.
    log.addFilter(lambda record: not record.name.startswith("mail.log"))
    logging.getLogger().addHandler(log)
    previous_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    application = make_test_app(
        seized_database,
        str(tmp_path / "server" / "instance"),
        HASH_KEY=_random_key(),
        DATA_KEYS=_random_key(),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp.port),
        MAIL_DEFAULT_SENDER="petitions@example.org",
    )
    clock = Clock()
    keys: OutboxKeys = application.extensions["petitions.outbox_keys"]
    keys.clock = clock
    with application.app_context():
        upgrade()
    try:
        yield application, smtp, clock
    finally:
        with application.app_context():
            _db.session.remove()
            _db.engine.dispose()
        logging.getLogger().removeHandler(log)
        logging.getLogger().setLevel(previous_level)
        log.close()
        smtp.stop()


# Taking everything.


def _seize_sqlite(application: Flask, target: Path) -> None:
    path = Path(sa.make_url(application.config["SETTINGS"].database_url).database)
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            shutil.copy(source, target / source.name)
    assert (target / (path.name + "-wal")).stat().st_size > 0, "the WAL must be taken too"


def _seize_postgres(application: Flask, target: Path, wal_from: str) -> None:
    url = sa.make_url(application.config["SETTINGS"].database_url)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run(["pg_dump", plain], capture_output=True, check=True)
    (target / "dump.sql").write_bytes(dump.stdout)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute("CHECKPOINT")
        data = Path(connection.execute("SHOW data_directory").fetchone()[0])
        wal_to = connection.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]
        relations = connection.execute(
            "SELECT pg_relation_filepath(oid) FROM pg_class "
            "WHERE relkind IN ('r', 't', 'i', 'm') AND pg_relation_filepath(oid) IS NOT NULL"
        ).fetchall()
    if not os.access(data, os.R_OK):
        unavailable(f"cannot read PostgreSQL's files under {data} (run the tests as root)")
    heap = target / "heap"
    heap.mkdir()
    for (relative,) in relations:
        for segment in (data / relative).parent.glob(Path(relative).name + "*"):
            shutil.copy(segment, heap / segment.name)
    wal = target / "wal"
    wal.mkdir()
    for segment in sorted((data / "pg_wal").iterdir()):
        if re.fullmatch(r"[0-9A-F]{24}", segment.name) and wal_from <= segment.name <= wal_to:
            shutil.copy(segment, wal / segment.name)
    assert any(wal.iterdir()), "the WAL written during the test must be taken too"


def _wal_position(application: Flask) -> str:
    if application.config["SETTINGS"].database_url.startswith("sqlite"):
        return ""
    with application.app_context():
        return _db.session.scalar(sa.text("SELECT pg_walfile_name(pg_current_wal_lsn())"))


@dataclass(frozen=True)
class Seizure:
    """What was taken: every file's bytes, and the keys found among them and in the settings."""

    files: dict[str, bytes]
    ring: Keyring
    outbox_keys: list[bytes]


def seize(application: Flask, target: Path, wal_from: str) -> Seizure:
    target.mkdir()
    settings = application.config["SETTINGS"]
    if settings.database_url.startswith("sqlite"):
        _seize_sqlite(application, target)
    else:
        _seize_postgres(application, target, wal_from)
    instance = Path(application.config["INSTANCE_PATH"])
    shutil.copytree(instance, target / "instance")
    logging.getLogger().handlers[-1].flush()
    shutil.copy(instance.parent / "server.log", target / "server.log")
    (target / "environment").write_text(
        f"SECRET_KEY={settings.secret_key}\nHASH_KEY={settings.hash_key.hex()}\n"
        f"DATA_KEYS={','.join(key.hex() for key in settings.data_keys)}\n"
    )
    files = {
        str(path.relative_to(target)): path.read_bytes()
        for path in sorted(target.rglob("*"))
        if path.is_file()
    }
    outbox = [
        data
        for name, data in files.items()
        if name.startswith("instance/outbox-keys/") and name.endswith(".key")
    ]
    return Seizure(files, Keyring(settings.hash_key, settings.data_keys), outbox)


# Looking through it.

#: What an encrypted value may hold, in bytes: names, addresses, payloads and short bodies.
LONGEST_PLAINTEXT = 600
_TOKEN_OVERHEAD = 1 + 4 + 12 + 16


def _purposes() -> list[str]:
    """Every purpose an encrypted column binds in, plus the outbox envelope's."""
    purposes = {"outbox.envelope"}
    for table in _db.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                purposes.add(column.type.purpose)
    return sorted(purposes)


def carve_data_tokens(blob: bytes, ring: Keyring, purposes: list[str]) -> set[str]:
    """Decrypt every value under the data keys found anywhere in `blob`, whatever surrounds it."""
    found: set[str] = set()
    for key in ring.data_keys:
        marker = b"\x01" + _key_id(key)
        start = blob.find(marker)
        while start != -1:
            found |= _open_at(blob, start, ring, purposes)
            start = blob.find(marker, start + 1)
    return found


def carve_outbox_tokens(blob: bytes, keys: list[bytes]) -> set[str]:
    """Decrypt every outbox envelope found anywhere in `blob` with any outbox key taken."""
    found: set[str] = set()
    for key in keys:
        ring = Keyring(hash_key=b"", data_keys=(key,))
        marker = b"\x01" + _key_id(key)
        start = blob.find(marker)
        while start != -1:
            found |= _open_at(blob, start, ring, ["outbox.envelope"])
            start = blob.find(marker, start + 1)
    return found


def _open_at(blob: bytes, start: int, ring: Keyring, purposes: list[str]) -> set[str]:
    """Try every length a token starting at `start` may have, for every purpose."""
    found = set()
    for length in range(_TOKEN_OVERHEAD, _TOKEN_OVERHEAD + LONGEST_PLAINTEXT):
        token = blob[start : start + length]
        if len(token) < length:
            break
        for purpose in purposes:
            try:
                found.add(ring.decrypt(purpose, token))
            except (DecryptionError, UnicodeDecodeError):
                continue
    return found


def _in_clear(seizure: Seizure, needles: set[str]) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for name, data in seizure.files.items():
        lowered = data.lower()
        for needle in needles:
            if needle.encode("utf-8") in data or needle.lower().encode("utf-8") in lowered:
                hits.setdefault(needle, []).append(name)
    return hits


def _readable(seizure: Seizure) -> set[str]:
    """Every plaintext the keys taken open, carved out of every file taken."""
    purposes = _purposes()
    plaintexts: set[str] = set()
    for data in seizure.files.values():
        plaintexts |= carve_data_tokens(data, seizure.ring, purposes)
        plaintexts |= carve_outbox_tokens(data, seizure.outbox_keys)
    return plaintexts


def _readable_file(seizure: Seizure, name: str) -> set[str]:
    """Every plaintext the keys taken open, carved out of one file taken."""
    data = seizure.files[name]
    return carve_data_tokens(data, seizure.ring, _purposes()) | carve_outbox_tokens(
        data, seizure.outbox_keys
    )


def _is_write_history(name: str) -> bool:
    """Tell a file of the database's history of writes (WAL, heap pages with dead tuples) from
    one of what it holds now (the SQLite file, the dump)."""
    return name.endswith("-wal") or name.startswith(("wal/", "heap/"))


def _found_in(plaintexts: set[str], needles: set[str]) -> set[str]:
    return {needle for needle in needles if any(needle in text for text in plaintexts)}


# The server at work, as signers and the organiser use it.


def _sign_everyone(client, smtp: SMTPServer) -> None:
    for signer in SIGNERS:
        fields = {
            "name": signer.name,
            "email": signer.email,
            "country": signer.country,
            "city": signer.city,
            "comment": signer.comment,
            "show_name": "y" if signer.show_name else None,
            "news": "y" if signer.news else None,
        }
        language = {"KZ": "kk", "RU": "ru"}.get(signer.country, "en")
        response = sign(client, SLUG, headers={"Accept-Language": language}, **fields)
        assert response.status_code == 303, response.get_data(as_text=True)
        if signer.confirms:
            _send_mail(client.application)
            message = smtp.messages[-1]
            assert message["To"] == signer.email
            text = message.get_body(("plain",)).get_content()
            assert signer.name not in text  # the server greets no one by name
            link = confirm_path(text)
            token = csrf_token(client, link)
            assert client.post(link, data={"csrf_token": token}).status_code == 303


def _send_mail(application: Flask) -> workers.MailRound:
    with application.app_context():
        return workers.mail_round(application.config["SETTINGS"], 50)


def test_a_seized_server_yields_no_signer_of_a_sealed_petition(server, tmp_path):
    application, smtp, clock = server
    identity = SealingIdentity.generate()
    wal_from = _wal_position(application)
    with application.app_context():
        now = utcnow()
        organiser = create_organiser("bureau@example.org", "Bureau", "correct horse battery staple")
        petition = Petition(
            slug=SLUG,
            title="Pardon the poet",
            summary="An appeal for mercy.",
            body="We ask for his release.",
            recipient="President of the Republic of Kazakhstan",
            language="kk",
            opens_at=now,
            closes_at=now + timedelta(days=5),
            organiser=organiser,
        )
        _db.session.add(petition)
        petition.publish(now)
        _db.session.flush()
        lifecycle.seal(petition, identity.public_key.line, organiser)
        _db.session.commit()
    client = application.test_client()
    _sign_everyone(client, smtp)
    confirmed = [signer for signer in SIGNERS if signer.confirms]
    assert len(smtp.messages) == len(confirmed)
    needles = _secrets()

    # Control: before the outbox key is destroyed, the waiting email's address can be read.
    before = seize(application, tmp_path / "before", wal_from)
    assert before.outbox_keys, "the current outbox key is among what was taken"
    assert LATE.email in _found_in(_readable(before), {LATE.email})

    # An hour, and another: the mail worker destroys the key; the waiting email can no longer go.
    clock.now += 2 * 3600
    done = _send_mail(application)
    assert done.keys_destroyed, "the old outbox key was destroyed"
    assert len(smtp.messages) == len(confirmed)

    seizure = seize(application, tmp_path / "after", wal_from)
    assert seizure.outbox_keys == []
    assert _in_clear(seizure, needles) == {}
    readable = _readable(seizure)
    # Control: the carving finds what the keys open, here the name shown publicly by choice,
    # and the address of the signer who asked for news, kept readable until the purge (the
    # form says so); nothing else of them, and nothing of anyone else.
    assert PUBLIC_NAME in readable
    news_address = {SUBSCRIBER.email, SUBSCRIBER.email.split("@")[0]}
    assert _found_in(readable, needles) == news_address

    # What the keyed hashes still tell: whether a suspected address signed (docs/threat-model.md).
    with application.app_context():
        suspected = email_hashes(SIGNERS[0].email, seizure.ring).email
        stored = _db.session.scalars(sa.text("SELECT email_hash FROM signatures")).all()
        assert suspected in {bytes(value) for value in stored}

    # The organiser, offline, with the private key alone: every confirmed row, in a bundle that
    # verifies.
    with application.app_context():
        stored_petition = _db.session.scalar(sa.select(Petition).where(Petition.slug == SLUG))
        request = export.ExportRequest(
            stored_petition, tmp_path / "exports", DeliveryKind.INTERIM, utcnow()
        )
        (tmp_path / "exports").mkdir()
        sealed = export.build(request, None)
        sealed.leaves.close()  # the receipts' tree is not recorded here
    assert sealed.path.name.endswith(".sealed.zip")
    with zipfile.ZipFile(sealed.path) as archive:
        contents = b"".join(archive.read(name) for name in archive.namelist())
    assert not [n for n in needles | {PUBLIC_NAME} if n.encode() in contents]

    organiser_machine = tmp_path / "organiser"
    organiser_machine.mkdir()
    key = load_signing_key(ensure_development_key(organiser_machine), None)
    bundle = unseal(sealed.path, identity, organiser_machine, key)
    assert verify_bundle(bundle.path).valid
    with zipfile.ZipFile(bundle.path) as archive:
        rows = list(csv.reader(io.StringIO(archive.read("signatures.csv").decode("utf-8-sig"))))
    names_and_cities = {(row[1], row[2]) for row in rows[1:]}
    assert names_and_cities == {(signer.name, signer.city) for signer in confirmed}
    assert bundle.signature_count == len(confirmed)
    assert stored_petition.state == PetitionState.OPEN

    # The petition closes and is purged: the subscriber's address goes from the database too.
    with application.app_context():
        stored_petition = _db.session.scalar(sa.select(Petition).where(Petition.slug == SLUG))
        lifecycle.close_early(stored_petition, None, utcnow(), "delivered")
        report = retention.purge(stored_petition, utcnow())
        _db.session.commit()
    assert report.subscriptions == 1
    purged = seize(application, tmp_path / "purged", wal_from)
    assert _in_clear(purged, needles) == {}
    with application.app_context():
        assert _db.session.scalar(sa.text("SELECT count(*) FROM subscriptions")) == 0
    # The database no longer holds it: not the SQLite file (secure_delete zeroes what is
    # deleted), not PostgreSQL's dump. What this purge cannot reach is the history of the
    # writes: the WAL, and PostgreSQL's dead tuples, keep an encrypted copy until they are
    # overwritten, and the keys taken open it (docs/threat-model.md says so).
    found_in = {
        name for name in purged.files if _found_in(_readable_file(purged, name), news_address)
    }
    assert found_in, "the carving finds the WAL's copy (a control)"
    assert all(_is_write_history(name) for name in found_in), found_in
    assert _found_in(_readable(purged), needles) == news_address
