"""What the benchmarks share: an application on a fresh database with the demo appeal, and
seeding it with many signatures encrypted as in production."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from petitions.extensions import db
from petitions.models import Petition, Signature, SignatureState, new_public_id, utcnow
from petitions.services.demo import load_demo
from petitions.services.privacy import keyring
from petitions.services.receipts import leaf_of
from tests.conftest import make_test_app


def arguments(default_count: int) -> tuple[int, str, str]:
    """Read `[count] [database-url]` from the command line; default to a fresh SQLite file.

    `-h` or `--help` prints the benchmark's docstring (its use) and stops.
    """
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(sys.modules["__main__"].__doc__)
        raise SystemExit(0)
    count = int(sys.argv[1]) if len(sys.argv) > 1 else default_count
    workdir = tempfile.mkdtemp()
    url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{workdir}/bench.sqlite3"
    return count, url, workdir


def demo_app(url: str, workdir: str) -> tuple[Flask, int]:
    """Migrate an empty database, load the demo appeal; return the app and the petition's id."""
    app = make_test_app(url, workdir, TESTING=False)
    with app.app_context():
        upgrade()
        petition = load_demo(utcnow()).petition
        db.session.commit()
        return app, petition.id


def seeded_app(default_count: int, *, leaves: bool = True) -> tuple[Flask, int, str, str]:
    """Read the command line, make the demo app and seed it; return (app, petition id, url,
    work directory)."""
    count, url, workdir = arguments(default_count)
    app, petition_id = demo_app(url, workdir)
    with app.app_context():
        started = time.perf_counter()
        seed(db.session.get(Petition, petition_id), count, leaves=leaves)
        seconds = time.perf_counter() - started
        print(f"seeded {count} signatures on {url.split(':', 1)[0]} in {seconds:.1f} s")
        db.engine.dispose()
    return app, petition_id, url, workdir


def insert_in_batches(model, rows: Iterable[dict], size: int = 5000) -> None:
    """Insert rows through the model's table (Core), `size` at a time, and commit."""
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            db.session.execute(sa.insert(model), batch)
            batch.clear()
    if batch:
        db.session.execute(sa.insert(model), batch)
    db.session.commit()


def seed(petition, count: int, *, leaves: bool = True) -> None:
    """Insert `count` confirmed signatures in batches, encrypted by the column types.

    Each has its receipt leaf stored, as signing stores it; with `leaves=False` none has, as
    signatures made before receipts, whose leaves the export computes.
    """
    ring, now = keyring(), utcnow()
    home_domain = ring.keyed_hash("email-domain", "mail.kz")
    flood_ip, flood_domain = (
        ring.keyed_hash("ip", "203.0.113.7"),
        ring.keyed_hash("email-domain", "spam.example"),
    )

    def rows() -> Iterator[dict]:
        for number in range(count):
            flood = number % 10 == 0
            moment = now - timedelta(seconds=(count - number) * 30 * 86400 // count)
            public_id = new_public_id()
            yield (
                {
                    "petition_id": petition.id,
                    "public_id": public_id,
                    "receipt_leaf": leaf_of(petition.public_id, public_id, ring)
                    if leaves
                    else None,
                    "name": f"Әлия Қасымқызы {number}",
                    "email": f"s{number}@{'spam.example' if flood else 'mail.kz'}",
                    "email_hash": ring.keyed_hash("email", f"s{number}"),
                    "email_domain_hash": flood_domain if flood else home_domain,
                    "country": "KZ" if number % 3 else "RU",
                    "city": "Алматы",
                    "show_name": False,
                    "ip_hash": flood_ip
                    if flood
                    else ring.keyed_hash("ip", f"10.0.{number % 250}.1"),
                    "locale": "ru",
                    "state": SignatureState.CONFIRMED,
                    "created_at": moment,
                    "confirmed_at": moment,
                }
            )

    insert_in_batches(Signature, rows())
