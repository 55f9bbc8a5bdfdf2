"""The organisers' second factor: set-up, sign-in with the code, recovery codes, replays, the
fresh factor before sensitive actions, REQUIRE_TWO_FACTOR and the reset command."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from petitions.models import (
    AuditEvent,
    Delivery,
    ExportStatus,
    Organiser,
    PetitionState,
    RecoveryCode,
    TotpFactor,
    utcnow,
)
from petitions.organiser.factors import FRESH_FACTOR_ENDPOINTS
from petitions.organiser.sessions import CLOCK
from petitions.organiser.views import OPEN_ENDPOINTS
from petitions.services import sessions as session_records
from tests.conftest import PASSWORD
from tests.factor_helpers import (
    CODE_PAGE,
    REPLAYED,
    SET_UP,
    USED,
    WRONG,
    Clock,
    code,
    secret_on_page,
    send_code,
    sign_in_with_code,
    turn_on,
    uri_on_page,
    wrong_code,
)
from tests.helpers import csrf_token, login, post_form, route_path

#: Wide enough that only what a test does ends a session.
SESSION_LIMITS = session_records.Limits(idle=timedelta(hours=1), longest=timedelta(hours=12))

CONFIRM = "/organiser/account/confirm"


@pytest.fixture
def clock(app, monkeypatch):
    ticking = Clock(utcnow())
    monkeypatch.setitem(app.extensions, CLOCK, ticking)
    return ticking


@pytest.fixture
def organiser(make_account):
    return make_account("gulnara@example.org", "Gulnara")


@pytest.fixture
def signed_in(client, organiser):
    assert login(client, organiser.email, PASSWORD).status_code == 303
    return client


@pytest.fixture
def with_factor(signed_in, organiser, clock):
    """An organiser signed in who has just turned the factor on: (client, secret, codes)."""
    secret, codes = turn_on(signed_in, clock)
    return signed_in, secret, codes


def _sign_out(client):
    post_form(client, "/organiser/logout", form_page=SET_UP)


def _get_rules(app):
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("organiser.")
        and rule.endpoint not in OPEN_ENDPOINTS
        and "GET" in rule.methods
    ]


def _signed_in_as(client):
    with client.session_transaction() as session:
        return session.get("_user_id")


# Setting it up ----------------------------------------------------------------------------------


def test_set_up_shows_the_secret_as_text_and_as_a_qr_code_drawn_here(signed_in, db, organiser):
    answer = signed_in.get(SET_UP)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    page = answer.get_data(as_text=True)
    secret = secret_on_page(page)
    assert len(secret) == 32
    assert re.search(r'id="factor-secret">([A-Z2-7]{4} ){7}[A-Z2-7]{4}</code>', page)
    assert uri_on_page(page) == (
        f"otpauth://totp/localhost:gulnara%40example.org?secret={secret}&issuer=localhost"
    )
    assert '<svg role="img" width="' in page
    assert "<title>QR code of the set-up address, for an authenticator app</title>" in page
    assert "<script" not in page
    # Reloading shows the same secret: an app that read it already still matches.
    assert secret_on_page(signed_in.get(SET_UP).get_data(as_text=True)) == secret
    factor = db.session.get(TotpFactor, organiser.id)
    assert factor.enabled_at is None


def test_set_up_is_refused_with_a_wrong_code_and_turned_on_with_a_right_one(
    signed_in, db, organiser, clock
):
    secret = secret_on_page(signed_in.get(SET_UP).get_data(as_text=True))
    refused = send_code(signed_in, SET_UP, wrong_code(secret, clock))
    assert refused.status_code == 422
    assert (
        "This code is not right. Enter the six digits your app shows now for this account."
        in refused.get_data(as_text=True)
    )
    assert db.session.get(TotpFactor, organiser.id).enabled_at is None
    empty = send_code(signed_in, SET_UP, "")
    assert empty.status_code == 422
    assert "Enter the code." in empty.get_data(as_text=True)

    turned_on = send_code(signed_in, SET_UP, code(secret, clock))
    assert turned_on.status_code == 200
    assert turned_on.headers["Cache-Control"] == "no-store"
    assert "The second factor is on." in turned_on.get_data(as_text=True)
    factor = db.session.get(TotpFactor, organiser.id)
    assert factor.enabled_at == clock.now
    assert db.session.scalars(sa.select(AuditEvent.action)).all() == ["two_factor_on"]
    status = signed_in.get(SET_UP).get_data(as_text=True)
    assert "10 recovery codes are left." in status
    assert "factor-secret" not in status, "the secret is shown only while it is set up"


def test_the_secret_is_stored_encrypted(with_factor, db, organiser):
    _client, secret, _codes = with_factor
    [stored] = db.session.execute(sa.text("SELECT secret FROM totp_factors")).scalars().all()
    assert secret.encode("ascii") not in bytes(stored)
    assert db.session.get(TotpFactor, organiser.id).secret == secret


# Signing in ---------------------------------------------------------------------------------------


def test_sign_in_asks_for_the_code_after_the_password(with_factor, organiser, clock):
    client, secret, _codes = with_factor
    _sign_out(client)
    answer = login(client, organiser.email, PASSWORD)
    assert (answer.status_code, answer.headers["Location"]) == (303, CODE_PAGE)
    assert _signed_in_as(client) is None
    assert client.get("/organiser/").headers["Location"] == CODE_PAGE
    page = client.get(CODE_PAGE)
    assert page.status_code == 200
    assert 'name="code"' in page.get_data(as_text=True)

    refused = send_code(client, CODE_PAGE, wrong_code(secret, clock))
    assert refused.status_code == 401
    assert WRONG in refused.get_data(as_text=True)
    assert _signed_in_as(client) is None

    clock.advance(seconds=30)
    accepted = send_code(client, CODE_PAGE, code(secret, clock))
    assert (accepted.status_code, accepted.headers["Location"]) == (303, "/organiser/")
    assert client.get("/organiser/").status_code == 200
    signed_in = session_records.find(_signed_in_as(client), clock(), SESSION_LIMITS)
    assert (signed_in.organiser_id, signed_in.factor_at) == (organiser.id, clock())


def test_sign_in_goes_on_to_the_page_asked_for_after_the_code(with_factor, organiser, clock):
    client, secret, _codes = with_factor
    _sign_out(client)
    token = csrf_token(client, "/organiser/login")
    data = {"csrf_token": token, "email": organiser.email, "password": PASSWORD}
    client.post("/organiser/login?next=/organiser/petitions/new", data=data)
    clock.advance(seconds=30)
    assert send_code(client, CODE_PAGE, code(secret, clock)).headers["Location"] == (
        "/organiser/petitions/new"
    )


def test_without_a_second_factor_the_password_signs_in_as_before(client, organiser):
    answer = login(client, organiser.email, PASSWORD)
    assert answer.headers["Location"] == "/organiser/"
    assert client.get("/organiser/").status_code == 200
    assert client.get(CODE_PAGE).headers["Location"] == "/organiser/login"
    assert "Sign in again" not in client.get("/organiser/login").get_data(as_text=True)


def test_a_password_for_another_account_ends_the_session_before_asking_for_its_code(
    client, make_account, clock
):
    first, second = make_account("first@example.org"), make_account("second@example.org")
    assert login(client, second.email, PASSWORD).status_code == 303
    turn_on(client, clock)
    _sign_out(client)
    assert login(client, first.email, PASSWORD).headers["Location"] == "/organiser/"
    assert login(client, second.email, PASSWORD).headers["Location"] == CODE_PAGE
    assert _signed_in_as(client) is None
    assert client.get("/organiser/").headers["Location"] == CODE_PAGE


def test_a_stolen_password_alone_opens_nothing(app, with_factor, organiser, make_petition, clock):
    client, _secret, _codes = with_factor
    petition = make_petition(organiser=organiser, state=PetitionState.CLOSED)
    _sign_out(client)
    assert login(client, organiser.email, PASSWORD).headers["Location"] == CODE_PAGE
    rules = _get_rules(app)
    assert len(rules) >= 9
    for rule in rules:
        answer = client.get(route_path(rule, petition.id))
        assert (answer.status_code, answer.headers.get("Location")) == (302, CODE_PAGE), rule.rule
    token = csrf_token(client, CODE_PAGE)
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPEN_ENDPOINTS or "POST" not in rule.methods:
            continue
        if not rule.endpoint.startswith("organiser.") or rule.endpoint == "organiser.logout":
            continue
        answer = client.post(
            route_path(rule, petition.id), data={"csrf_token": token, "reason": "x"}
        )
        assert (answer.status_code, answer.headers.get("Location")) == (302, CODE_PAGE), rule.rule
    assert _signed_in_as(client) is None
    assert petition.state == PetitionState.CLOSED


def test_the_code_page_waits_five_minutes_at_most(with_factor, organiser, clock):
    client, secret, _codes = with_factor
    _sign_out(client)
    login(client, organiser.email, PASSWORD)
    token = csrf_token(client, CODE_PAGE)
    clock.advance(minutes=5, seconds=1)
    late = client.post(CODE_PAGE, data={"csrf_token": token, "code": code(secret, clock)})
    assert (late.status_code, late.headers["Location"]) == (303, "/organiser/login")
    page = client.get("/organiser/login").get_data(as_text=True)
    assert "Sign in again: the code was not given within five minutes." in page
    assert client.get("/organiser/").headers["Location"].startswith("/organiser/login?next=")


def test_a_replayed_code_is_refused_within_its_window(with_factor, organiser, clock):
    client, secret, _codes = with_factor
    _sign_out(client)
    assert sign_in_with_code(client, organiser.email, secret, clock).status_code == 303
    used = code(secret, clock)
    _sign_out(client)
    login(client, organiser.email, PASSWORD)
    clock.advance(seconds=5)
    replayed = send_code(client, CODE_PAGE, used)
    assert replayed.status_code == 401
    assert REPLAYED in replayed.get_data(as_text=True)
    # The code of the step before is no better: steps only go forward.
    earlier = send_code(client, CODE_PAGE, code(secret, clock, steps=-1))
    assert REPLAYED in earlier.get_data(as_text=True)
    assert _signed_in_as(client) is None
    clock.advance(seconds=30)
    assert send_code(client, CODE_PAGE, code(secret, clock)).status_code == 303


def test_recovery_codes_work_once_each_and_are_stored_hashed(with_factor, db, organiser, clock):
    client, _secret, codes = with_factor
    assert len(set(codes)) == 10
    rows = db.session.scalars(sa.select(RecoveryCode)).all()
    assert len(rows) == 10
    assert {len(row.code_hash) for row in rows} == {32}
    dump = b"".join(
        bytes(value)
        for value in db.session.execute(sa.text("SELECT code_hash FROM recovery_codes")).scalars()
    )
    for recovery in codes:
        assert recovery.encode() not in dump
        assert recovery.replace("-", "").encode() not in dump

    _sign_out(client)
    login(client, organiser.email, PASSWORD)
    # As people copy it: in capitals, with spaces for the hyphens.
    first = send_code(client, CODE_PAGE, codes[0].upper().replace("-", " "))
    assert first.status_code == 303
    assert client.get("/organiser/").status_code == 200
    _sign_out(client)
    login(client, organiser.email, PASSWORD)
    again = send_code(client, CODE_PAGE, codes[0])
    assert again.status_code == 401
    assert USED in again.get_data(as_text=True)
    invented = send_code(client, CODE_PAGE, "abcd-efgh-ijkl-mnop")
    assert WRONG in invented.get_data(as_text=True)
    assert send_code(client, CODE_PAGE, codes[1]).status_code == 303
    assert "8 recovery codes are left." in client.get(SET_UP).get_data(as_text=True)
    used = db.session.scalars(
        sa.select(AuditEvent.detail).where(AuditEvent.action == "recovery_code_used")
    ).all()
    assert used == [{"left": 9}, {"left": 8}]


def test_a_session_signed_in_before_the_factor_was_turned_on_is_ended(
    app, client, organiser, clock
):
    other = app.test_client()
    assert login(other, organiser.email, PASSWORD).status_code == 303
    assert login(client, organiser.email, PASSWORD).status_code == 303
    turn_on(client, clock)
    assert client.get("/organiser/").status_code == 200
    answer = other.get("/organiser/")
    assert answer.headers["Location"].startswith("/organiser/login?next=")
    assert _signed_in_as(other) is None


# Turning it off, new recovery codes ------------------------------------------------------------


def test_turning_off_asks_for_a_fresh_code(with_factor, db, organiser, clock):
    client, secret, _codes = with_factor
    off = "/organiser/account/two-factor/off"
    empty = send_code(client, off, "", form_page=SET_UP)
    assert empty.status_code == 422
    assert "Enter the code." in empty.get_data(as_text=True)
    wrong = send_code(client, off, wrong_code(secret, clock), form_page=SET_UP)
    assert wrong.status_code == 422
    assert WRONG in wrong.get_data(as_text=True)
    # The code that turned it on is used: it cannot turn it off.
    replayed = send_code(client, off, code(secret, clock), form_page=SET_UP)
    assert REPLAYED in replayed.get_data(as_text=True)
    assert db.session.get(TotpFactor, organiser.id).enabled_at is not None

    clock.advance(seconds=30)
    done = send_code(client, off, code(secret, clock), form_page=SET_UP)
    assert (done.status_code, done.headers["Location"]) == (303, SET_UP)
    assert db.session.get(TotpFactor, organiser.id) is None
    assert db.session.scalars(sa.select(RecoveryCode)).all() == []
    assert db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all() == [
        "two_factor_on",
        "two_factor_off",
    ]
    _sign_out(client)
    assert login(client, organiser.email, PASSWORD).headers["Location"] == "/organiser/"


def test_new_recovery_codes_ask_for_a_fresh_code_and_replace_the_old(with_factor, organiser, clock):
    client, secret, old = with_factor
    new = "/organiser/account/two-factor/recovery-codes"
    wrong = send_code(client, new, wrong_code(secret, clock), form_page=SET_UP)
    assert wrong.status_code == 422
    assert WRONG in wrong.get_data(as_text=True)
    clock.advance(seconds=30)
    made = send_code(client, new, code(secret, clock), form_page=SET_UP)
    assert made.status_code == 200
    assert made.headers["Cache-Control"] == "no-store"
    fresh = re.findall(r"<li><code>([a-z2-7-]{19})</code></li>", made.get_data(as_text=True))
    assert len(fresh) == 10
    assert not set(fresh) & set(old)
    _sign_out(client)
    login(client, organiser.email, PASSWORD)
    assert WRONG in send_code(client, CODE_PAGE, old[2]).get_data(as_text=True)
    assert send_code(client, CODE_PAGE, fresh[0]).status_code == 303


# A fresh factor before sensitive actions -------------------------------------------------------


def _exports(db, petition):
    """Count the petition's exports asked for, ending them so that the next one is queued anew."""
    db.session.execute(sa.update(Delivery).values(status=ExportStatus.FAILED))
    db.session.commit()
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Delivery).where(Delivery.petition_id == petition.id)
    )


def test_export_asks_for_the_factor_again_after_fifteen_minutes(
    with_factor, db, organiser, make_petition, clock
):
    client, secret, _codes = with_factor
    petition = make_petition(organiser=organiser, state=PetitionState.CLOSED)
    dashboard = f"/organiser/petitions/{petition.id}"
    action = f"{dashboard}/exports"
    clock.advance(minutes=14)
    assert post_form(client, action, form_page=dashboard).status_code == 303
    assert _exports(db, petition) == 1

    clock.advance(minutes=2)
    token = csrf_token(client, dashboard)
    asked = client.post(action, data={"csrf_token": token})
    assert asked.status_code == 401
    page = asked.get_data(as_text=True)
    assert "Confirm that it is you" in page
    assert 'name="code"' in page
    assert f'name="next" value="{action}"' in page
    assert _exports(db, petition) == 1

    wrong = client.post(
        CONFIRM,
        data={
            "csrf_token": token,
            "code": wrong_code(secret, clock),
            "next": action,
            "resend": "1",
        },
    )
    assert wrong.status_code == 401
    assert WRONG in wrong.get_data(as_text=True)
    assert _exports(db, petition) == 1

    data = {"csrf_token": token, "code": code(secret, clock), "next": action, "resend": "1"}
    confirmed = client.post(CONFIRM, data=data)
    assert (confirmed.status_code, confirmed.headers["Location"]) == (307, action)
    # The browser sends the same form again to where it was going.
    assert client.post(action, data=data).status_code == 303
    assert _exports(db, petition) == 2
    clock.advance(minutes=10)
    assert post_form(client, action, form_page=dashboard).status_code == 303
    assert _exports(db, petition) == 3


def test_the_page_asking_again_carries_the_form_escaped(
    with_factor, db, organiser, make_petition, clock
):
    client, secret, _codes = with_factor
    petition = make_petition(organiser=organiser, state=PetitionState.CLOSED)
    dashboard = f"/organiser/petitions/{petition.id}"
    clock.advance(minutes=16)
    token = csrf_token(client, dashboard)
    asked = client.post(f"{dashboard}/exports", data={"csrf_token": token, "note": '"><b>x'})
    page = asked.get_data(as_text=True)
    assert '<input type="hidden" name="note" value="&#34;&gt;&lt;b&gt;x">' in page
    answer = client.post(
        CONFIRM,
        data={
            "csrf_token": token,
            "code": code(secret, clock),
            "next": f"{dashboard}/exports",
            "resend": "1",
            "note": '"><b>x',
        },
    )
    assert answer.status_code == 307
    assert _exports(db, petition) == 0


def test_a_download_asks_again_and_comes_back(with_factor, organiser, make_petition, clock):
    client, secret, _codes = with_factor
    petition = make_petition(organiser=organiser, state=PetitionState.CLOSED)
    download = f"/organiser/petitions/{petition.id}/exports/7/download"
    clock.advance(minutes=15, seconds=1)
    asked = client.get(download)
    assert asked.status_code == 303
    assert (
        asked.headers["Location"]
        == f"{CONFIRM}?next=/organiser/petitions/{petition.id}/exports/7/download"
    )
    page = client.get(asked.headers["Location"])
    assert page.status_code == 200
    assert f'name="next" value="{download}"' in page.get_data(as_text=True)
    back = send_code(
        client, CONFIRM, code(secret, clock), form_page=asked.headers["Location"], next=download
    )
    assert (back.status_code, back.headers["Location"]) == (303, download)
    assert client.get(download).status_code == 404, "no such export: the view itself answers"


def test_the_page_asking_again_returns_only_to_a_local_path(with_factor, clock):
    client, secret, _codes = with_factor
    clock.advance(minutes=20)
    answer = send_code(
        client, CONFIRM, code(secret, clock), form_page=CONFIRM, next="https://evil.example/"
    )
    assert (answer.status_code, answer.headers["Location"]) == (303, "/")


@pytest.mark.parametrize("endpoint", sorted(FRESH_FACTOR_ENDPOINTS))
def test_every_sensitive_action_asks_again_when_the_factor_is_old(
    app, with_factor, organiser, make_petition, clock, endpoint
):
    client, _secret, _codes = with_factor
    petition = make_petition(organiser=organiser, state=PetitionState.CLOSED)
    [rule] = [rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint]
    path = route_path(rule, petition.id)
    clock.advance(minutes=16)
    token = csrf_token(client, f"/organiser/petitions/{petition.id}")
    if "GET" in rule.methods:
        assert client.get(path).headers["Location"].startswith(f"{CONFIRM}?next=")
    else:
        answer = client.post(path, data={"csrf_token": token})
        assert answer.status_code == 401
        assert 'name="code"' in answer.get_data(as_text=True)


def test_organisers_without_a_second_factor_are_not_asked_again(
    signed_in, db, organiser, make_petition, clock
):
    petition = make_petition(organiser=organiser, state=PetitionState.CLOSED)
    dashboard = f"/organiser/petitions/{petition.id}"
    # Past the fresh factor's 15 minutes, inside the session's 30 idle ones.
    clock.advance(minutes=25)
    assert post_form(signed_in, f"{dashboard}/exports", form_page=dashboard).status_code == 303
    assert _exports(db, petition) == 1


# REQUIRE_TWO_FACTOR ----------------------------------------------------------------------------


class TestRequired:
    @pytest.fixture
    def app_overrides(self):
        return {"REQUIRE_TWO_FACTOR": "true"}

    def test_an_organiser_without_a_factor_is_sent_to_set_it_up_first(
        self, app, signed_in, organiser, make_petition, clock
    ):
        petition = make_petition(organiser=organiser)
        for rule in _get_rules(app):
            if rule.endpoint == "organiser.two_factor":
                continue
            answer = signed_in.get(route_path(rule, petition.id))
            assert (answer.status_code, answer.headers.get("Location")) == (302, SET_UP), rule.rule
        page = signed_in.get(SET_UP)
        assert page.status_code == 200
        assert (
            "Set up a second factor first: a password alone must not open your account."
            in page.get_data(as_text=True)
        )
        turn_on(signed_in, clock)
        assert signed_in.get("/organiser/").status_code == 200

    def test_signing_out_stays_possible(self, signed_in):
        answer = post_form(signed_in, "/organiser/logout", form_page=SET_UP)
        assert (answer.status_code, answer.headers["Location"]) == (303, "/organiser/login")
        assert _signed_in_as(signed_in) is None


# The reset command -------------------------------------------------------------------------------


def test_reset_two_factor_removes_the_factor_and_is_audited(
    with_factor, runner, db, organiser, clock
):
    client, _secret, _codes = with_factor
    _sign_out(client)
    result = runner.invoke(args=["organisers", "reset-two-factor", "GULNARA@example.org"])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "second factor removed for gulnara@example.org: the password alone signs in until it "
        "is set up again\n"
    )
    assert db.session.get(TotpFactor, organiser.id) is None
    assert db.session.scalars(sa.select(RecoveryCode)).all() == []
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "two_factor_reset")
    ).one()
    assert (event.actor_id, event.actor_label, event.petition_id) == (None, "cli", None)
    assert event.detail == {"organiser": "gulnara@example.org", "was_on": True}
    assert login(client, organiser.email, PASSWORD).headers["Location"] == "/organiser/"
    again = runner.invoke(args=["organisers", "reset-two-factor", organiser.email])
    assert again.exit_code == 0
    assert again.output == "gulnara@example.org had no second factor on; nothing to remove\n"


def test_reset_two_factor_refuses_an_unknown_email(runner, db, organiser):
    result = runner.invoke(args=["organisers", "reset-two-factor", "nobody@example.org"])
    assert result.exit_code == 1
    assert result.output == "Error: no organiser with the email nobody@example.org\n"
    assert db.session.scalars(sa.select(AuditEvent)).all() == []
    assert db.session.scalars(sa.select(Organiser.email)).all() == ["gulnara@example.org"]


def test_every_form_that_takes_a_code_needs_its_csrf_token(with_factor, organiser, clock):
    client, secret, _codes = with_factor
    for path in (
        SET_UP,
        CONFIRM,
        "/organiser/account/two-factor/off",
        "/organiser/account/two-factor/recovery-codes",
    ):
        assert client.post(path, data={"code": code(secret, clock)}).status_code == 400, path
    _sign_out(client)
    login(client, organiser.email, PASSWORD)
    assert client.post(CODE_PAGE, data={"code": code(secret, clock)}).status_code == 400
    assert _signed_in_as(client) is None
