"""A sign-in from a browser the organiser never used sends them a warning, through real SMTP."""

import re

import pytest
import sqlalchemy as sa

from petitions.models import OrganiserBrowser, OutboxMessage
from petitions.organiser.sessions import BROWSER_COOKIE
from tests.conftest import PASSWORD
from tests.helpers import login, post_form

FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture
def app_overrides(mail_to_smtp):
    return mail_to_smtp


@pytest.fixture
def organiser(make_account):
    return make_account("saule@example.org", "Saule")


def _browser(app, user_agent: str, language: str = "en"):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    return client


def _sign_in_and_out(client, organiser) -> None:
    assert login(client, organiser.email, PASSWORD).status_code == 303
    assert post_form(client, "/organiser/logout", form_page="/organiser/").status_code == 303


def _send(runner) -> str:
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_new_browser_is_told_once_and_a_known_one_never(app, db, runner, smtp, organiser):
    phone = _browser(app, FIREFOX_ANDROID)
    _sign_in_and_out(phone, organiser)
    assert "sent 1, failed 0, waiting 0" in _send(runner)
    [message] = smtp.messages
    assert message["To"] == "saule@example.org"
    assert message["From"] == "petitions@example.org"
    assert message["Subject"] == "A new browser signed in to your organiser account"
    text = message.get_body(("plain",)).get_content()
    assert "Hello Saule," in text
    assert "Browser: Firefox on Android" in text
    assert re.search(r"When: \w+ \d+, \d{4}, \d+:\d\d\s[AP]M \(Asia/Almaty\)", text), text
    assert "http://localhost/organiser/login" in text
    assert "http://localhost/organiser/account" in text
    assert "http://localhost/organiser/reset" in text
    assert "end that session" in text
    assert "choose a new password" in text

    _sign_in_and_out(phone, organiser)
    _sign_in_and_out(phone, organiser)
    assert "sent 0, failed 0, waiting 0" in _send(runner)
    assert len(smtp.messages) == 1, "the same browser is known"

    laptop = _browser(app, CHROME_WINDOWS)
    _sign_in_and_out(laptop, organiser)
    _send(runner)
    assert len(smtp.messages) == 2
    assert "Browser: Chrome on Windows" in smtp.messages[1].get_body(("plain",)).get_content()


def test_a_browser_cookie_of_another_organiser_still_counts_as_new(
    app, db, runner, smtp, organiser, make_account
):
    shared = _browser(app, FIREFOX_ANDROID)
    _sign_in_and_out(shared, make_account("aidos@example.org", "Aidos"))
    _sign_in_and_out(shared, organiser)
    _send(runner)
    assert [message["To"] for message in smtp.messages] == [
        "aidos@example.org",
        "saule@example.org",
    ]
    hashes = db.session.scalars(sa.select(OrganiserBrowser.token_hash)).all()
    assert len(set(hashes)) == 2, "one browser, two organisers: two unrelated hashes"


def test_a_forged_or_stolen_browser_cookie_is_new_to_the_account(app, db, runner, smtp, organiser):
    phone = _browser(app, FIREFOX_ANDROID)
    _sign_in_and_out(phone, organiser)
    thief = _browser(app, CHROME_WINDOWS)
    thief.set_cookie(BROWSER_COOKIE, "x" * 43, path="/organiser")
    _sign_in_and_out(thief, organiser)
    nonsense = _browser(app, CHROME_WINDOWS)
    nonsense.set_cookie(BROWSER_COOKIE, "<script>" * 40, path="/organiser")
    _sign_in_and_out(nonsense, organiser)
    _send(runner)
    assert len(smtp.messages) == 3


def test_the_warning_is_in_the_language_of_a_browser_the_organiser_knows(
    app, db, runner, smtp, organiser
):
    """The new browser may be a thief's: its language is not the organiser's."""
    _sign_in_and_out(_browser(app, FIREFOX_ANDROID, "kk"), organiser)
    _sign_in_and_out(_browser(app, CHROME_WINDOWS, "en"), organiser)
    _sign_in_and_out(_browser(app, CHROME_WINDOWS, "ru"), organiser)
    _send(runner)
    subject = "Ұйымдастырушы есептік жазбаңызға жаңа браузерден кірді"
    assert [message["Subject"] for message in smtp.messages] == [subject] * 3
    texts = [message.get_body(("plain",)).get_content() for message in smtp.messages]
    assert "Сәлеметсіз бе, Saule!" in texts[0]
    assert "Браузер: Firefox, Android" in texts[0]
    assert "Браузер: Chrome, Windows" in texts[1]


def test_a_failed_sign_in_sends_nothing_and_sets_no_browser_cookie(app, db, runner, organiser):
    client = _browser(app, FIREFOX_ANDROID)
    answer = login(client, organiser.email, "not the password at all")
    assert answer.status_code == 401
    assert [c for c in answer.headers.getlist("Set-Cookie") if BROWSER_COOKIE in c] == []
    assert db.session.scalars(sa.select(OutboxMessage)).all() == []
