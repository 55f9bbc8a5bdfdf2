"""The background rounds: send mail, close expired petitions, purge, build requested exports.

Each round is a plain function that runs inside an application context, commits its own short
transactions (a crash loses at most the step under way) and returns what it did; `run` repeats a
round until it is stopped. `flask mail worker` and `flask exports worker` (petitions/cli.py) only
print what the rounds return.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from petitions.errors import DATABASE_OUTAGES
from petitions.extensions import db
from petitions.models import DeliveryKind, ExportStatus, utcnow
from petitions.notifications import render_message, render_news
from petitions.services import export, lifecycle, mail, news, retention, sessions
from petitions.services.privacy import outbox_keys
from petitions.settings import Settings


def send_mail(
    settings: Settings, batch: int, clock: Callable[[], datetime] = utcnow
) -> mail.DeliveryReport:
    """Send every message due now (news as far as NEWS_RATE_LIMIT allows), committing each."""
    total = mail.DeliveryReport()
    while True:
        now = clock()
        messages = mail.claim_due(now, limit=batch, news_rates=settings.news_rates)
        db.session.commit()
        if not messages:
            return total
        report = mail.deliver(
            messages,
            settings,
            now,
            render=render_message,
            news=render_news,
            after_each=db.session.commit,
        )
        db.session.commit()
        total.sent += report.sent
        total.failed += report.failed
        total.bounced += report.bounced
        if report.failed and not (report.sent or report.bounced):
            return total  # the server refuses everything now; the back-off decides when next


def queue_news(now: datetime) -> int:
    """Queue what every unfinished broadcast still lacks, one commit per chunk; return how many.

    This is how a broadcast too large for one request, or cut short by a crash, is finished.
    """
    queued = 0
    for record in news.unfinished():
        while record.queued_at is None:
            queued += news.queue_chunk(record, now)
            db.session.commit()
    return queued


def close_expired(now: datetime) -> list[str]:
    """Record CLOSED for every open petition whose window has ended; return their slugs."""
    closed = [petition.slug for petition in lifecycle.close_expired(now)]
    db.session.commit()
    return closed


def purge_due(
    wait: timedelta, *, dry_run: bool = False, only: str | None = None, actor: str = "system"
) -> list[retention.PurgeReport]:
    """Purge (or only count) each petition due for the purge, committing once per petition."""
    reports = []
    for petition in retention.due_for_purge(utcnow(), wait):
        if only is not None and petition.slug != only:
            continue
        if dry_run:
            reports.append(retention.preview(petition))
            continue
        reports.append(retention.purge(petition, utcnow(), actor_label=actor))
        db.session.commit()
    return reports


@dataclass
class MailRound:
    """What one round of the mail worker did."""

    closed: list[str] = field(default_factory=list)
    purged: list[retention.PurgeReport] = field(default_factory=list)
    sent: mail.DeliveryReport = field(default_factory=mail.DeliveryReport)
    #: News messages queued for broadcasts left unfinished.
    news_queued: int = 0
    #: The periods of the outbox keys destroyed this round.
    keys_destroyed: list[int] = field(default_factory=list)
    #: Records of organisers' sessions deleted, a month after they began.
    sessions_forgotten: int = 0


def mail_round(settings: Settings, batch: int) -> MailRound:
    """Close expired petitions, purge those due, send the mail that waits, destroy old keys."""
    done = MailRound()
    done.closed = close_expired(utcnow())
    # Closing first lets a petition that just ended be counted from its closing at once.
    done.purged = purge_due(timedelta(days=settings.retention_days))
    done.news_queued = queue_news(utcnow())
    done.sent = send_mail(settings, batch)
    done.keys_destroyed = outbox_keys().destroy_expired()
    done.sessions_forgotten = sessions.forget_old(utcnow())
    db.session.commit()
    return done


@dataclass(frozen=True)
class ExportRound:
    """The export one round of the export worker built, and how it ended."""

    delivery_id: int
    slug: str
    kind: DeliveryKind
    status: ExportStatus
    error: str | None


def export_round() -> ExportRound | None:
    """Claim the oldest waiting export and build it; None when nothing waits."""
    delivery = export.claim_export(utcnow())
    db.session.commit()
    if delivery is None:
        return None
    slug, kind = delivery.petition.slug, delivery.kind
    delivery = export.run_export(delivery, utcnow())
    db.session.commit()
    return ExportRound(delivery.id, slug, kind, delivery.status, delivery.error)


def stop_on_signals() -> threading.Event:
    """Return an event that SIGTERM or SIGINT sets (in the main thread only)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        return stop  # only the main thread may take signals; a worker run in a thread uses rounds
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop


def run(
    one_round: Callable[[], object],
    *,
    interval: float,
    rounds: int = 0,
    stop: threading.Event | None = None,
    on_outage: Callable[[Exception], None] = lambda error: None,
) -> int:
    """Run a round every `interval` seconds until stopped, or `rounds` times; return how many.

    A database outage ends only the round it hit: the session is rolled back, `on_outage` is
    told, and the next round tries again.
    """
    stop = stop or threading.Event()
    done = 0
    while not stop.is_set():
        try:
            one_round()
        except DATABASE_OUTAGES as error:
            db.session.rollback()
            on_outage(error)
        done += 1
        if rounds and done >= rounds:
            break
        stop.wait(interval)
    return done
