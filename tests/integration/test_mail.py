"""Mail through a real SMTP server: the confirmation arrives, works, and survives outages."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import has_request_context

from petitions import notifications, workers
from petitions.models import OutboxMessage, PetitionState, utcnow
from petitions.services import mail
from tests.helpers import confirm_path, csrf_token, sign
from tests.smtp import SMTPServer


@pytest.fixture
def app_overrides(mail_to_smtp):
    return mail_to_smtp


def _outbox(db):
    return db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_a_signer_confirms_through_a_real_email(client, db, runner, smtp, make_petition):
    petition = make_petition(title="Pardon the poet")
    sign(client, petition.slug, email="aliya@example.org", headers={"Accept-Language": "kk"})
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "sent 1, failed 0, waiting 0" in result.output
    [message] = smtp.messages
    assert message["To"] == "aliya@example.org"
    assert message["From"] == "petitions@example.org"
    assert "Pardon the poet" in message["Subject"]
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Әлия Қасымқызы Үмбетова" in text
    link = confirm_path(text)
    assert link in html
    token = csrf_token(client, link)
    assert client.post(link, data={"csrf_token": token}).status_code == 303
    assert client.get(f"/petitions/{petition.slug}.json").json["signature_count"] == 1


def test_a_line_that_starts_with_from_arrives_as_it_was_written(db, runner, smtp):
    text = "The poet's letter:\nFrom the prison, I thank every one of you.\n"
    mail.enqueue("test", "aliya@example.org", subject="A letter", text=text)
    mail.enqueue("test", "әлия@мысал.қаз", subject="Хат", text=text)
    db.session.commit()
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    bodies = {
        str(m["To"]): m.get_body(("plain",)).get_content().replace("\r\n", "\n")
        for m in smtp.messages
    }
    assert bodies == {"aliya@example.org": text, "әлия@мысал.қаз": text}


def test_a_sent_message_keeps_no_body_or_link(db, client, runner, smtp, make_petition):
    petition = make_petition()
    sign(client, petition.slug)
    runner.invoke(args=["mail", "send"])
    [message] = _outbox(db)
    db.session.refresh(message)
    assert message.sent_at is not None
    assert (message.subject, message.body_text, message.body_html) == (None, None, None)


def test_with_smtp_down_mail_waits_and_all_of_it_goes_when_it_returns(
    client, db, runner, smtp_port, make_petition
):
    petition = make_petition()
    for number in range(3):
        sign(client, petition.slug, email=f"signer{number}@example.org")
    down = runner.invoke(args=["mail", "send"])
    assert down.exit_code == 1
    assert "sent 0, failed 3, waiting 3" in down.output
    for message in _outbox(db):
        db.session.refresh(message)
        assert message.attempts == 1
        assert message.sent_at is None
        assert "ConnectionRefusedError" in message.last_error
        assert message.next_attempt_at > utcnow() + timedelta(seconds=20)
    # Nothing is due yet: a second round inside the back-off sends nothing.
    server = SMTPServer(smtp_port).start()
    try:
        assert "sent 0, failed 0, waiting 3" in runner.invoke(args=["mail", "send"]).output
        db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
        back = runner.invoke(args=["mail", "send"])
        assert back.exit_code == 0
        assert "sent 3, failed 0, waiting 0" in back.output
        assert sorted(m["To"] for m in server.messages) == [
            f"signer{number}@example.org" for number in range(3)
        ]
    finally:
        server.stop()


def test_back_off_doubles_up_to_an_hour():
    assert [mail.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert mail.retry_delay(30) == timedelta(hours=1)


def test_a_claimed_message_is_not_claimed_twice_until_its_lease_ends(db, client, make_petition):
    petition = make_petition()
    sign(client, petition.slug)
    now = utcnow()
    assert len(mail.claim_due(now)) == 1
    db.session.commit()
    assert mail.claim_due(now) == []
    assert len(mail.claim_due(now + mail.LEASE + timedelta(seconds=1))) == 1


def test_the_worker_closes_expired_petitions_and_sends_mail(
    client, db, runner, smtp, make_petition
):
    open_petition = make_petition()
    lapsed = make_petition(
        opens_at=utcnow() - timedelta(days=6), closes_at=utcnow() - timedelta(days=1)
    )
    sign(client, open_petition.slug)
    result = runner.invoke(args=["mail", "worker", "--rounds", "1", "--interval", "0"])
    assert result.exit_code == 0, result.output
    assert f"closed {lapsed.slug}" in result.output
    assert "sent 2, failed 0" in result.output  # the confirmation, and the owner's news of it
    db.session.refresh(lapsed)
    assert lapsed.state == PetitionState.CLOSED
    assert [message["To"] for message in smtp.messages] == [
        "aliya@example.org",
        lapsed.organiser.email,
    ]


def test_close_expired_command(runner, db, make_petition, make_signature):
    lapsed = make_petition(
        opens_at=utcnow() - timedelta(days=6), closes_at=utcnow() - timedelta(hours=1)
    )
    make_signature(lapsed)
    still_open = make_petition()
    result = runner.invoke(args=["petitions", "close-expired"])
    assert result.exit_code == 0
    assert "1 petition(s) closed." in result.output
    db.session.refresh(lapsed)
    db.session.refresh(still_open)
    assert lapsed.state == PetitionState.CLOSED
    assert lapsed.closed_at == lapsed.closes_at
    assert still_open.state == PetitionState.OPEN
    assert "0 petition(s) closed." in runner.invoke(args=["petitions", "close-expired"]).output


def test_the_worker_writes_links_on_the_recorded_base_url_outside_any_request(
    app, client, db, smtp, make_petition, monkeypatch
):
    petition = make_petition(slug="pardon")
    sign(client, petition.slug)

    def no_test_requests(*args, **kwargs):
        raise AssertionError("the worker must not fake a request")

    monkeypatch.setattr(app, "test_request_context", no_test_requests)
    assert not has_request_context()
    report = workers.send_mail(app.config["SETTINGS"], batch=50)
    assert (report.sent, report.failed) == (1, 0)
    text = smtp.messages[0].get_body(("plain",)).get_content()
    links = re.findall(r"https?://\S+", text)
    parts = [link.split("/", 4)[3] for link in links]
    assert parts == ["signatures", "petitions", "signatures", "petitions"]
    assert all(link.startswith("http://localhost/") for link in links)
    assert "http://localhost/petitions/pardon" in links


def test_links_on_a_base_url_keep_its_scheme_host_and_path(app):
    with app.app_context():
        link = notifications.links_on("https://petitions.example.org/kz/")
        assert link("public.show_petition", slug="pardon") == (
            "https://petitions.example.org/kz/petitions/pardon"
        )
        bare = notifications.links_on("http://127.0.0.1:8000")
        assert (
            bare("public.show_petition", slug="pardon") == "http://127.0.0.1:8000/petitions/pardon"
        )
