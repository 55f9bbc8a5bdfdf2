"""Organisers: accounts, authorisation on every route, the editor, the lifecycle, the dashboard."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from petitions.models import (
    AuditEvent,
    OutboxMessage,
    Petition,
    PetitionState,
    SignatureState,
    utcnow,
)
from petitions.organiser.views import OPEN_ENDPOINTS
from petitions.services import export, queries, signing
from tests.conftest import PASSWORD
from tests.helpers import csrf_token, login, post_form, route_path, sign, signing_data


@pytest.fixture
def organiser(make_account):
    return make_account("bakhytzhan@example.org", "Bakhytzhan")


@pytest.fixture
def signed_in(client, organiser):
    assert login(client, organiser.email, PASSWORD).status_code == 303
    return client


def _organiser_rules(app):

    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("organiser.") and rule.endpoint not in OPEN_ENDPOINTS
    ]


# Accounts ---------------------------------------------------------------------------------------


def test_organisers_create_reads_the_password_from_a_file(runner, db, tmp_path):
    secret = tmp_path / "password"
    secret.write_text("a long enough password\n", encoding="utf-8")
    result = runner.invoke(
        args=[
            "organisers",
            "create",
            "Aigul@Example.org",
            "--name",
            "Aigul",
            "--password-file",
            str(secret),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "created organiser aigul@example.org" in result.output
    again = runner.invoke(
        args=[
            "organisers",
            "create",
            "aigul@example.org",
            "--name",
            "A",
            "--password-file",
            str(secret),
        ]
    )
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_organisers_create_prompts_and_refuses_short_passwords(runner, db):
    result = runner.invoke(
        args=["organisers", "create", "aigul@example.org", "--name", "Aigul"],
        input="short\nshort\n",
    )
    assert result.exit_code == 1
    assert "at least 12 characters" in result.output


def test_sign_in_and_out(client, organiser):
    response = login(client, organiser.email.upper(), PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/organiser/"
    assert client.get("/organiser/").status_code == 200
    post_form(client, "/organiser/logout", form_page="/organiser/")
    assert client.get("/organiser/").status_code == 302


@pytest.mark.parametrize("email", ["bakhytzhan@example.org", "nobody@example.org"])
def test_wrong_credentials_get_one_answer_whichever_part_is_wrong(client, organiser, email):
    response = login(client, email, "wrong password here")
    assert response.status_code == 401
    assert "The email address or the password is wrong." in response.get_data(as_text=True)
    assert client.get("/organiser/").status_code == 302


def test_sign_in_goes_back_to_the_page_asked_for_but_never_off_site(client, organiser):
    token = csrf_token(client, "/organiser/login")
    data = {"csrf_token": token, "email": organiser.email, "password": PASSWORD}
    response = client.post("/organiser/login?next=/organiser/petitions/new", data=data)
    assert response.headers["Location"] == "/organiser/petitions/new"
    client.post("/organiser/logout", data={"csrf_token": csrf_token(client, "/organiser/")})
    token = csrf_token(client, "/organiser/login")
    response = client.post(
        "/organiser/login?next=https://evil.example/", data={**data, "csrf_token": token}
    )
    assert response.headers["Location"] == "/"


def test_session_cookie_is_http_only_and_same_site(client, organiser):
    response = login(client, organiser.email, PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_password_reset_by_emailed_link(client, db, organiser):
    answer = post_form(client, "/organiser/reset", {"email": organiser.email}, "/organiser/reset")
    unknown = post_form(client, "/organiser/reset", {"email": "x@example.org"}, "/organiser/reset")
    assert answer.status_code == unknown.status_code == 303
    [message] = db.session.scalars(sa.select(OutboxMessage)).all()
    assert message.kind == "password_reset"
    link = "/organiser/reset/" + message.body_text.split("/organiser/reset/", 1)[1].split()[0]
    assert client.get(link).status_code == 200
    new = "a brand new password 2026"
    done = post_form(client, link, {"password": new, "repeat": new}, link)
    assert done.status_code == 303
    assert login(client, organiser.email, PASSWORD).status_code == 401
    assert login(client, organiser.email, new).status_code == 303
    assert client.get(link).status_code == 404, "a reset link works once"


def test_a_new_password_ends_other_sessions(app, signed_in, db, organiser):
    from petitions.services.accounts import set_password

    assert signed_in.get("/organiser/").status_code == 200
    set_password(organiser, "another long password")
    db.session.commit()
    assert signed_in.get("/organiser/").status_code == 302


# Authorisation on every route ------------------------------------------------------------------


def test_every_organiser_route_sends_anonymous_visitors_to_sign_in(app, client, make_petition):
    petition = make_petition()
    rules = _organiser_rules(app)
    assert len(rules) >= 10
    for rule in rules:
        path = route_path(rule, petition.id)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(path, method=method, data={})
            # A form sent without its CSRF token is refused before anyone is asked to sign in.
            expected = 302 if method == "GET" else 400
            assert response.status_code == expected, (method, path, response.status_code)
            if method == "GET":
                assert response.headers["Location"].startswith("/organiser/login?next=")


def test_every_organiser_route_hides_another_organisers_petition(app, signed_in, make_petition):
    theirs = make_petition()  # made by a different organiser
    token = csrf_token(signed_in, "/organiser/")
    for rule in _organiser_rules(app):
        if "petition_id" not in rule.arguments:
            continue
        path = route_path(rule, theirs.id)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = signed_in.open(
                path, method=method, data={"csrf_token": token, "reason": "x"}
            )
            assert response.status_code == 404, (method, path)


def test_every_organiser_form_needs_its_csrf_token(app, signed_in, organiser, make_petition):
    mine = make_petition(organiser=organiser)
    posts = [r for r in _organiser_rules(app) if "POST" in r.methods]
    assert len(posts) >= 7
    for rule in posts:
        response = signed_in.post(route_path(rule, mine.id), data={"reason": "x", "action": "y"})
        assert response.status_code == 400, rule.rule


def test_the_list_names_the_zone_of_each_closing_time(signed_in, organiser, make_petition):
    closes = datetime(2099, 9, 20, 13, 0, tzinfo=UTC)
    make_petition(organiser=organiser, timezone="Asia/Almaty", closes_at=closes)
    make_petition(organiser=organiser, timezone="Europe/London", closes_at=closes)
    page = signed_in.get("/organiser/").get_data(as_text=True)
    cells = re.findall(r"<td>([^<]*\(([A-Za-z/_]+)\))</td>", page)
    assert sorted(zone for _cell, zone in cells) == ["Asia/Almaty", "Europe/London"]
    assert "September 20, 2099, 6:00\u202fPM (Asia/Almaty)" in page
    assert "September 20, 2099, 2:00\u202fPM (Europe/London)" in page


def test_forms_hidden_tokens_repeat_no_id_on_a_page_of_several_forms(
    signed_in, organiser, make_petition
):
    open_one = make_petition(organiser=organiser)
    page = signed_in.get(f"/organiser/petitions/{open_one.id}").get_data(as_text=True)
    tokens = re.findall(r"<input[^>]*name=\"csrf_token\"[^>]*>", page)
    assert len(tokens) >= 3
    assert [token for token in tokens if "id=" in token] == []


# Editor and lifecycle --------------------------------------------------------------------------


def _petition_form(**fields):
    data = {
        "title": "Қамаудағы ақынға рақымшылық",
        "summary": "Free the poet.",
        "body": "## Appeal\n\nWe **ask**.\n\n<script>alert(1)</script>",
        "recipient": "President of the Republic of Kazakhstan",
        "language": "kk",
        "goal": "2500",
        "timezone": "Asia/Almaty",
        "duration": "5d",
        "save": "1",
    }
    data.update(fields)
    return data


def test_create_a_draft_with_a_preset_window_and_a_derived_slug(signed_in, db, organiser):
    response = post_form(signed_in, "/organiser/petitions/new", _petition_form())
    assert response.status_code == 303
    petition = db.session.scalars(sa.select(Petition)).one()
    assert petition.slug == "qamaudagy-aqynga-raqymshylyq"
    assert petition.state == PetitionState.DRAFT
    assert petition.organiser_id == organiser.id
    assert petition.closes_at - petition.opens_at == timedelta(days=5)
    assert signed_in.get(f"/petitions/{petition.slug}").status_code == 404, "drafts are private"
    actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert actions == ["create"]


@pytest.mark.parametrize(
    ("typed", "example"),
    [("петиция-тест", "petitsiya-test"), ("../../etc", "etc"), ("a b c", "a-b-c"), ("a--b", "a-b")],
)
def test_an_invalid_slug_is_refused_at_its_field_with_a_correction(
    signed_in, db, organiser, typed, example
):
    response = post_form(signed_in, "/organiser/petitions/new", _petition_form(slug=typed))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="slug-error"' in page
    assert (
        f"Use only a-z, 0-9 and single hyphens, for example “{example}”; or leave it empty to "
        "make one from the title."
    ) in page
    assert db.session.scalars(sa.select(Petition)).all() == []


def test_a_valid_typed_slug_is_kept_and_upper_case_is_lowered(signed_in, db, organiser):
    response = post_form(
        signed_in, "/organiser/petitions/new", _petition_form(slug="Free-The-Poet")
    )
    assert response.status_code == 303
    assert db.session.scalars(sa.select(Petition.slug)).one() == "free-the-poet"


def test_preview_shows_sanitised_markdown_without_saving(signed_in, db):
    response = post_form(signed_in, "/organiser/petitions/new", _petition_form(preview="1"))
    page = response.get_data(as_text=True)
    assert "<h2>Appeal</h2>" in page and "<strong>ask</strong>" in page
    assert "<script>alert" not in page
    assert db.session.scalars(sa.select(Petition)).all() == []


def test_editor_errors_are_shown_at_their_fields(signed_in, db):
    response = post_form(
        signed_in, "/organiser/petitions/new", _petition_form(title="", duration="custom")
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="title-error"' in page
    assert "Enter the closing time, or choose a duration." in page


def test_custom_window_is_read_in_the_petitions_time_zone(signed_in, db):
    post_form(
        signed_in,
        "/organiser/petitions/new",
        _petition_form(
            duration="custom",
            opens_at="2099-09-15T09:00",
            closes_at="2099-09-20T18:00",
        ),
    )
    petition = db.session.scalars(sa.select(Petition)).one()
    assert petition.opens_at.isoformat() == "2099-09-15T04:00:00+00:00"
    assert petition.closes_at.isoformat() == "2099-09-20T13:00:00+00:00"


@pytest.mark.parametrize(
    ("opens", "closes", "message"),
    [
        ("2020-01-01T00:00", "2020-01-06T00:00", "The closing time must be in the future."),
        ("2099-01-01T00:00", "2100-06-01T00:00", "at most one year"),
    ],
)
def test_publishing_checks_the_window(
    signed_in, db, organiser, make_petition, opens, closes, message
):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Almaty")
    petition = make_petition(
        PetitionState.DRAFT,
        organiser=organiser,
        opens_at=datetime.fromisoformat(opens).replace(tzinfo=zone),
        closes_at=datetime.fromisoformat(closes).replace(tzinfo=zone),
    )
    dashboard = f"/organiser/petitions/{petition.id}"
    response = post_form(signed_in, f"{dashboard}/publish", form_page=dashboard)
    assert response.status_code == 303
    assert message in signed_in.get(dashboard).get_data(as_text=True)
    db.session.refresh(petition)
    assert petition.state == PetitionState.DRAFT


def test_publish_opens_the_petition(signed_in, db, organiser, make_petition):
    petition = make_petition(PetitionState.DRAFT, organiser=organiser)
    dashboard = f"/organiser/petitions/{petition.id}"
    post_form(signed_in, f"{dashboard}/publish", form_page=dashboard)
    db.session.refresh(petition)
    assert petition.state == PetitionState.OPEN
    assert signed_in.get(f"/petitions/{petition.slug}").status_code == 200
    assert "publish" in db.session.scalars(sa.select(AuditEvent.action)).all()


def test_the_text_is_frozen_once_anyone_has_signed(signed_in, client, db, organiser, make_petition):
    petition = make_petition(organiser=organiser, title="Original words")
    edit = f"/organiser/petitions/{petition.id}/edit"
    changed = post_form(
        signed_in,
        edit,
        _petition_form(
            title="Edited before anyone signed",
            duration="custom",
            opens_at=_local(petition.opens_at),
            closes_at=_local(petition.closes_at),
            language="en",
        ),
        edit,
    )
    assert changed.status_code == 303
    sign(client, petition.slug)
    refused = post_form(
        signed_in,
        edit,
        _petition_form(
            title="Sneaky new words",
            duration="custom",
            opens_at=_local(petition.opens_at),
            closes_at=_local(petition.closes_at),
            language="en",
        ),
        edit,
    )
    assert refused.status_code == 409
    assert "they agreed to these words" in refused.get_data(as_text=True)
    db.session.refresh(petition)
    assert petition.title == "Edited before anyone signed"
    goal = post_form(
        signed_in,
        edit,
        _petition_form(
            title=petition.title,
            goal="5000",
            summary=petition.summary,
            body=petition.body,
            recipient=petition.recipient,
            duration="custom",
            opens_at=_local(petition.opens_at),
            closes_at=_local(petition.closes_at),
            language="en",
        ),
        edit,
    )
    assert goal.status_code == 303
    db.session.refresh(petition)
    assert petition.goal == 5000


def _local(moment):
    return moment.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Almaty")).strftime(
        "%Y-%m-%dT%H:%M"
    )


def test_closing_early_with_a_reason(
    signed_in, client, db, organiser, make_petition, make_signature
):
    petition = make_petition(organiser=organiser)
    make_signature(petition)
    dashboard = f"/organiser/petitions/{petition.id}"
    no_reason = post_form(signed_in, f"{dashboard}/close", {"reason": ""}, dashboard)
    assert no_reason.status_code == 303
    db.session.refresh(petition)
    assert petition.state == PetitionState.OPEN
    post_form(signed_in, f"{dashboard}/close", {"reason": "He was released"}, dashboard)
    db.session.refresh(petition)
    assert petition.state == PetitionState.CLOSED
    assert petition.close_reason == "He was released"
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "This petition closed on" in page and "<strong>1</strong>" in page
    token = csrf_token(client, f"/petitions/{make_petition().slug}")
    refused = client.post(f"/petitions/{petition.slug}/sign", data=signing_data(csrf_token=token))
    assert refused.status_code == 410


def test_cli_close(runner, db, make_petition):
    petition = make_petition()
    result = runner.invoke(args=["petitions", "close", petition.slug, "--reason", "done"])
    assert result.exit_code == 0, result.output
    assert f"closed {petition.slug}" in result.output
    again = runner.invoke(args=["petitions", "close", petition.slug])
    assert again.exit_code == 1
    assert "cannot close a petition that is closed" in again.output
    missing = runner.invoke(args=["petitions", "close", "no-such-petition"])
    assert missing.exit_code == 1
    assert "no petition with the slug 'no-such-petition'" in missing.output


@pytest.mark.parametrize(("offset", "accepted"), [(1, True), (0, False), (-1, False)])
def test_the_window_edges_to_the_second(client, db, make_petition, offset, accepted):
    """closes_at is set this many seconds after the database's present instant, then we sign."""
    petition = make_petition()
    token = csrf_token(client, f"/petitions/{petition.slug}")
    petition.closes_at = signing.database_now() + timedelta(seconds=offset)
    db.session.commit()
    response = client.post(f"/petitions/{petition.slug}/sign", data=signing_data(csrf_token=token))
    assert response.status_code == (303 if accepted else 410)


def test_a_job_that_has_not_run_does_not_keep_a_petition_open(client, db, make_petition):
    petition = make_petition(
        opens_at=utcnow() - timedelta(days=5), closes_at=utcnow() - timedelta(seconds=1)
    )
    assert petition.state == PetitionState.OPEN
    token = csrf_token(client, f"/petitions/{make_petition().slug}")
    response = client.post(f"/petitions/{petition.slug}/sign", data=signing_data(csrf_token=token))
    assert response.status_code == 410


# Dashboard --------------------------------------------------------------------------------------


def test_dashboard_shows_counts_days_countries_clusters_and_log(
    signed_in, client, db, organiser, make_petition, make_signature
):
    petition = make_petition(organiser=organiser, goal=10)
    for number, country in enumerate(("KZ", "KZ", "DE")):
        make_signature(petition, country=country, ip_hash=b"\x01" * 32, email=f"s{number}@mail.kz")
    make_signature(petition, SignatureState.PENDING, email="p@mail.kz")
    page = signed_in.get(f"/organiser/petitions/{petition.id}").get_data(as_text=True)
    assert "<svg" in page and "<rect" in page
    assert "Kazakhstan" in page and "Germany" in page
    assert "01010101" in page, "the busiest address hash is listed"
    assert "mail.kz" in page, "the busiest email domain is listed"
    assert '<progress max="10" value="3">' in page


def test_the_dashboard_reads_each_figure_once_at_one_moment(
    db, organiser, make_petition, make_signature
):
    petition = make_petition(organiser=organiser, timezone="Asia/Almaty")
    now = utcnow()
    # 20:30 UTC is already the next day in Almaty (UTC+5): days are counted in the petition's zone.
    late = (now - timedelta(days=2)).replace(hour=20, minute=30, second=0, microsecond=0)
    make_signature(petition, country="KZ", ip_hash=b"\x01" * 32, email="a@mail.kz")
    make_signature(petition, country="KZ", ip_hash=b"\x01" * 32, email="b@mail.kz")
    make_signature(petition, country="DE", email="c@web.de", created_at=late)
    make_signature(petition, SignatureState.PENDING, email="d@mail.kz")
    queued = export.queue_export(petition, organiser, now)
    db.session.commit()

    board = queries.dashboard(petition, now)

    assert board.since == now - timedelta(hours=1)
    assert board.counts == {
        SignatureState.PENDING: 1,
        SignatureState.CONFIRMED: 3,
        SignatureState.INVALIDATED: 0,
        SignatureState.WITHDRAWN: 0,
    }
    assert late.astimezone(petition.zone).date() == late.date() + timedelta(days=1)
    today = now.astimezone(petition.zone).date()
    assert board.days == ((late.date() + timedelta(days=1), 1), (today, 2))
    assert dict(board.countries) == {"KZ": 2, "DE": 1}
    assert board.addresses == (("01" * 32, 2),)
    assert board.domains == (("mail.kz", 3),)
    assert [delivery.id for delivery in board.deliveries] == [queued.id]
    assert board.exporting is True
    assert board.events == ()
