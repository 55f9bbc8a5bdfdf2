"""What the organisers' dashboard and moderation cost on a large petition.

Seeds N confirmed signatures (encrypted, as in production) spread over 30 days, a tenth of them
from one address and one domain, then times each query the dashboard and the moderation page run.

    .venv/bin/python benchmarks/dashboard.py [count] [database-url]

Default: 100,000 signatures on a fresh SQLite file. For PostgreSQL, pass a URL to an empty
database.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from flask_migrate import upgrade

from petitions.extensions import db
from petitions.models import Signature, SignatureState, utcnow
from petitions.services import moderation, queries
from petitions.services.demo import load_demo
from petitions.services.privacy import keyring
from tests.conftest import make_test_app


def seed(petition, count: int) -> None:
    """Insert `count` confirmed signatures in batches, encrypted by the column types."""
    ring, now, batch = keyring(), utcnow(), []
    home_domain = ring.keyed_hash("email-domain", "mail.kz")
    flood_ip, flood_domain = (
        ring.keyed_hash("ip", "203.0.113.7"),
        ring.keyed_hash("email-domain", "spam.example"),
    )
    for number in range(count):
        flood = number % 10 == 0
        moment = now - timedelta(seconds=(count - number) * 30 * 86400 // count)
        batch.append({
            "petition_id": petition.id, "name": f"Әлия Қасымқызы {number}",
            "email": f"s{number}@{'spam.example' if flood else 'mail.kz'}",
            "email_hash": ring.keyed_hash("email", f"s{number}"),
            "email_domain_hash": flood_domain if flood else home_domain,
            "country": "KZ" if number % 3 else "RU", "city": "Алматы", "show_name": False,
            "ip_hash": flood_ip if flood else ring.keyed_hash("ip", f"10.0.{number % 250}.1"),
            "locale": "ru", "state": SignatureState.CONFIRMED, "created_at": moment,
            "confirmed_at": moment,
        })  # fmt: skip
        if len(batch) == 5000:
            db.session.execute(sa.insert(Signature), batch)
            batch.clear()
    if batch:
        db.session.execute(sa.insert(Signature), batch)
    db.session.commit()


def timed(label: str, call) -> object:
    started = time.perf_counter()
    result = call()
    print(f"  {label:44} {(time.perf_counter() - started) * 1000:8.1f} ms")
    return result


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    workdir = tempfile.mkdtemp()
    url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{workdir}/bench.sqlite3"
    app = make_test_app(url, workdir, TESTING=False)
    with app.app_context():
        upgrade()
        petition = load_demo(utcnow()).petition
        db.session.commit()
        started = time.perf_counter()
        seed(petition, count)
        seconds = time.perf_counter() - started
        print(f"{count} signatures on {url.split(':', 1)[0]}, seeded in {seconds:.1f} s")
        since = moderation.recent_window(utcnow())
        timed("state counts", lambda: moderation.state_counts(petition))
        days = timed(
            "per-day counts (quarter-hour buckets)", lambda: moderation.daily_counts(petition)
        )
        timed("counts by country", lambda: queries.counts_by_country(petition))
        timed("busiest addresses, last hour", lambda: moderation.busiest_addresses(petition, since))
        timed("busiest domains, last hour", lambda: moderation.busiest_domains(petition, since))
        wanted = moderation.SignatureFilter(email_domain="spam.example")
        timed("search by domain (200 shown)", lambda: moderation.search(petition, wanted))
        by_name = moderation.SignatureFilter(name="no such name")
        timed("search by name (scans the 20,000 cap)", lambda: moderation.search(petition, by_name))
        organiser = petition.organiser
        flood = moderation.SignatureFilter(
            address_hash=keyring().keyed_hash("ip", "203.0.113.7").hex()
        )
        invalidated, action = timed(
            "invalidate all from one address",
            lambda: moderation.invalidate(petition, organiser, "flood", utcnow(), wanted=flood),
        )
        db.session.commit()
        timed("undo that action", lambda: moderation.restore(petition, organiser, action_id=action))
        db.session.commit()
        print(f"  ({len(days)} days charted, {invalidated} invalidated and restored)")


if __name__ == "__main__":
    main()
