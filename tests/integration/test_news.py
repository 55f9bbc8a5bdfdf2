"""News to subscribers through the outbox and a real SMTP server: who gets it, once, in which
language, with RFC 8058's one-click unsubscribe; resumed after a crash, paced, bounces kept."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from petitions import workers
from petitions.models import (
    NewsBroadcast,
    OutboxMessage,
    Outcome,
    PetitionOutcome,
    PetitionUpdate,
    SignatureState,
    Subscription,
    utcnow,
)
from petitions.notifications import render_news
from petitions.services import mail, news
from petitions.services.subscriptions import unsubscribe_token
from tests.conftest import PASSWORD, save
from tests.helpers import csrf_token, login, sign
from tests.html_check import checker, html_errors


@pytest.fixture
def app_overrides(mail_to_smtp):
    return mail_to_smtp


@pytest.fixture
def subscribe(db, make_signature):
    """Make a signer of a petition who chose news, in a language and a state."""

    def make(petition, email, locale="en", state=SignatureState.CONFIRMED, unsubscribed=False):
        signature = make_signature(petition, state=state, email=email)
        subscription = Subscription(
            petition_id=petition.id,
            signature=signature,
            email=email,
            locale=locale,
            unsubscribed_at=utcnow() if unsubscribed else None,
        )
        db.session.add(subscription)
        save(db)
        return subscription

    return make


def _update(db, petition, title="The poet is free", body="He was **released** today."):
    update = PetitionUpdate(petition_id=petition.id, title=title, body=body)
    db.session.add(update)
    save(db)
    return update


def _outcome(db, petition):
    outcome = PetitionOutcome(
        petition_id=petition.id,
        outcome=Outcome.GRANTED,
        answered_on=date(2021, 10, 1),
        answered_by="The Presidential Administration",
        summary="The poet was pardoned and released.",
        link="https://example.org/answer",
    )
    db.session.add(outcome)
    save(db)
    return outcome


def _send(app, clock=utcnow, rate=None):
    settings = app.config["SETTINGS"]
    if rate is not None:
        settings = dataclasses.replace(settings, news_rate_limit=rate)
    return workers.send_mail(settings, 50, clock=clock)


def _broadcast(db, petition, item):
    record = news.broadcast(petition, item, None, utcnow())
    db.session.commit()
    workers.queue_news(utcnow())
    return record


def _received(smtp) -> Counter:
    return Counter(str(message["To"]) for message in smtp.messages)


def test_only_active_subscribers_get_the_update_once_each_in_their_language(
    app, db, runner, smtp, make_petition, subscribe, make_signature
):
    petition = make_petition(title="Free the poet")
    subscribe(petition, "kk@example.org", "kk")
    subscribe(petition, "ru@example.org", "ru")
    subscribe(petition, "en@example.org", "en")
    subscribe(petition, "pending@example.org", state=SignatureState.PENDING)
    subscribe(petition, "withdrawn@example.org", state=SignatureState.WITHDRAWN)
    subscribe(petition, "invalid@example.org", state=SignatureState.INVALIDATED)
    subscribe(petition, "gone@example.org", unsubscribed=True)
    make_signature(petition, email="quiet@example.org")  # signed, never asked for news
    update = _update(db, petition)
    result = runner.invoke(args=["petitions", "news-send", petition.slug, "--update", update.id])
    assert result.exit_code == 0, result.output
    assert f"queued 3 email(s) for {petition.slug} (update:{update.id})" in result.output
    assert _send(app).sent == 3
    assert _send(app).sent == 0
    assert _received(smtp) == Counter(["kk@example.org", "ru@example.org", "en@example.org"])
    by_address = {str(message["To"]): message for message in smtp.messages}
    subjects = {address: message["Subject"] for address, message in by_address.items()}
    assert subjects == {
        "en@example.org": "News of the petition “Free the poet”: The poet is free",
        "ru@example.org": "Новости петиции «Free the poet»: The poet is free",
        "kk@example.org": "«Free the poet» петициясының жаңалығы: The poet is free",
    }
    texts = {a: m.get_body(("plain",)).get_content() for a, m in by_address.items()}
    assert "There is news of the petition you signed:" in texts["en@example.org"]
    assert "Есть новости петиции, которую вы подписали:" in texts["ru@example.org"]
    assert "Сіз қол қойған петиция туралы жаңалық бар:" in texts["kk@example.org"]
    for text in texts.values():
        assert "He was **released** today." in text
        assert f"http://localhost/petitions/{petition.slug}" in text
    messages = db.session.scalars(sa.select(OutboxMessage)).all()
    assert {m.recipient for m in messages} == {None}
    assert all(m.sent_at is not None and m.last_error is None for m in messages)


def test_the_headers_are_rfc_8058_and_a_one_click_post_to_them_unsubscribes(
    app, db, client, smtp, make_petition, subscribe
):
    petition = make_petition()
    subscription = subscribe(petition, "aliya@example.org")
    update = _update(db, petition, body="**Free** <script>alert(1)</script> [page](https://e.org)")
    _broadcast(db, petition, news.update_item(update.id))
    _send(app)
    [message] = smtp.messages
    token = unsubscribe_token(subscription.public_id)
    assert message["List-Unsubscribe"] == f"<http://localhost/news/unsubscribe/{token}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Precedence"] == "bulk"
    assert message["Auto-Submitted"] == "auto-generated"
    html = message.get_body(("html",)).get_content()
    assert "<strong>Free</strong>" in html
    assert "<script>" not in html
    assert '<a href="https://e.org" rel="noopener noreferrer nofollow">page</a>' in html
    assert f'<a href="http://localhost/news/unsubscribe/{token}">' in html
    url = message["List-Unsubscribe"].strip("<>")
    answer = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 204
    db.session.refresh(subscription)
    assert subscription.unsubscribed_at is not None
    assert news.active_count(petition.id) == 0


def test_the_outcome_email_names_the_answer(app, db, smtp, make_petition, subscribe):
    petition = make_petition(title="Free the poet")
    subscribe(petition, "en@example.org")
    subscribe(petition, "ru@example.org", "ru")
    _outcome(db, petition)
    _broadcast(db, petition, news.OUTCOME)
    _send(app)
    by_address = {str(message["To"]): message for message in smtp.messages}
    english = by_address["en@example.org"]
    assert english["Subject"] == "The answer to the petition “Free the poet”: Granted"
    text = english.get_body(("plain",)).get_content()
    assert "Outcome: Granted" in text
    assert "Answered on Oct 1, 2021, The Presidential Administration" in text
    assert "The poet was pardoned and released." in text
    assert "https://example.org/answer" in text
    russian = by_address["ru@example.org"]
    assert russian["Subject"] == "Ответ на петицию «Free the poet»: Удовлетворено"


def test_a_crash_half_way_through_queuing_is_resumed_without_duplicates(
    app, db, smtp, make_petition, subscribe, monkeypatch
):
    petition = make_petition()
    subscriptions = [subscribe(petition, f"s{n}@example.org") for n in range(25)]
    update = _update(db, petition)
    monkeypatch.setattr(news, "CHUNK", 10)
    record = news.broadcast(petition, news.update_item(update.id), None, utcnow())
    # A chunk cut short: one message further on is already there when the crash comes.
    db.session.add(
        OutboxMessage(kind="news", broadcast_id=record.id, subscription_id=subscriptions[12].id)
    )
    db.session.commit()  # ... and the process dies here
    assert record.queued_at is None
    assert news.unfinished() == [record]
    assert workers.queue_news(utcnow()) == 14
    db.session.refresh(record)
    assert record.queued_at is not None
    assert record.queued == 25
    assert workers.queue_news(utcnow()) == 0
    _send(app)
    assert _received(smtp) == Counter(f"s{n}@example.org" for n in range(25))


def test_a_worker_that_dies_after_sending_some_leaves_the_rest_to_the_next(
    app, db, smtp, make_petition, subscribe
):
    petition = make_petition()
    for n in range(5):
        subscribe(petition, f"s{n}@example.org")
    _broadcast(db, petition, news.update_item(_update(db, petition).id))
    now = utcnow()
    claimed = mail.claim_due(now)
    db.session.commit()
    commits = []

    def die_after_the_third():
        db.session.commit()
        commits.append(1)
        if len(commits) == 3:
            raise SystemExit("killed")

    with pytest.raises(SystemExit):
        mail.deliver(
            claimed, app.config["SETTINGS"], now, news=render_news, after_each=die_after_the_third
        )
    db.session.rollback()
    assert len(smtp.messages) == 3
    # Its claim holds the other two until the lease ends; then another worker sends them.
    assert _send(app).sent == 0
    assert _send(app, clock=lambda: now + mail.LEASE + timedelta(seconds=1)).sent == 2
    assert _received(smtp) == Counter(f"s{n}@example.org" for n in range(5))


def test_news_is_paced_by_the_setting_and_confirmations_are_not_held_back(
    app, db, client, smtp, make_petition, subscribe
):
    petition = make_petition()
    for n in range(7):
        subscribe(petition, f"s{n}@example.org")
    _broadcast(db, petition, news.update_item(_update(db, petition).id))
    sign(client, petition.slug, email="new1@example.org")
    start = utcnow()
    assert _send(app, clock=lambda: start, rate="3 per minute").sent == 4
    sign(client, petition.slug, email="new2@example.org")
    later = start + timedelta(seconds=30)
    assert _send(app, clock=lambda: later, rate="3 per minute").sent == 1
    assert [str(m["To"]) for m in smtp.messages][-1] == "new2@example.org"
    after_a_minute = start + timedelta(seconds=61)
    assert _send(app, clock=lambda: after_a_minute, rate="3 per minute").sent == 3
    assert _send(app, clock=lambda: after_a_minute, rate="3 per minute").sent == 0
    end = start + timedelta(seconds=122)
    assert _send(app, clock=lambda: end, rate="3 per minute").sent == 1
    news_sent = [m for m in smtp.messages if m["List-Unsubscribe"]]
    assert len(news_sent) == 7


def test_a_permanent_refusal_is_recorded_and_never_retried(app, db, smtp, make_petition, subscribe):
    petition = make_petition()
    subscribe(petition, "ok@example.org")
    subscribe(petition, "nobody@example.org")
    subscribe(petition, "later@example.org")
    smtp.refuse("nobody@example.org", "550 5.1.1 No such user")
    smtp.refuse("later@example.org", "451 4.7.1 Try again later")
    _broadcast(db, petition, news.update_item(_update(db, petition).id))
    report = _send(app)
    assert (report.sent, report.bounced, report.failed) == (1, 1, 1)
    by_address = {m.subscription_id: m for m in db.session.scalars(sa.select(OutboxMessage)).all()}
    subs = {s.email: s.id for s in db.session.scalars(sa.select(Subscription)).all()}
    bounced = by_address[subs["nobody@example.org"]]
    assert bounced.bounced_at is not None and bounced.sent_at is not None
    assert "550" in bounced.last_error and "No such user" in bounced.last_error
    temporary = by_address[subs["later@example.org"]]
    assert temporary.bounced_at is None and temporary.sent_at is None
    assert "451" in temporary.last_error
    much_later = utcnow() + timedelta(hours=2)
    del smtp.collector.refused["later@example.org"]
    assert _send(app, clock=lambda: much_later).sent == 1
    assert _received(smtp) == Counter(["ok@example.org", "later@example.org"])
    db.session.refresh(bounced)
    assert bounced.attempts == 1


def test_a_message_is_dropped_if_its_subscriber_left_or_its_update_was_removed(
    app, db, smtp, make_petition, subscribe
):
    petition = make_petition()
    staying = subscribe(petition, "stays@example.org")
    leaving = subscribe(petition, "leaves@example.org")
    first, second = _update(db, petition), _update(db, petition, title="Second")
    _broadcast(db, petition, news.update_item(first.id))
    _broadcast(db, petition, news.update_item(second.id))
    leaving.unsubscribed_at = utcnow()
    second.removed_at = utcnow()
    db.session.commit()
    report = _send(app)
    assert report.sent == 1
    assert _received(smtp) == Counter(["stays@example.org"])
    errors = Counter(m.last_error for m in db.session.scalars(sa.select(OutboxMessage)))
    assert errors == Counter(
        {None: 1, "dropped: unsubscribed": 2, "dropped: the update was removed": 1}
    )
    assert staying.unsubscribed_at is None


# The dashboard, its buttons and who may press them -----------------------------------------


@pytest.fixture
def organiser(app, make_account):
    account = make_account("owner@example.org")
    client = app.test_client()
    assert login(client, account.email, PASSWORD).status_code == 303
    return account, client


def _row(page: str, item: str) -> list[str]:
    row = re.search(rf'<tr id="news-{item}">(.*?)</tr>', page, re.S)
    assert row, f"no row for {item}"
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    ]


def test_the_dashboard_counts_each_sending(app, db, smtp, make_petition, subscribe, organiser):
    account, client = organiser
    petition = make_petition(organiser=account)
    for address in ("a@example.org", "b@example.org", "c@example.org", "d@example.org"):
        subscribe(petition, address)
    smtp.refuse("c@example.org", "550 5.1.1 No such user")
    update = _update(db, petition, title="Released")
    unsent = _update(db, petition, title="Not yet sent")
    dashboard = f"/organiser/petitions/{petition.id}"
    page = client.get(dashboard).get_data(as_text=True)
    assert "4 signers asked to be emailed news of this petition." in page
    assert _row(page, f"update-{update.id}")[1:] == ["Not sent", "Send to 4 subscribers"]
    token = csrf_token(client, dashboard)
    answer = client.post(f"{dashboard}/news/updates/{update.id}/send", data={"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{dashboard}#news"
    assert _send(app, rate="3 per minute").bounced == 1
    # Two news emails went, one was refused, one waits; and the sign-in warning went too.
    assert len([m for m in smtp.messages if m["List-Unsubscribe"]]) == 2
    page = client.get(dashboard).get_data(as_text=True)
    cells = _row(page, f"update-{update.id}")
    assert cells[:5] == ["Released", "4", "2", "1", "1"]
    assert cells[5].startswith("Sending since "), "one is left"
    assert _row(page, f"update-{unsent.id}")[1] == "Not sent"
    [event] = list(db.session.scalars(sa.select(NewsBroadcast)))
    assert event.created_by_id == account.id
    assert "News sent to subscribers" in page


def test_sending_the_same_item_twice_is_refused_with_a_message(
    app, db, runner, make_petition, subscribe, organiser
):
    account, client = organiser
    petition = make_petition(organiser=account)
    subscribe(petition, "a@example.org")
    update = _update(db, petition)
    dashboard = f"/organiser/petitions/{petition.id}"
    path = f"{dashboard}/news/updates/{update.id}/send"
    token = csrf_token(client, dashboard)
    assert client.post(path, data={"csrf_token": token}).status_code == 303
    again = client.post(path, data={"csrf_token": token}, follow_redirects=True)
    assert "This was sent to the subscribers already: each item is sent once." in again.get_data(
        as_text=True
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NewsBroadcast)) == 1
    news_messages = sa.select(sa.func.count()).where(OutboxMessage.broadcast_id.is_not(None))
    assert db.session.scalar(news_messages) == 1
    result = runner.invoke(args=["petitions", "news-send", petition.slug, "--update", update.id])
    assert result.exit_code == 1
    assert f"Error: {petition.slug}: update {update.id} was already sent to the subscribers" in (
        result.output
    )


def test_the_buttons_need_an_owner_or_editor_and_the_petition_s_own_update(
    app, db, make_petition, make_account, subscribe, organiser
):
    account, owner = organiser
    petition = make_petition(organiser=account)
    subscribe(petition, "a@example.org")
    update = _update(db, petition)
    _outcome(db, petition)
    other = make_petition()
    foreign = _update(db, other)
    dashboard = f"/organiser/petitions/{petition.id}"
    token = csrf_token(owner, dashboard)
    from petitions.models import MemberRole, Membership

    clients = {}
    for role in (MemberRole.EDITOR, MemberRole.MODERATOR, MemberRole.VIEWER):
        member = make_account(f"{role}@example.org")
        db.session.add(Membership(petition=petition, organiser=member, role=role))
        save(db)
        clients[role] = member_client = app.test_client()
        assert login(member_client, member.email, PASSWORD).status_code == 303
    outcome_path = f"{dashboard}/news/outcome/send"
    for role in (MemberRole.MODERATOR, MemberRole.VIEWER):
        member_token = csrf_token(clients[role], dashboard)
        refused = clients[role].post(outcome_path, data={"csrf_token": member_token})
        assert refused.status_code == 403
        assert "does not allow this" in refused.get_data(as_text=True)
        page = clients[role].get(dashboard).get_data(as_text=True)
        assert "Send to 1 subscriber" not in page
    assert (
        owner.post(
            f"{dashboard}/news/updates/{foreign.id}/send", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert (
        owner.post(
            f"/organiser/petitions/{other.id}/news/outcome/send", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert owner.post(f"{dashboard}/news/updates/{update.id}/send", data={}).status_code == 400
    editor_token = csrf_token(clients[MemberRole.EDITOR], dashboard)
    sent = clients[MemberRole.EDITOR].post(outcome_path, data={"csrf_token": editor_token})
    assert sent.status_code == 303
    assert [r.item for r in db.session.scalars(sa.select(NewsBroadcast))] == ["outcome"]


def test_the_command_refuses_clearly(runner, db, make_petition):
    petition = make_petition()
    neither = runner.invoke(args=["petitions", "news-send", petition.slug])
    assert neither.exit_code == 2
    assert "give either --update ID or --outcome" in neither.output
    both = runner.invoke(
        args=["petitions", "news-send", petition.slug, "--update", "1", "--outcome"]
    )
    assert both.exit_code == 2
    unknown = runner.invoke(args=["petitions", "news-send", "nope", "--outcome"])
    assert (unknown.exit_code, unknown.output) == (1, "Error: no petition with the slug 'nope'\n")
    no_update = runner.invoke(args=["petitions", "news-send", petition.slug, "--update", "99"])
    assert no_update.exit_code == 1
    assert f"Error: {petition.slug}: this petition has no update 99" in no_update.output
    no_outcome = runner.invoke(args=["petitions", "news-send", petition.slug, "--outcome"])
    assert no_outcome.output == f"Error: {petition.slug}: this petition has no outcome recorded\n"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_news_section_and_the_emails_pass_the_html_checker(
    app, db, smtp, make_petition, subscribe, organiser, tmp_path
):
    jar = checker()
    account, client = organiser
    petition = make_petition(organiser=account)
    subscribe(petition, "kk@example.org", "kk")
    subscribe(petition, "ru@example.org", "ru")
    sent = _update(db, petition, body="**Free**, see [the page](https://example.org).")
    _update(db, petition, title="Not yet sent")
    _outcome(db, petition)
    _broadcast(db, petition, news.update_item(sent.id))
    _broadcast(db, petition, news.OUTCOME)
    _send(app)
    files = []
    for number, message in enumerate(smtp.messages):
        if message["List-Unsubscribe"]:
            file = tmp_path / f"email-{number}.html"
            file.write_text(message.get_body(("html",)).get_content(), encoding="utf-8")
            files.append(file)
    assert len(files) == 4
    for language in ("en", "kk", "ru"):
        client.set_cookie("lang", language)
        file = tmp_path / f"dashboard-{language}.html"
        file.write_text(client.get(f"/organiser/petitions/{petition.id}").get_data(as_text=True))
        files.append(file)
    errors = html_errors(jar, files)
    assert not errors, errors
