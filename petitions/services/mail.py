"""Sending mail through the outbox: at least once, in order, with back-off, never lost.

A message is written to the outbox in the same transaction as what caused it, so a signature and
its confirmation email exist together or not at all. The sender claims due messages for a short
lease (so that several workers never send one message twice at once), sends them over SMTP or to
the log, and records success or the next attempt. A crash mid-send only delays a message until its
lease runs out.
"""

from __future__ import annotations

import email.policy
import json
import logging
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Protocol

import sqlalchemy as sa
from limits import RateLimitItem

from petitions.extensions import db
from petitions.models import OutboxMessage
from petitions.services.privacy import mask_email, outbox_keys
from petitions.settings import Settings

log = logging.getLogger("petitions.mail")

#: How long a claimed message is reserved for the worker that claimed it.
LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
SMTP_TIMEOUT_SECONDS = 15


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...

    def close(self) -> None: ...


#: Writes a queued email from its kind and payload: (subject, text, html), or None to drop it.
Renderer = Callable[[str, dict], tuple[str, str, str | None] | None]
#: What a sealed petition's envelope is encrypted for, under the outbox key.
ENVELOPE = "outbox.envelope"
#: The advisory lock (PostgreSQL) under which a worker counts the news sent and claims more, so
#: that workers on several hosts share one NEWS_RATE_LIMIT.
NEWS_CLAIM_LOCK = 7_315_001


def enqueue(
    kind: str,
    recipient: str,
    *,
    subject: str | None = None,
    text: str | None = None,
    html: str | None = None,
    payload: dict | None = None,
    signature_id: int | None = None,
    sealed: bool = False,
) -> None:
    """Put a message in the outbox, written now or (with a payload) when it is sent.

    `sealed`: the address and payload go into one envelope under the outbox's short-lived key
    instead of the data keys, and the email is written only when sent (a payload is required).
    One INSERT at once rather than an object for the unit of work: on the signing path the ORM's
    flush of it cost more than the statement itself.
    """
    values: dict[str, object] = {"recipient": recipient, "envelope": None}
    if sealed:
        if payload is None or subject or text or html:
            raise ValueError("a sealed message carries a payload only")
        document = json.dumps({"recipient": recipient, "payload": payload})
        values = {"recipient": None, "envelope": outbox_keys().encrypt(ENVELOPE, document)}
        payload = None
    db.session.execute(
        sa.insert(OutboxMessage).values(
            kind=kind,
            subject=subject,
            body_text=text,
            body_html=html,
            payload=json.dumps(payload) if payload is not None else None,
            attempts=0,
            signature_id=signature_id,
            **values,
        )
    )


@dataclass(frozen=True)
class Email:
    """A message ready to send: to whom and what."""

    recipient: str
    subject: str
    text: str
    html: str | None
    #: Further headers, such as a news email's List-Unsubscribe (RFC 8058).
    headers: tuple[tuple[str, str], ...] = ()


#: Writes a news email from its outbox message when it is sent, or says why it is dropped.
NewsRenderer = Callable[[OutboxMessage], Email | str]


def contents(
    message: OutboxMessage, render: Renderer | None, news: NewsRenderer | None = None
) -> Email | str:
    """Return what to send, or why there is nothing to send.

    A sealed message is opened and written here and kept nowhere: nothing of it is written back
    to the row, which is erased once sent. Nor is a news email, written from its subscription.
    """
    if message.broadcast_id is not None:
        return news(message) if news is not None else "dropped: nothing to send"
    if message.envelope is not None:
        opened = outbox_keys().decrypt(ENVELOPE, message.envelope)
        if opened is None:
            return "dropped: its outbox key was destroyed before it could be sent"
        document = json.loads(opened)
        email = render(message.kind, document["payload"]) if render is not None else None
        if email is None:
            return "dropped: nothing to send"
        return Email(document["recipient"], *email)
    if not written(message, render):
        return "dropped: nothing to send"
    return Email(
        message.recipient, message.subject or "", message.body_text or "", message.body_html
    )


def written(message: OutboxMessage, render: Renderer | None) -> bool:
    """Make sure a message has its subject and bodies; False if there is nothing to send."""
    if message.body_text is not None:
        return True
    if message.payload is None or render is None:
        return False
    email = render(message.kind, json.loads(message.payload))
    if email is None:
        return False
    message.subject, message.body_text, message.body_html = email
    return True


def retry_delay(attempts: int) -> timedelta:
    """Wait twice as long after each failure: 30 s, 1 min, 2 min ... at most an hour."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)


def _due(now: datetime, news: bool, limit: int) -> list[OutboxMessage]:
    kind = OutboxMessage.broadcast_id.is_not(None) if news else OutboxMessage.broadcast_id.is_(None)
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now, kind)
            .order_by(OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def claim_due(
    now: datetime, limit: int = 50, news_rates: Sequence[RateLimitItem] = ()
) -> list[OutboxMessage]:
    """Reserve up to `limit` due messages for this worker; commit before sending them.

    Other mail comes first, so that news never holds a confirmation back; news messages are
    claimed only as far as `news_rates` still allow (none given: no limit).
    """
    messages = _due(now, False, limit)
    room = limit - len(messages)
    if room > 0 and news_rates:
        room = min(room, news_allowance(now, news_rates))
    news = _due(now, True, room) if room > 0 else []
    for message in messages + news:
        message.attempts += 1
        message.next_attempt_at = now + LEASE
    for message in news:
        message.last_error = None  # marks it in flight: see news_allowance
    db.session.flush()
    return messages + news


def news_allowance(now: datetime, rates: Sequence[RateLimitItem]) -> int:
    """Return how many more news emails may go now under every one of `rates`, for all workers.

    Counted from the database: what went out in each window, and what another worker has
    claimed and may be sending (its lease running, no failure recorded since the claim).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        # Held until the claim is committed: the next worker counts this one's claim.
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(NEWS_CLAIM_LOCK)))
    news = OutboxMessage.broadcast_id.is_not(None)
    in_flight = db.session.scalar(
        sa.select(sa.func.count()).where(
            news,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.attempts > 0,
            OutboxMessage.next_attempt_at > now,
            OutboxMessage.last_error.is_(None),
        )
    )
    room = []
    for rate in rates:
        since = now - timedelta(seconds=rate.get_expiry())
        went = db.session.scalar(
            sa.select(sa.func.count()).where(
                news, OutboxMessage.sent_at > since, OutboxMessage.went_out()
            )
        )
        room.append(rate.amount - went - in_flight)
    return max(min(room), 0)


def _email(message: OutboxMessage, contents: Email, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = contents.recipient
    email["Subject"] = contents.subject
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    email["Auto-Submitted"] = "auto-generated"
    for name, value in contents.headers:
        email[name] = value
    email.set_content(contents.text)
    if contents.html:
        email.add_alternative(contents.html, subtype="html")
    return email


def _mark_sent(message: OutboxMessage, now: datetime) -> None:
    message.sent_at = now
    message.last_error = None
    # The link and the signer's name have done their job; keep only the fact of sending. A
    # sealed message keeps not even its address.
    message.subject = message.body_text = message.body_html = message.payload = None
    message.envelope = None


def _shown_recipient(message: OutboxMessage) -> str:
    """Name a message's recipient in the log: masked, and for a sealed petition not at all."""
    if message.broadcast_id is not None:
        return f"subscription {message.subscription_id}"
    return (
        "a sealed petition's signer" if message.recipient is None else mask_email(message.recipient)
    )


def _mark_failed(message: OutboxMessage, now: datetime, error: Exception) -> None:
    message.next_attempt_at = now + retry_delay(message.attempts)
    message.last_error = f"{type(error).__name__}: {error}"[:500]
    log.warning(
        "mail %s (%s) to %s failed, attempt %d, retry at %s: %s",
        message.id,
        message.kind,
        _shown_recipient(message),
        message.attempts,
        message.next_attempt_at.isoformat(timespec="seconds"),
        message.last_error,
    )


def _permanent(error: Exception) -> bool:
    """Tell a refusal of the recipient for good (a 5xx answer) from a failure worth retrying.

    A refused sender or login is the server's setting, not the address's fault: retried.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _text in error.recipients.values())
    if isinstance(error, smtplib.SMTPSenderRefused | smtplib.SMTPAuthenticationError):
        return False
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def _mark_bounced(message: OutboxMessage, now: datetime, error: Exception) -> None:
    _mark_sent(message, now)
    message.bounced_at = now
    message.last_error = f"{type(error).__name__}: {error}"[:500]
    log.warning("mail %s (%s) refused for good: %s", message.id, message.kind, message.last_error)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    bounced: int = 0


def deliver(
    messages: list[OutboxMessage],
    settings: Settings,
    now: datetime,
    render: Renderer | None = None,
    *,
    news: NewsRenderer | None = None,
    after_each: Callable[[], None] | None = None,
) -> DeliveryReport:
    """Write (if needed) and send claimed messages over one connection; record each outcome.

    `after_each` runs once each message's outcome is flushed: the worker commits there, so one
    that dies after sending leaves at most the message under way unrecorded.
    """
    report = DeliveryReport()
    if not messages:
        return report
    try:
        transport = open_transport(settings)
    except (OSError, smtplib.SMTPException) as error:
        for message in messages:
            _mark_failed(message, now, error)
        report.failed = len(messages)
        db.session.flush()
        return report
    try:
        for message in messages:
            _deliver_one(message, transport, settings, now, report, render, news)
            if after_each is not None:
                db.session.flush()
                after_each()
    finally:
        transport.close()
    db.session.flush()
    return report


def _deliver_one(
    message: OutboxMessage,
    transport: Transport,
    settings: Settings,
    now: datetime,
    report: DeliveryReport,
    render: Renderer | None,
    news: NewsRenderer | None,
) -> None:
    email = contents(message, render, news)
    if isinstance(email, str):
        _mark_sent(message, now)  # nothing left to say (the signature, subscription or key is gone)
        message.last_error = email
        return
    try:
        transport.send(_email(message, email, settings.mail_default_sender))
    except (OSError, smtplib.SMTPException) as error:
        if _permanent(error):
            _mark_bounced(message, now, error)
            report.bounced += 1
        else:
            _mark_failed(message, now, error)
            report.failed += 1
    else:
        _mark_sent(message, now)
        report.sent += 1


def waiting_count() -> int:
    """Count the messages not yet sent."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
    )


class SMTPTransport:
    """One SMTP connection, with STARTTLS and login when configured."""

    def __init__(self, settings: Settings) -> None:
        self.connection = smtplib.SMTP(
            settings.mail_server, settings.mail_port, timeout=SMTP_TIMEOUT_SECONDS
        )
        if settings.mail_use_tls:
            self.connection.starttls(context=ssl.create_default_context())
        if settings.mail_username:
            self.connection.login(settings.mail_username, settings.mail_password or "")

    def send(self, message: EmailMessage) -> None:
        sender, recipient = parseaddr(str(message["From"]))[1], str(message["To"])
        if sender.isascii() and recipient.isascii():
            # smtplib's send_message writes an ASCII message in mbox's old way, a body line
            # that starts with "From " becoming ">From "; the SMTP policy sends it as written.
            data = message.as_bytes(policy=email.policy.SMTP)
            self.connection.sendmail(sender, [recipient], data)
        else:
            self.connection.send_message(message)  # SMTPUTF8, which writes lines as they are

    def close(self) -> None:
        try:
            self.connection.quit()
        except (OSError, smtplib.SMTPException):
            self.connection.close()


class LogTransport:
    """Development without a mail server: write each message to the log instead."""

    def send(self, message: EmailMessage) -> None:
        body = message.get_body(("plain",))
        log.warning(
            "MAIL_SERVER is not set; this email was not sent.\nTo: %s\nSubject: %s\n\n%s",
            mask_email(str(message["To"])),
            message["Subject"],
            body.get_content() if body else "",
        )

    def close(self) -> None:
        pass


def open_transport(settings: Settings) -> Transport:
    """Connect to the configured SMTP server, or fall back to the log."""
    if settings.mail_server is None:
        return LogTransport()
    return SMTPTransport(settings)
