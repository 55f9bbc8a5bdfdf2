"""Organisers' sessions on the server: limits, ending them from elsewhere, signing out, the list."""

import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from petitions.models import (
    AuditEvent,
    OrganiserSession,
    SessionEnd,
    utcnow,
)
from petitions.organiser.sessions import BROWSER_COOKIE, CLOCK
from petitions.services import accounts
from tests.conftest import PASSWORD
from tests.helpers import csrf_token, login, post_form

FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = utcnow().replace(microsecond=0)

    def __call__(self):
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app, monkeypatch):
    moved = Clock()
    monkeypatch.setitem(app.extensions, CLOCK, moved)
    return moved


@pytest.fixture
def organiser(make_account):
    return make_account("saule@example.org", "Saule")


def _browser(app, user_agent: str = FIREFOX_ANDROID):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


def _signed_in(app, organiser, user_agent: str = FIREFOX_ANDROID):
    client = _browser(app, user_agent)
    assert login(client, organiser.email, PASSWORD).status_code == 303
    return client


def _sessions(db, organiser):
    return db.session.scalars(
        sa.select(OrganiserSession)
        .where(OrganiserSession.organiser_id == organiser.id)
        .order_by(OrganiserSession.id)
    ).all()


def _is_signed_out(client) -> bool:
    response = client.get("/organiser/")
    if response.status_code == 200:
        return False
    assert response.status_code == 302
    assert response.headers["Location"] == "/organiser/login?next=%2Forganiser%2F"
    return True


# The limits ------------------------------------------------------------------------------------


def test_29_idle_minutes_keep_a_session_and_31_end_it(app, db, clock, organiser):
    client = _signed_in(app, organiser)
    clock.advance(minutes=29)
    assert not _is_signed_out(client)
    clock.advance(minutes=29)
    assert not _is_signed_out(client), "each request starts the idle time again"
    clock.advance(minutes=31)
    assert _is_signed_out(client)
    [record] = _sessions(db, organiser)
    assert record.end_reason == SessionEnd.IDLE
    assert record.ended_at == record.last_seen_at + timedelta(minutes=30)
    clock.advance(seconds=1)
    assert _is_signed_out(client), "a lapsed session stays ended"


def test_the_last_request_is_written_at_most_once_a_minute_and_idle_time_counts_from_it(
    app, db, clock, organiser
):
    client = _signed_in(app, organiser)
    signed_in_at = clock.now
    clock.advance(seconds=59)
    assert not _is_signed_out(client)
    [record] = _sessions(db, organiser)
    assert record.last_seen_at == signed_in_at, "less than a minute later: nothing written"
    clock.advance(seconds=1)
    assert not _is_signed_out(client)
    db.session.refresh(record)
    assert record.last_seen_at == signed_in_at + timedelta(minutes=1)
    # 29 minutes 59 seconds after the written request: still in; at 30 minutes: out.
    clock.advance(minutes=29, seconds=59)
    assert not _is_signed_out(client)
    db.session.refresh(record)
    assert record.last_seen_at == clock.now
    clock.advance(minutes=30)
    assert _is_signed_out(client)


def test_a_session_ends_12_hours_after_sign_in_however_active(app, db, clock, organiser):
    client = _signed_in(app, organiser)
    for _ in range(35):
        clock.advance(minutes=20)
        assert not _is_signed_out(client), clock.now
    clock.advance(minutes=19, seconds=59)  # 11 h 59 min 59 s after signing in
    assert not _is_signed_out(client)
    clock.advance(seconds=1)
    assert _is_signed_out(client)
    [record] = _sessions(db, organiser)
    assert record.end_reason == SessionEnd.EXPIRED
    assert record.ended_at == record.created_at + timedelta(hours=12)


@pytest.mark.parametrize("app_overrides", [{"SESSION_IDLE_MINUTES": "5"}])
def test_the_idle_limit_is_a_setting(app, clock, organiser):
    client = _signed_in(app, organiser)
    clock.advance(minutes=4, seconds=59)
    assert not _is_signed_out(client)
    clock.advance(minutes=5)
    assert _is_signed_out(client)


@pytest.mark.parametrize("app_overrides", [{"SESSION_MAX_HOURS": "1"}])
def test_the_absolute_limit_is_a_setting(app, clock, organiser):
    client = _signed_in(app, organiser)
    clock.advance(minutes=29)
    assert not _is_signed_out(client)
    clock.advance(minutes=29)
    assert not _is_signed_out(client)
    clock.advance(minutes=2)
    assert _is_signed_out(client)


# Ending sessions -------------------------------------------------------------------------------


def _account_page(client) -> str:
    response = client.get("/organiser/account")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _session_rows(page: str) -> list[str]:
    body = page.split('aria-labelledby="sessions"', 1)[1].split("</table>", 1)[0]
    return [
        re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
        for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)
    ]


def test_the_account_page_lists_the_open_sessions_and_marks_this_browser(
    app, db, clock, organiser, make_account
):
    clock.now = clock.now.replace(year=2099, month=3, day=14, hour=6, minute=0, second=0)
    phone = _signed_in(app, organiser, FIREFOX_ANDROID)
    clock.advance(minutes=10)
    laptop = _signed_in(app, organiser, CHROME_WINDOWS)
    _signed_in(app, make_account("someone-else@example.org"), SAFARI_IPHONE)
    gone = _signed_in(app, organiser, SAFARI_IPHONE)
    post_form(gone, "/organiser/logout", form_page="/organiser/")
    clock.advance(minutes=5)
    assert not _is_signed_out(phone)
    clock.advance(minutes=5)
    # Asia/Almaty is UTC+5: 06:00 UTC is 11:00 there. The list's own request is the latest.
    assert _session_rows(_account_page(laptop)) == [
        "Chrome on Windows (this browser) March 14, 2099, 11:10\u202fAM "
        "March 14, 2099, 11:20\u202fAM",
        "Firefox on Android March 14, 2099, 11:00\u202fAM March 14, 2099, 11:15\u202fAM "
        "End this session",
    ]
    page = _account_page(phone)
    [this] = [row for row in _session_rows(page) if "(this browser)" in row]
    assert this.startswith("Firefox on Android (this browser) ")
    assert "End every other session" in page


def test_a_session_ended_from_another_browser_is_sent_to_sign_in_at_its_next_request(
    app, db, clock, organiser
):
    phone = _signed_in(app, organiser, FIREFOX_ANDROID)
    laptop = _signed_in(app, organiser, CHROME_WINDOWS)
    phone_session, _laptop_session = _sessions(db, organiser)
    page = _account_page(laptop)
    action = f"/organiser/account/sessions/{phone_session.id}/end"
    assert f'action="{action}"' in page
    answer = laptop.post(action, data={"csrf_token": csrf_token(laptop, "/organiser/account")})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/organiser/account#sessions"
    assert "The session was ended: that browser is signed out." in _account_page(laptop)
    assert _is_signed_out(phone)
    assert not _is_signed_out(laptop)
    db.session.refresh(phone_session)
    assert (phone_session.ended_at, phone_session.end_reason) == (clock.now, SessionEnd.ENDED)
    [event] = db.session.scalars(sa.select(AuditEvent)).all()
    assert (event.action, event.actor_id, event.petition_id) == ("end-session", organiser.id, None)
    assert event.detail == {
        "session": phone_session.id,
        "browser": "Firefox",
        "platform": "Android",
        "signed_in_at": phone_session.created_at.isoformat(timespec="seconds"),
    }


def test_a_form_without_its_csrf_token_ends_nothing(app, db, clock, organiser):
    phone = _signed_in(app, organiser, FIREFOX_ANDROID)
    laptop = _signed_in(app, organiser, CHROME_WINDOWS)
    phone_session, _laptop = _sessions(db, organiser)
    assert laptop.post(f"/organiser/account/sessions/{phone_session.id}/end").status_code == 400
    assert laptop.post("/organiser/account/sessions/end-others").status_code == 400
    assert not _is_signed_out(phone)


def test_another_organisers_session_cannot_be_ended(app, db, clock, organiser, make_account):
    other = make_account("aidos@example.org")
    theirs = _signed_in(app, other, FIREFOX_ANDROID)
    mine = _signed_in(app, organiser, CHROME_WINDOWS)
    [their_session] = _sessions(db, other)
    answer = post_form(
        mine, f"/organiser/account/sessions/{their_session.id}/end", form_page="/organiser/account"
    )
    assert answer.status_code == 303
    assert "That session had already ended." in _account_page(mine)
    assert not _is_signed_out(theirs)
    db.session.refresh(their_session)
    assert their_session.ended_at is None
    assert db.session.scalars(sa.select(AuditEvent)).all() == []


def test_end_every_other_session_keeps_only_this_browser(app, db, clock, organiser, make_account):
    phone = _signed_in(app, organiser, FIREFOX_ANDROID)
    tablet = _signed_in(app, organiser, SAFARI_IPHONE)
    other = _signed_in(app, make_account("aidos@example.org"), FIREFOX_ANDROID)
    laptop = _signed_in(app, organiser, CHROME_WINDOWS)
    answer = post_form(
        laptop, "/organiser/account/sessions/end-others", form_page="/organiser/account"
    )
    assert answer.status_code == 303
    page = _account_page(laptop)
    assert "2 other session(s) ended." in page
    assert (_is_signed_out(phone), _is_signed_out(tablet), _is_signed_out(laptop)) == (
        True,
        True,
        False,
    )
    assert not _is_signed_out(other), "another organiser's sessions are theirs"
    assert len(_session_rows(_account_page(laptop))) == 1
    [event] = db.session.scalars(sa.select(AuditEvent)).all()
    phone_session, tablet_session, _laptop = _sessions(db, organiser)
    assert (event.action, event.actor_id) == ("end-sessions", organiser.id)
    assert event.detail == {"reason": "ended", "sessions": [phone_session.id, tablet_session.id]}


def test_signing_out_ends_the_record_so_a_copied_cookie_is_refused(app, db, clock, organiser):
    client = _signed_in(app, organiser)
    copied = client.get_cookie("session").value
    thief = _browser(app, CHROME_WINDOWS)
    thief.set_cookie("session", copied)
    assert not _is_signed_out(thief), "the copy works while the session is open"
    assert post_form(client, "/organiser/logout", form_page="/organiser/").status_code == 303
    [record] = _sessions(db, organiser)
    assert (record.ended_at, record.end_reason) == (clock.now, SessionEnd.SIGNED_OUT)
    assert _is_signed_out(thief)
    assert _is_signed_out(client)
    [event] = db.session.scalars(sa.select(AuditEvent)).all()
    assert (event.action, event.actor_id) == ("sign-out", organiser.id)


def test_a_cookie_from_before_sessions_were_recorded_is_refused(app, db, organiser):
    client = _browser(app)
    with client.session_transaction() as cookie:
        cookie["_user_id"] = f"{organiser.id}:{organiser.session_stamp}"
        cookie["_fresh"] = True
    assert _is_signed_out(client)


def test_a_new_password_ends_every_session_but_the_one_kept(app, db, clock, organiser):
    phone = _signed_in(app, organiser, FIREFOX_ANDROID)
    laptop = _signed_in(app, organiser, CHROME_WINDOWS)
    phone_session, laptop_session = _sessions(db, organiser)
    accounts.set_password(organiser, "a different long password", clock.now, keep=laptop_session)
    db.session.commit()
    assert _is_signed_out(phone)
    assert not _is_signed_out(laptop)
    db.session.refresh(phone_session)
    assert phone_session.end_reason == SessionEnd.NEW_PASSWORD


def test_a_password_reset_by_link_ends_every_session(app, db, clock, organiser):
    from petitions.notifications import queue_password_reset

    phone = _signed_in(app, organiser, FIREFOX_ANDROID)
    laptop = _signed_in(app, organiser, CHROME_WINDOWS)
    with app.test_request_context():
        queue_password_reset(organiser)
        link = accounts.reset_token(organiser)
    db.session.commit()
    path = f"/organiser/reset/{link}"
    new = "a brand new password 2026"
    stranger = _browser(app)
    assert post_form(stranger, path, {"password": new, "repeat": new}, path).status_code == 303
    assert (_is_signed_out(phone), _is_signed_out(laptop)) == (True, True)
    reasons = {record.end_reason for record in _sessions(db, organiser)}
    assert reasons == {SessionEnd.NEW_PASSWORD}


def test_the_cli_s_new_password_ends_every_session(app, db, runner, clock, organiser, tmp_path):
    phone = _signed_in(app, organiser)
    secret = tmp_path / "password"
    secret.write_text("the administrator's new one\n", encoding="utf-8")
    result = runner.invoke(
        args=["organisers", "set-password", organiser.email, "--password-file", str(secret)]
    )
    assert result.exit_code == 0, result.output
    assert _is_signed_out(phone)


# What is kept ----------------------------------------------------------------------------------


def test_no_address_or_user_agent_is_kept_only_the_browser_family(app, db, clock, organiser):
    agent = "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A) Gecko/20100101 Firefox/128.0"
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": agent, "REMOTE_ADDR": "203.0.113.77"})
    assert login(client, organiser.email, PASSWORD).status_code == 303
    assert client.get("/organiser/account").status_code == 200
    clock.advance(minutes=2)
    assert client.get("/organiser/").status_code == 200
    post_form(client, "/organiser/logout", form_page="/organiser/")
    [record] = _sessions(db, organiser)
    assert (record.browser, record.platform) == ("Firefox", "Android")
    stored = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(sa.select(table)).all():
            stored += [repr(value) for value in row]
    assert len(stored) > 20
    everything = "\n".join(stored)
    for fragment in ("203.0.113", "Pixel 8", "UQ1A", "Gecko", "128.0", "Mozilla"):
        assert fragment not in everything, fragment


def test_the_cookie_carries_a_random_id_and_the_table_only_its_hash(app, db, clock, organiser):
    client = _signed_in(app, organiser)
    with client.session_transaction() as cookie:
        token = cookie["_user_id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    [record] = _sessions(db, organiser)
    assert record.token_hash == hashlib.sha256(token.encode()).digest()


def test_the_browser_cookie_is_set_under_organiser_only(app, db, clock, organiser):
    client = _browser(app)
    response = login(client, organiser.email, PASSWORD)
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(BROWSER_COOKIE)]
    assert "Path=/organiser;" in cookie or cookie.endswith("Path=/organiser")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=31536000" in cookie
    assert client.get_cookie(BROWSER_COOKIE, path="/organiser") is not None


def test_the_mail_worker_forgets_sessions_a_month_after_they_began(app, db, organiser):
    from petitions import workers

    now = utcnow()
    for days in (31, 29):
        began = now - timedelta(days=days)
        db.session.add(
            OrganiserSession(
                token_hash=hashlib.sha256(str(days).encode()).digest(),
                organiser_id=organiser.id,
                created_at=began,
                last_seen_at=began,
            )
        )
    db.session.commit()
    done = workers.mail_round(app.config["SETTINGS"], batch=50)
    assert done.sessions_forgotten == 1
    [kept] = _sessions(db, organiser)
    assert kept.created_at == now - timedelta(days=29)


def test_the_session_cookie_names_the_session_and_nothing_of_the_client(app, db, organiser):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": FIREFOX_ANDROID, "REMOTE_ADDR": "203.0.113.7"})
    assert login(client, organiser.email, PASSWORD).status_code == 303
    assert client.get("/organiser/").status_code == 200
    serializer = app.session_interface.get_signing_serializer(app)
    contents = serializer.loads(client.get_cookie("session").value)
    assert set(contents) == {"_user_id", "_fresh", "csrf_token"}


def test_signing_in_again_in_one_browser_replaces_its_session(app, db, clock, organiser):
    client = _signed_in(app, organiser)
    assert login(client, organiser.email, PASSWORD).status_code == 303
    first, second = _sessions(db, organiser)
    assert (first.end_reason, second.ended_at) == (SessionEnd.SIGNED_OUT, None)
    assert len(_session_rows(_account_page(client))) == 1


def test_ending_this_browser_s_own_session_from_the_list_signs_it_out(app, db, clock, organiser):
    client = _signed_in(app, organiser)
    [record] = _sessions(db, organiser)
    answer = post_form(
        client, f"/organiser/account/sessions/{record.id}/end", form_page="/organiser/account"
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/organiser/login"
    assert _is_signed_out(client)
    db.session.refresh(record)
    assert record.end_reason == SessionEnd.ENDED
