"""Passkeys as a second factor: adding one (only with a fresh code), signing in with one after
the password, and the refusals: a challenge used twice, another origin, a spoilt signature, a
counter going backwards, someone else's passkey."""

import html

import pytest
import sqlalchemy as sa

from petitions.models import OrganiserSession, Passkey, PasskeyChallenge, utcnow
from petitions.organiser.sessions import CLOCK
from tests.conftest import PASSWORD
from tests.factor_helpers import CODE_PAGE, SET_UP, WRONG, Clock, code, turn_on
from tests.helpers import csrf_token, login, post_form
from tests.passkey_helpers import SoftPasskey, b64

ADD = "/organiser/account/passkeys"
ADD_OPTIONS = "/organiser/account/passkeys/options"
SIGN_IN = "/organiser/login/passkey"
SIGN_IN_OPTIONS = "/organiser/login/passkey/options"

CHALLENGE_GONE = (
    "This passkey request is no longer valid: it was already answered, or is more than five "
    "minutes old. Try again."
)
INVALID = "The passkey's answer could not be checked for this site. Try again, or use a code."
COUNTER = (
    "This passkey was refused: its use counter went backwards, as happens when a passkey has "
    "been copied. Use a code, and remove the passkey if you do not trust it."
)
UNKNOWN = "This passkey is not one of this account's. Use another, or a code."


@pytest.fixture
def clock(app, monkeypatch):
    ticking = Clock(utcnow())
    monkeypatch.setitem(app.extensions, CLOCK, ticking)
    return ticking


@pytest.fixture
def organiser(make_account):
    return make_account("aigerim@example.org", "Aigerim")


@pytest.fixture
def with_factor(client, organiser, clock):
    """Signed in with the app's factor just turned on: (client, secret)."""
    assert login(client, organiser.email, PASSWORD).status_code == 303
    secret, _codes = turn_on(client, clock)
    return client, secret


def _text(answer) -> str:
    return html.unescape(answer.get_data(as_text=True))


def _options(client, path: str, form_page: str):
    answer = client.post(path, data={"csrf_token": csrf_token(client, form_page)})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "no-store"
    return answer.get_json()


def _add(client, secret, clock, passkey, *, name="Laptop", given_code=None, **register):
    options = _options(client, ADD_OPTIONS, SET_UP)
    clock.advance(seconds=30)
    return client.post(
        ADD,
        data={
            "csrf_token": csrf_token(client, SET_UP),
            "name": name,
            "code": code(secret, clock) if given_code is None else given_code,
            "credential": passkey.register(options, **register),
        },
    )


def _passkeys(db) -> list[Passkey]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Passkey).order_by(Passkey.id)))


@pytest.fixture
def with_passkey(with_factor, clock, db):
    """Signed in, with the app and one passkey: (client, secret, passkey)."""
    client, secret = with_factor
    passkey = SoftPasskey()
    answer = _add(client, secret, clock, passkey)
    assert answer.status_code == 303, _text(answer)
    assert answer.headers["Location"] == SET_UP
    return client, secret, passkey


def _sign_out_and_give_password(client, organiser):
    post_form(client, "/organiser/logout", form_page=SET_UP)
    assert login(client, organiser.email, PASSWORD).headers["Location"] == CODE_PAGE


def _answer(client, credential: str):
    return client.post(
        SIGN_IN, data={"csrf_token": csrf_token(client, CODE_PAGE), "credential": credential}
    )


# Adding ----------------------------------------------------------------------------------------


def test_a_passkey_is_added_with_a_fresh_code_and_listed(with_passkey, db, organiser):
    client, _secret, passkey = with_passkey
    [stored] = _passkeys(db)
    assert stored.organiser_id == organiser.id
    assert stored.name == "Laptop"
    assert stored.credential_id == passkey.credential_id
    assert stored.sign_count == 0
    assert stored.transports == "internal"
    assert stored.last_used_at is None
    page = _text(client.get(SET_UP))
    assert "The passkey “Laptop” is added." in page
    assert "<td>Laptop</td>" in page
    assert "<td>Never</td>" in page
    # Its challenge was taken: none is left waiting.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PasskeyChallenge)) == 0


def test_adding_a_passkey_is_refused_without_a_right_fresh_code(with_factor, clock, db):
    client, secret = with_factor
    answer = _add(client, secret, clock, SoftPasskey(), given_code="")
    assert answer.status_code == 422
    assert "Enter the code." in _text(answer)
    answer = _add(client, secret, clock, SoftPasskey(), given_code="000000x")
    assert answer.status_code == 422
    assert WRONG in _text(answer)
    assert _passkeys(db) == []


def test_adding_a_passkey_made_for_another_origin_is_refused(with_factor, clock, db):
    client, secret = with_factor
    answer = _add(client, secret, clock, SoftPasskey(), origin="https://petitions.example.net")
    assert answer.status_code == 422
    assert INVALID in _text(answer)
    assert _passkeys(db) == []


def test_adding_needs_the_challenge_given_for_it(with_factor, clock, db):
    client, secret = with_factor
    options = _options(client, ADD_OPTIONS, SET_UP)
    first = SoftPasskey().register(options)
    clock.advance(seconds=30)
    data = {"csrf_token": csrf_token(client, SET_UP), "name": "One", "credential": first}
    assert client.post(ADD, data={**data, "code": code(secret, clock)}).status_code == 303
    # The same challenge a second time, with another right code: refused.
    clock.advance(seconds=30)
    again = client.post(ADD, data={**data, "name": "Two", "code": code(secret, clock)})
    assert again.status_code == 422
    assert CHALLENGE_GONE in _text(again)
    assert [p.name for p in _passkeys(db)] == ["One"]


# Signing in ------------------------------------------------------------------------------------


def test_the_code_page_offers_a_passkey_only_to_an_account_with_one(
    with_factor, with_passkey, client, organiser
):
    _sign_out_and_give_password(client, organiser)
    page = _text(client.get(CODE_PAGE))
    assert "Use a passkey" in page
    assert 'src="/static/js/passkeys.js"' in page


def test_a_good_assertion_signs_in_as_a_code_does(with_passkey, organiser, clock, db):
    client, _secret, passkey = with_passkey
    _sign_out_and_give_password(client, organiser)
    options = _options(client, SIGN_IN_OPTIONS, CODE_PAGE)
    assert options["rpId"] == "localhost"
    assert [c["id"] for c in options["allowCredentials"]] == [b64(passkey.credential_id)]
    clock.advance(seconds=5)
    answer = _answer(client, passkey.assert_(options))
    assert answer.status_code == 303, _text(answer)
    assert answer.headers["Location"] == "/organiser/"
    assert client.get("/organiser/").status_code == 200
    [stored] = _passkeys(db)
    assert stored.sign_count == 1
    assert stored.last_used_at == clock.now
    # The factor counts as given on the new session, as after a right code.
    live = db.session.scalars(
        sa.select(OrganiserSession).where(OrganiserSession.ended_at.is_(None))
    ).all()
    assert [s.factor_at for s in live] == [clock.now]


def test_a_challenge_is_answered_once(with_passkey, organiser, clock):
    client, _secret, passkey = with_passkey
    _sign_out_and_give_password(client, organiser)
    options = _options(client, SIGN_IN_OPTIONS, CODE_PAGE)
    credential = passkey.assert_(options)
    kept = client.get_cookie("session").value
    assert _answer(client, credential).status_code == 303
    _sign_out_and_give_password(client, organiser)
    # The old cookie, naming the same challenge, and the same answer: refused.
    client.set_cookie("session", kept, domain="localhost")
    again = _answer(client, credential)
    assert again.status_code == 401
    assert CHALLENGE_GONE in _text(again)
    assert client.get("/organiser/").headers["Location"] == CODE_PAGE


def test_a_challenge_older_than_five_minutes_is_refused(with_passkey, organiser, clock):
    client, _secret, passkey = with_passkey
    _sign_out_and_give_password(client, organiser)
    options = _options(client, SIGN_IN_OPTIONS, CODE_PAGE)
    # The password again, later: the half sign-in is young, the challenge is not.
    clock.advance(minutes=4)
    assert login(client, organiser.email, PASSWORD).headers["Location"] == CODE_PAGE
    clock.advance(minutes=1, seconds=1)
    answer = _answer(client, passkey.assert_(options))
    assert answer.status_code == 401
    assert CHALLENGE_GONE in _text(answer)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        ({"origin": "https://petitions.example.net"}, INVALID),
        ({"tamper": True}, INVALID),
    ],
    ids=["another-origin", "bad-signature"],
)
def test_a_spoilt_assertion_is_refused(with_passkey, organiser, db, spoil, message):
    client, _secret, passkey = with_passkey
    _sign_out_and_give_password(client, organiser)
    options = _options(client, SIGN_IN_OPTIONS, CODE_PAGE)
    answer = _answer(client, passkey.assert_(options, **spoil))
    assert answer.status_code == 401
    assert message in _text(answer)
    assert client.get("/organiser/").headers["Location"] == CODE_PAGE
    assert _passkeys(db)[0].last_used_at is None


def test_a_sign_count_going_backwards_is_refused(with_passkey, organiser, db):
    client, _secret, passkey = with_passkey
    _sign_out_and_give_password(client, organiser)
    options = _options(client, SIGN_IN_OPTIONS, CODE_PAGE)
    assert _answer(client, passkey.assert_(options, count=5)).status_code == 303
    _sign_out_and_give_password(client, organiser)
    for count in (5, 3):
        assert login(client, organiser.email, PASSWORD).headers["Location"] == CODE_PAGE
        options = _options(client, SIGN_IN_OPTIONS, CODE_PAGE)
        answer = _answer(client, passkey.assert_(options, count=count))
        assert answer.status_code == 401
        assert COUNTER in _text(answer)
    assert _passkeys(db)[0].sign_count == 5


def test_another_organisers_passkey_is_refused(with_passkey, organiser, make_account, app, clock):
    client, _secret, _passkey = with_passkey
    other_client = app.test_client()
    other = make_account("other@example.org", "Other")
    assert login(other_client, other.email, PASSWORD).status_code == 303
    other_secret, _codes = turn_on(other_client, clock)
    stranger = SoftPasskey()
    assert _add(other_client, other_secret, clock, stranger).status_code == 303
    _sign_out_and_give_password(client, organiser)
    options = _options(client, SIGN_IN_OPTIONS, CODE_PAGE)
    answer = _answer(client, stranger.assert_(options))
    assert answer.status_code == 401
    assert UNKNOWN in _text(answer)


def test_passkey_options_need_the_password_first(client, organiser):
    token = csrf_token(client, "/organiser/login")
    answer = client.post(SIGN_IN_OPTIONS, data={"csrf_token": token})
    assert answer.status_code == 401
    assert answer.get_json() == {"error": "no sign-in under way"}


# Removing --------------------------------------------------------------------------------------


def test_removing_a_passkey_asks_for_a_fresh_factor(with_passkey, clock, db, make_account):
    client, secret, _passkey = with_passkey
    [stored] = _passkeys(db)
    path = f"/organiser/account/passkeys/{stored.id}/remove"
    clock.advance(minutes=16)
    asked = post_form(client, path, form_page=SET_UP)
    assert asked.status_code == 401
    assert "Confirm that it is you" in _text(asked)
    assert len(_passkeys(db)) == 1
    confirm = client.post(
        "/organiser/account/confirm",
        data={
            "csrf_token": csrf_token(client, SET_UP),
            "code": code(secret, clock),
            "next": path,
            "resend": "1",
        },
    )
    assert confirm.status_code == 307
    removed = post_form(client, path, form_page=SET_UP)
    assert removed.status_code == 303
    assert _passkeys(db) == []
    assert post_form(client, path, form_page=SET_UP).status_code == 404


def test_turning_the_factor_off_removes_the_passkeys(with_passkey, clock, db):
    client, secret, _passkey = with_passkey
    clock.advance(seconds=30)
    answer = post_form(
        client, "/organiser/account/two-factor/off", {"code": code(secret, clock)}, SET_UP
    )
    assert answer.status_code == 303
    assert _passkeys(db) == []


def test_a_passkey_gives_the_factor_again_before_an_action(with_passkey, clock, db):
    client, _secret, passkey = with_passkey
    [stored] = _passkeys(db)
    path = f"/organiser/account/passkeys/{stored.id}/remove"
    clock.advance(minutes=16)
    asked = post_form(client, path, form_page=SET_UP)
    assert asked.status_code == 401
    assert "Use a passkey" in _text(asked)
    options = _options(client, "/organiser/account/confirm/passkey/options", SET_UP)
    data = {"csrf_token": csrf_token(client, SET_UP), "next": path, "resend": "1"}
    # A sign-in's answer is not a confirmation's: another origin is refused here too.
    spoilt = client.post(
        "/organiser/account/confirm/passkey",
        data={**data, "credential": passkey.assert_(options, origin="http://evil.example")},
    )
    assert spoilt.status_code == 401
    assert INVALID in _text(spoilt)
    options = _options(client, "/organiser/account/confirm/passkey/options", SET_UP)
    confirmed = client.post(
        "/organiser/account/confirm/passkey", data={**data, "credential": passkey.assert_(options)}
    )
    assert confirmed.status_code == 307
    assert confirmed.headers["Location"] == path
    assert post_form(client, path, form_page=SET_UP).status_code == 303
    assert _passkeys(db) == []


def test_a_challenge_drawn_for_one_ceremony_is_refused_for_another(with_passkey, clock, db):
    client, secret, _passkey = with_passkey
    # Options for giving a passkey again, answered as if they were for adding one.
    options = _options(client, "/organiser/account/confirm/passkey/options", SET_UP)
    clock.advance(seconds=30)
    answer = client.post(
        ADD,
        data={
            "csrf_token": csrf_token(client, SET_UP),
            "name": "Second",
            "code": code(secret, clock),
            "credential": SoftPasskey().register(options),
        },
    )
    assert answer.status_code == 422
    assert CHALLENGE_GONE in _text(answer)
    assert [p.name for p in _passkeys(db)] == ["Laptop"]
