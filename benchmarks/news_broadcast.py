"""News to 100,000 subscribers: the time to queue it, and the pace it is then sent at.

Seeds N confirmed signatures on the demo appeal (encrypted as in production, Core inserts) and a
subscription for each (kk, ru and en in turn), posts an update, and times `news.broadcast` and
`workers.queue_news`, one commit per chunk, as `flask petitions news-send` runs them. Then it
sends the first M of those emails to a local SMTP server (aiosmtpd in a process of its own, as a
real server would be, counting what it receives) through the mail worker's own round,
`workers.send_mail`, called every 50 ms as `mail worker` calls it, under NEWS_RATE_LIMIT, and
prints the rate achieved (from the first call to the last email) beside the setting.

    .venv/bin/python benchmarks/news_broadcast.py [subscribers] [database-url] [sent] [rate]

Default: 100,000 subscribers on a fresh SQLite file, 1,500 sent at "50 per second". For
PostgreSQL, pass a URL to an empty database.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from benchmarks.common import arguments, demo_app, insert_in_batches, seed
from petitions import workers
from petitions.extensions import db
from petitions.models import (
    NewsBroadcast,
    OutboxMessage,
    Petition,
    PetitionUpdate,
    Signature,
    Subscription,
    new_public_id,
    utcnow,
)
from petitions.services import news
from tests.smtp import free_port

BUDGET_SECONDS = 30.0
LOCALES = ("kk", "ru", "en")
#: A counting SMTP server: it prints how many messages it received when its input closes.
SERVER = """
import sys
from aiosmtpd.controller import Controller
class Count:
    received = 0
    async def handle_DATA(self, server, session, envelope):
        Count.received += 1
        return "250 OK"
controller = Controller(Count(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
print(Count.received, flush=True)
"""


def subscribe_everyone(petition_id: int) -> int:
    """Give every signature of the petition a subscription, in batches of Core inserts."""
    rows = db.session.execute(
        sa.select(Signature.id, Signature.email).where(Signature.petition_id == petition_id)
    ).all()
    now = utcnow()
    insert_in_batches(
        Subscription,
        (
            {
                "public_id": new_public_id(),
                "petition_id": petition_id,
                "signature_id": signature_id,
                "email": email,
                "locale": LOCALES[number % 3],
                "created_at": now,
            }
            for number, (signature_id, email) in enumerate(rows)
        ),
    )
    return len(rows)


def queue(petition: Petition) -> tuple[float, int]:
    """Broadcast a new update as the command does; return the seconds and messages queued."""
    update = PetitionUpdate(petition_id=petition.id, title="Released", body="He is **free**.")
    db.session.add(update)
    db.session.commit()
    started = time.perf_counter()
    record = news.broadcast(petition, news.update_item(update.id), None, utcnow())
    db.session.commit()
    workers.queue_news(utcnow())
    seconds = time.perf_counter() - started
    db.session.refresh(record)
    return seconds, record.queued


def send(app, count: int, rate: str) -> tuple[float, int]:
    """Send `count` news emails through the worker's round; return the seconds and how many."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout.readline().strip() == "ready"
    settings = dataclasses.replace(
        app.config["SETTINGS"], mail_server="127.0.0.1", mail_port=port, news_rate_limit=rate
    )
    sent, started = 0, time.perf_counter()
    try:
        while sent < count:
            sent += workers.send_mail(settings, 50).sent
            seconds = time.perf_counter() - started
            time.sleep(0.05)
    finally:
        received, _ = server.communicate("")
    assert int(received) == sent, f"the server received {received.strip()}, not {sent}"
    return seconds, sent


def main() -> None:
    count, url, workdir = arguments(100_000)
    to_send = int(sys.argv[3]) if len(sys.argv) > 3 else 1500
    rate = sys.argv[4] if len(sys.argv) > 4 else "50 per second"
    app, petition_id = demo_app(url, workdir)
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    with app.app_context():
        petition = db.session.get(Petition, petition_id)
        started = time.perf_counter()
        seed(petition, count)
        subscribed = subscribe_everyone(petition_id)
        print(
            f"seeded {subscribed} subscribers on {backend} in {time.perf_counter() - started:.1f} s"
        )
        seconds, queued = queue(petition)
        verdict = "under" if seconds < BUDGET_SECONDS else "OVER"
        print(f"queued {queued} emails in {seconds:.2f} s ({verdict} the {BUDGET_SECONDS:.0f} s)")
        rows = db.session.scalar(
            sa.select(sa.func.count()).where(OutboxMessage.broadcast_id.is_not(None))
        )
        active = news.active_count(petition_id)
        assert rows == queued == active, (rows, queued, active)
        assert db.session.scalar(sa.select(NewsBroadcast.queued_at)) is not None
        seconds, sent = send(app, to_send, rate)
        amount, per = settings_rate(app, rate)
        achieved = sent / seconds if seconds else float("inf")
        print(
            f"sent {sent} in {seconds:.1f} s: {achieved:.1f} per second "
            f"against the setting {rate!r} ({amount / per:.1f} per second, "
            f"{achieved / (amount / per):.2f} of it); load {os.getloadavg()[0]:.1f}"
        )
        db.engine.dispose()


def settings_rate(app, rate: str) -> tuple[int, int]:
    """Return the tightest window of a NEWS_RATE_LIMIT as (amount, seconds)."""
    settings = dataclasses.replace(app.config["SETTINGS"], news_rate_limit=rate)
    tightest = min(settings.news_rates, key=lambda item: item.amount / item.get_expiry())
    return tightest.amount, tightest.get_expiry()


if __name__ == "__main__":
    main()
