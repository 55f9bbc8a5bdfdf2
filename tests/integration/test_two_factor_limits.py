"""Guessing second-factor codes is slowed per account, whatever the address, and per address."""

import pytest

from petitions.models import utcnow
from petitions.organiser.sessions import CLOCK
from petitions.services import two_factor
from tests.conftest import PASSWORD
from tests.factor_helpers import CODE_PAGE, WRONG, Clock, code, turn_on, wrong_code
from tests.helpers import csrf_token, login, post_form


@pytest.fixture
def app_overrides(limit_storage):
    return {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": limit_storage}


@pytest.fixture
def clock(app, monkeypatch):
    ticking = Clock(utcnow())
    monkeypatch.setitem(app.extensions, CLOCK, ticking)
    return ticking


def _guess(client, value, address):
    token = csrf_token(client, CODE_PAGE)
    return client.post(
        CODE_PAGE,
        data={"csrf_token": token, "code": value},
        environ_base={"REMOTE_ADDR": address},
    )


def test_the_code_page_is_limited_per_account_whatever_the_address(client, make_account, clock):
    organiser = make_account("target@example.org")
    assert login(client, organiser.email, PASSWORD).status_code == 303
    secret, _codes = turn_on(client, clock)
    post_form(client, "/organiser/logout", form_page="/organiser/")
    assert login(client, organiser.email, PASSWORD).headers["Location"] == CODE_PAGE
    clock.advance(seconds=30)
    answers = [_guess(client, wrong_code(secret, clock), f"198.51.100.{n}") for n in range(10)]
    # Ten codes an hour for one account, on every page that takes one: the code that turned the
    # factor on was the first.
    assert [answer.status_code for answer in answers] == [401] * 9 + [429]
    assert WRONG in answers[0].get_data(as_text=True)
    # Even the right code waits: a thief must not learn it by being let in.
    assert _guess(client, code(secret, clock), "198.51.100.99").status_code == 429
    assert client.get("/organiser/").headers["Location"] == CODE_PAGE


def _with_factor(db, organiser, clock):
    """Turn an account's factor on directly: only the code page's requests are counted here."""
    secret = two_factor.pending_secret(organiser, clock.now)
    assert two_factor.turn_on(organiser, code(secret, clock), clock.now) is not None
    db.session.commit()
    return secret


def _password(client, email, address):
    token = csrf_token(client, "/organiser/login")
    data = {"csrf_token": token, "email": email, "password": PASSWORD}
    answer = client.post("/organiser/login", data=data, environ_base={"REMOTE_ADDR": address})
    assert answer.headers["Location"] == CODE_PAGE


def test_the_code_page_is_limited_per_address_across_accounts(db, client, make_account, clock):
    statuses = []
    for number in range(11):
        organiser = make_account(f"user{number}@example.org")
        secret = _with_factor(db, organiser, clock)
        _password(client, organiser.email, f"192.0.2.{number}")
        statuses.append(_guess(client, wrong_code(secret, clock), "203.0.113.5").status_code)
    assert statuses == [401] * 10 + [429]
