"""What the organisers' dashboard and moderation cost on a large petition.

Seeds N confirmed signatures (encrypted, as in production) spread over 30 days, a tenth of them
from one address and one domain, then times each query the dashboard and the moderation page run.

    .venv/bin/python benchmarks/dashboard.py [count] [database-url]

Default: 100,000 signatures on a fresh SQLite file. For PostgreSQL, pass a URL to an empty
database.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import seeded_app
from petitions.extensions import db
from petitions.models import Petition, utcnow
from petitions.services import moderation, queries
from petitions.services.privacy import keyring


def timed(label: str, call) -> object:
    started = time.perf_counter()
    result = call()
    print(f"  {label:44} {(time.perf_counter() - started) * 1000:8.1f} ms")
    return result


def main() -> None:
    app, petition_id, _url, _workdir = seeded_app(100_000)
    with app.app_context():
        petition = db.session.get(Petition, petition_id)
        since = queries.recent_window(utcnow())
        timed("state counts", lambda: queries.state_counts(petition))
        days = timed(
            "per-day counts (quarter-hour buckets)", lambda: queries.daily_counts(petition)
        )
        timed("counts by country", lambda: queries.counts_by_country(petition))
        timed("busiest addresses, last hour", lambda: queries.busiest_addresses(petition, since))
        timed("busiest domains, last hour", lambda: queries.busiest_domains(petition, since))
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
