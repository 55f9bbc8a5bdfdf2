"""What happened next: organisers post, edit and remove updates and record the recipient's answer;
the public page and the JSON show them, sanitised, and the audit log names each change."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from babel.dates import format_date

from petitions import cache
from petitions.models import (
    AuditEvent,
    Membership,
    PetitionOutcome,
    PetitionState,
    PetitionUpdate,
    utcnow,
)
from tests.conftest import PASSWORD
from tests.helpers import csrf_token, login

EVIL_BODY = (
    "Good **news**.\n\n<script>alert(1)</script>\n\n[click](javascript:alert(2)) "
    "[source](https://example.org/a)"
)


@pytest.fixture
def owner(app, make_account):
    """The signed-in owner's account and browser."""
    account = make_account("owner@example.org", "Owner")
    browser = app.test_client()
    assert login(browser, account.email, PASSWORD).status_code == 303
    return account, browser


def _updates_path(petition) -> str:
    return f"/organiser/petitions/{petition.id}/updates"


def _post(browser, path: str, page: str, **data):
    return browser.post(path, data={"csrf_token": csrf_token(browser, page), **data})


def _post_update(browser, petition, title="Released", body="He was released today."):
    page = _updates_path(petition)
    return _post(browser, f"{page}/new", page, title=title, body=body, save="1")


def _audit(db, petition):
    return db.session.execute(
        sa.select(AuditEvent.actor_label, AuditEvent.action, AuditEvent.detail)
        .where(AuditEvent.petition_id == petition.id)
        .order_by(AuditEvent.id)
    ).all()


def _only_update(db, petition) -> PetitionUpdate:
    return db.session.scalars(
        sa.select(PetitionUpdate).where(PetitionUpdate.petition_id == petition.id)
    ).one()


# Updates ----------------------------------------------------------------------------------------


def test_an_update_is_posted_logged_and_shown_sanitised(db, client, owner, make_petition):
    account, browser = owner
    petition = make_petition(organiser=account, title="Free the poet")
    response = _post_update(browser, petition, body=EVIL_BODY)
    assert response.status_code == 303
    assert response.headers["Location"] == _updates_path(petition)
    update = _only_update(db, petition)
    assert (update.title, update.body, update.posted_by_id) == ("Released", EVIL_BODY, account.id)
    assert update.edited_at is None and update.removed_at is None
    assert _audit(db, petition) == [
        ("owner@example.org", "post_update", {"update": update.id, "title": "Released"})
    ]
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    section = re.search(r'<section class="news".*?</section>', page, re.S)[0]
    assert '<h3 class="news__title" lang="en">Released</h3>' in section
    assert "<p>Good <strong>news</strong>.</p>" in section
    assert "<script>" not in page.replace('<script src="', "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section, "raw HTML is shown as text"
    assert "[click](javascript:alert(2))" in section, "not a link: shown as typed"
    assert 'href="javascript' not in page.lower()
    assert (
        '<a href="https://example.org/a" rel="noopener noreferrer nofollow">source</a>' in section
    )
    assert "edited" not in section


def test_updates_are_dated_in_the_petitions_zone_and_in_the_readers_language(
    db, client, make_petition
):
    petition = make_petition(timezone="Asia/Almaty")
    posted = utcnow().replace(year=2026, month=10, day=1, hour=4, minute=5, second=0)
    db.session.add(
        PetitionUpdate(petition=petition, title="Босатылды", body="Text", posted_at=posted)
    )
    db.session.commit()
    english = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "Posted on October 1, 2026, 9:05\u202fAM (Almaty time)" in english
    client.set_cookie("lang", "ru")
    russian = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "Опубликовано 1 октября 2026\u202fг., 09:05 (часовой пояс: Алматы)" in russian


def test_updates_show_newest_first_and_an_edited_one_says_so(db, client, owner, make_petition):
    account, browser = owner
    petition = make_petition(organiser=account)
    assert _post_update(browser, petition, title="First").status_code == 303
    assert _post_update(browser, petition, title="Second").status_code == 303
    first = db.session.scalar(sa.select(PetitionUpdate).where(PetitionUpdate.title == "First"))
    first.posted_at -= timedelta(hours=1)  # a clock's tick apart is not enough to order by
    db.session.commit()
    edit = f"{_updates_path(petition)}/{first.id}/edit"
    changed = _post(browser, edit, edit, title="First, corrected", body=first.body, save="1")
    assert changed.status_code == 303
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    titles = re.findall(r'<h3 class="news__title" lang="en">([^<]+)</h3>', page)
    assert titles == ["Second", "First, corrected"]
    assert page.count(" · edited ") == 1
    db.session.refresh(first)
    assert first.edited_at is not None
    assert _audit(db, petition)[-1] == (
        "owner@example.org",
        "edit_update",
        {"update": first.id, "fields": ["title"]},
    )


def test_saving_an_update_unchanged_logs_nothing_and_is_not_edited(db, owner, make_petition):
    account, browser = owner
    petition = make_petition(organiser=account)
    _post_update(browser, petition)
    update = _only_update(db, petition)
    edit = f"{_updates_path(petition)}/{update.id}/edit"
    same = _post(browser, edit, edit, title=update.title, body=update.body, save="1")
    assert same.status_code == 303
    assert "Nothing changed." in browser.get(_updates_path(petition)).get_data(as_text=True)
    db.session.refresh(update)
    assert update.edited_at is None
    assert [row.action for row in _audit(db, petition)] == ["post_update"]


def test_removing_asks_first_then_hides_the_update_everywhere(db, client, owner, make_petition):
    account, browser = owner
    petition = make_petition(organiser=account)
    _post_update(browser, petition, title="Wrong petition")
    update = _only_update(db, petition)
    remove = f"{_updates_path(petition)}/{update.id}/remove"
    asked = browser.get(remove)
    assert asked.status_code == 200
    assert "Remove the update?" in asked.get_data(as_text=True)
    assert _only_update(db, petition).removed_at is None, "a GET removes nothing"
    assert _post(browser, remove, remove).status_code == 303
    db.session.refresh(update)
    assert update.removed_at is not None
    assert "Wrong petition" not in client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert client.get(f"/petitions/{petition.slug}.json").json["updates"] == []
    assert "Wrong petition" not in browser.get(_updates_path(petition)).get_data(as_text=True)
    assert browser.get(f"{_updates_path(petition)}/{update.id}/edit").status_code == 404
    assert browser.get(remove).status_code == 404
    assert _audit(db, petition)[-1] == (
        "owner@example.org",
        "remove_update",
        {"update": update.id, "title": "Wrong petition"},
    )
    log = browser.get(f"/organiser/petitions/{petition.id}").get_data(as_text=True)
    assert "Update removed" in log and "Update posted" in log


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (
            {"title": "", "body": ""},
            {"title": "Give the update a title.", "body": "Write the text of the update."},
        ),
        (
            {"title": "x" * 201, "body": "y" * 50_001},
            {
                "title": "Keep the title within 200 characters.",
                "body": "Keep the text within 50000 characters.",
            },
        ),
        (
            {"title": "Free\u202eteop", "body": "Text"},
            {"title": "Please remove invisible or control characters."},
        ),
    ],
)
def test_a_bad_update_is_refused_with_the_errors_at_their_fields(
    db, owner, make_petition, data, errors
):
    account, browser = owner
    petition = make_petition(organiser=account)
    page = _updates_path(petition)
    response = _post(browser, f"{page}/new", page, save="1", **data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for field, message in errors.items():
        assert f'<p class="field__error" id="{field}-error">{message}</p>' in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PetitionUpdate)) == 0
    assert _audit(db, petition) == []


def test_the_refusal_is_in_the_organisers_language(owner, make_petition):
    account, browser = owner
    petition = make_petition(organiser=account)
    browser.set_cookie("lang", "kk")
    page = _updates_path(petition)
    response = _post(browser, f"{page}/new", page, title="", body="Мәтін", save="1")
    assert response.status_code == 422
    assert '<p class="field__error" id="title-error">Жаңалыққа тақырып беріңіз.</p>' in (
        response.get_data(as_text=True)
    )


def test_a_draft_takes_no_update_and_the_page_says_why(db, owner, make_petition):
    account, browser = owner
    petition = make_petition(PetitionState.DRAFT, organiser=account)
    page = browser.get(_updates_path(petition)).get_data(as_text=True)
    assert "Updates are for the people who signed: publish the petition first." in page
    assert 'name="title"' not in page
    refused = _post_update(browser, petition)
    assert refused.status_code == 409
    assert "Updates are for the people who signed: publish the petition first." in (
        refused.get_data(as_text=True)
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PetitionUpdate)) == 0


@pytest.mark.parametrize("state", [PetitionState.CLOSED, PetitionState.DELIVERED])
def test_an_ended_petition_still_takes_updates(db, owner, make_petition, state):
    account, browser = owner
    petition = make_petition(state, organiser=account, closed_at=utcnow())
    assert _post_update(browser, petition).status_code == 303
    assert _only_update(db, petition).title == "Released"


def test_a_preview_shows_the_sanitised_text_and_posts_nothing(db, owner, make_petition):
    account, browser = owner
    petition = make_petition(organiser=account)
    page = _updates_path(petition)
    response = _post(browser, f"{page}/new", page, title="T", body=EVIL_BODY, preview="1")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    preview = re.search(r'<section class="preview".*?</section>', html, re.S)[0]
    assert "<p>Good <strong>news</strong>.</p>" in preview
    assert 'href="javascript' not in preview
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PetitionUpdate)) == 0


# Who may --------------------------------------------------------------------------------------


@pytest.fixture
def team(db, app, owner, make_account, make_petition):
    """A petition with an update, the owner, an editor, a moderator and a viewer, signed in."""
    account, browser = owner
    # Opened days ago: an hour ago may already be tomorrow in Almaty, after today's answer in UTC.
    opened = utcnow() - timedelta(days=3)
    petition = make_petition(
        PetitionState.CLOSED, organiser=account, opens_at=opened, closed_at=utcnow()
    )
    browsers = {"owner": browser}
    for role in ("editor", "moderator", "viewer"):
        member = make_account(f"{role}@example.org", role.title())
        db.session.add(Membership(petition=petition, organiser=member, role=role))
        db.session.commit()
        browsers[role] = app.test_client()
        assert login(browsers[role], member.email, PASSWORD).status_code == 303
    assert _post_update(browser, petition).status_code == 303
    return petition, _only_update(db, petition), browsers


def _news_requests(petition, update):
    base = _updates_path(petition)
    return [
        ("GET", base),
        ("POST", f"{base}/new"),
        ("GET", f"{base}/{update.id}/edit"),
        ("POST", f"{base}/{update.id}/edit"),
        ("GET", f"{base}/{update.id}/remove"),
        ("GET", f"/organiser/petitions/{petition.id}/outcome"),
        ("POST", f"/organiser/petitions/{petition.id}/outcome"),
    ]


@pytest.mark.parametrize("role", ["moderator", "viewer"])
def test_moderators_and_viewers_are_refused_every_news_page(db, team, role):
    petition, update, browsers = team
    browser = browsers[role]
    token = csrf_token(browser, f"/organiser/petitions/{petition.id}")
    for method, path in _news_requests(petition, update):
        response = browser.open(path, method=method, data={"csrf_token": token, "title": "x"})
        assert response.status_code == 403, (method, path)
        assert "does not allow this" in response.get_data(as_text=True)
    removed = browser.post(
        f"{_updates_path(petition)}/{update.id}/remove", data={"csrf_token": token}
    )
    assert removed.status_code == 403
    db.session.refresh(update)
    assert (update.title, update.removed_at) == ("Released", None)


def test_the_editor_may_edit_remove_and_record_the_answer(db, team):
    petition, update, browsers = team
    editor = browsers["editor"]
    assert editor.get(_updates_path(petition)).status_code == 200
    edit = f"{_updates_path(petition)}/{update.id}/edit"
    assert _post(editor, edit, edit, title="New", body="Body", save="1").status_code == 303
    remove = f"{_updates_path(petition)}/{update.id}/remove"
    assert _post(editor, remove, remove).status_code == 303
    outcome = f"/organiser/petitions/{petition.id}/outcome"
    assert _post(editor, outcome, outcome, **_answer()).status_code == 303
    assert [row[:2] for row in _audit(db, petition)] == [
        ("owner@example.org", "post_update"),
        ("editor@example.org", "edit_update"),
        ("editor@example.org", "remove_update"),
        ("editor@example.org", "record_outcome"),
    ]


def test_another_organisers_petition_and_update_are_not_found(
    db, owner, make_petition, make_account, app
):
    account, browser = owner
    mine = make_petition(organiser=account)
    theirs = make_petition(PetitionState.CLOSED, closed_at=utcnow())
    db.session.add(PetitionUpdate(petition=theirs, title="Theirs", body="Text"))
    db.session.commit()
    their_update = _only_update(db, theirs)
    token = csrf_token(browser, _updates_path(mine))
    for method, path in _news_requests(theirs, their_update):
        response = browser.open(path, method=method, data={"csrf_token": token})
        assert response.status_code == 404, (method, path)
    # Their update's id under my petition: not mine either.
    for action in ("edit", "remove"):
        path = f"{_updates_path(mine)}/{their_update.id}/{action}"
        assert browser.get(path).status_code == 404
        assert browser.post(path, data={"csrf_token": token, "title": "x"}).status_code == 404
    db.session.refresh(their_update)
    assert (their_update.title, their_update.removed_at) == ("Theirs", None)


def test_every_news_form_needs_its_csrf_token(db, team):
    petition, update, browsers = team
    owner = browsers["owner"]
    base = _updates_path(petition)
    for path in (f"{base}/new", f"{base}/{update.id}/edit", f"{base}/{update.id}/remove"):
        assert owner.post(path, data={"title": "x", "body": "y"}).status_code == 400
    outcome = f"/organiser/petitions/{petition.id}/outcome"
    assert owner.post(outcome, data=_answer()).status_code == 400
    db.session.refresh(update)
    assert (update.title, update.removed_at) == ("Released", None)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PetitionOutcome)) == 0


# The recipient's answer ---------------------------------------------------------------------------


def _answer(**fields):
    return {
        "outcome": "granted",
        "answered_on": utcnow().date().isoformat(),
        "answered_by": "Акорда",
        "summary": "The President granted the pardon.",
        "full_text": "## Decree\n\n<script>x()</script> [read](javascript:alert(1))",
        "link": "https://www.akorda.kz/ru/decree",
        **fields,
    }


def _outcome_path(petition) -> str:
    return f"/organiser/petitions/{petition.id}/outcome"


@pytest.fixture
def closed(owner, make_petition):
    account, browser = owner
    opened = utcnow() - timedelta(days=30)
    petition = make_petition(
        PetitionState.CLOSED,
        organiser=account,
        title="Free the poet",
        timezone="UTC",
        opens_at=opened,
        published_at=opened,
        closes_at=utcnow() - timedelta(days=1),
        closed_at=utcnow() - timedelta(days=1),
    )
    return petition, browser


def test_the_answer_is_recorded_logged_and_shown_first(db, client, closed):
    petition, browser = closed
    page = _outcome_path(petition)
    response = _post(browser, page, page, **_answer())
    assert response.status_code == 303
    outcome = db.session.scalars(sa.select(PetitionOutcome)).one()
    assert (outcome.outcome, outcome.answered_by, outcome.edited_at) == ("granted", "Акорда", None)
    assert _audit(db, petition)[-1] == (
        "owner@example.org",
        "record_outcome",
        {"outcome": "granted"},
    )
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    section = re.search(r'<section class="outcome".*?</section>', html, re.S)[0]
    assert html.index('class="outcome"') < html.index('class="petition__status"')
    assert '<dd class="outcome__label"><strong>Granted</strong></dd>' in section
    assert f"<dd>{format_date(utcnow().date(), 'medium', locale='en')}</dd>" in section
    assert "<dd><bdi>Акорда</bdi></dd>" in section
    assert '<p class="outcome__summary" lang="en">The President granted the pardon.</p>' in section
    assert "<h2>Decree</h2>" in section
    assert "<script>" not in section and 'href="javascript' not in section
    assert (
        '<a href="https://www.akorda.kz/ru/decree" rel="noopener noreferrer nofollow">' in section
    )


def test_correcting_the_answer_logs_what_changed_and_says_so(db, client, closed):
    petition, browser = closed
    page = _outcome_path(petition)
    _post(browser, page, page, **_answer())
    assert browser.get(page).status_code == 200
    again = _post(browser, page, page, **_answer(outcome="partly_granted", link=""))
    assert again.status_code == 303
    outcome = db.session.scalars(sa.select(PetitionOutcome)).one()
    assert (outcome.outcome, outcome.link) == ("partly_granted", None)
    assert outcome.edited_at is not None
    assert _audit(db, petition)[-1] == (
        "owner@example.org",
        "edit_outcome",
        {"outcome": "partly_granted", "fields": ["outcome", "link"]},
    )
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "<strong>Partly granted</strong>" in html and "Corrected on " in html
    log = browser.get(f"/organiser/petitions/{petition.id}").get_data(as_text=True)
    assert "Answer corrected" in log and "Outcome: Partly granted" in log


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"answered_on": "", "summary": "", "link": "javascript:alert(1)"},
            {
                "answered_on": "Give the date of the answer.",
                "summary": "Summarise the answer in a few sentences.",
                "link": "Give a web address that starts with https:// or http://.",
            },
        ),
        (
            {"answered_on": (utcnow().date() + timedelta(days=2)).isoformat()},
            {"answered_on": "The answer cannot be dated in the future."},
        ),
        (
            {"link": "ftp://example.org/answer", "answered_by": "x" * 201},
            {
                "link": "Give a web address that starts with https:// or http://.",
                "answered_by": "Keep this within 200 characters.",
            },
        ),
        (
            {"link": "https://exa mple.org"},
            {"link": "Give a web address that starts with https:// or http://."},
        ),
        ({"outcome": "pardoned"}, {"outcome": "Choose what the recipient decided."}),
        ({"summary": "s" * 1001}, {"summary": "Keep the summary within 1000 characters."}),
    ],
)
def test_a_bad_answer_is_refused_with_the_errors_at_their_fields(db, closed, fields, errors):
    petition, browser = closed
    page = _outcome_path(petition)
    response = _post(browser, page, page, **_answer(**fields))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for field, message in errors.items():
        assert f'<p class="field__error" id="{field}-error">{message}</p>' in html
    assert html.count('class="field__error"') == len(errors)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PetitionOutcome)) == 0


def test_an_answer_cannot_come_before_publication(db, closed):
    petition, browser = closed
    page = _outcome_path(petition)
    early = (petition.published_at - timedelta(days=1)).date()
    response = _post(browser, page, page, **_answer(answered_on=early.isoformat()))
    assert response.status_code == 422
    published = format_date(petition.published_at.date(), "medium", locale="en")
    assert (
        f"The answer cannot come before the petition was published ({published})."
        in response.get_data(as_text=True)
    )


def test_no_answer_needs_no_date(db, client, closed):
    petition, browser = closed
    page = _outcome_path(petition)
    response = _post(
        browser,
        page,
        page,
        **_answer(outcome="no_answer", answered_on="", answered_by="", full_text="", link=""),
    )
    assert response.status_code == 303
    data = client.get(f"/petitions/{petition.slug}.json").json
    assert data["outcome"]["outcome"] == "no_answer"
    assert data["outcome"]["answered_on"] is None
    assert data["outcome"]["full_text_html"] is None


def test_an_open_petition_takes_no_answer_and_the_page_says_why(db, owner, make_petition):
    account, browser = owner
    petition = make_petition(organiser=account)
    page = _outcome_path(petition)
    shown = browser.get(page).get_data(as_text=True)
    why = "The recipient&#39;s answer can be recorded once the petition is closed"
    assert why in shown and 'name="summary"' not in shown
    refused = _post(browser, page, page, **_answer())
    assert refused.status_code == 409
    assert why in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PetitionOutcome)) == 0


# The JSON and the cache ---------------------------------------------------------------------------


def test_the_json_has_the_updates_newest_first_and_the_answer(db, client, closed):
    petition, browser = closed
    assert client.get(f"/petitions/{petition.slug}.json").json["outcome"] is None
    _post_update(browser, petition, title="One", body="First [x](javascript:y) <b>b</b>")
    _post_update(browser, petition, title="Two", body="*Second*")
    one = db.session.scalar(sa.select(PetitionUpdate).where(PetitionUpdate.title == "One"))
    one.posted_at -= timedelta(minutes=5)
    db.session.commit()
    page = _outcome_path(petition)
    _post(browser, page, page, **_answer())
    data = client.get(f"/petitions/{petition.slug}.json").json
    two = db.session.scalar(sa.select(PetitionUpdate).where(PetitionUpdate.title == "Two"))
    assert data["updates"] == [
        {
            "title": "Two",
            "body_html": "<p><em>Second</em></p>\n",
            "posted_at": two.posted_at.isoformat(),
            "edited_at": None,
        },
        {
            "title": "One",
            "body_html": ("<p>First [x](javascript:y) &lt;b&gt;b&lt;/b&gt;</p>\n"),
            "posted_at": one.posted_at.isoformat(),
            "edited_at": None,
        },
    ]
    outcome = db.session.scalars(sa.select(PetitionOutcome)).one()
    assert data["outcome"] == {
        "outcome": "granted",
        "answered_on": utcnow().date().isoformat(),
        "answered_by": "Акорда",
        "summary": "The President granted the pardon.",
        "full_text_html": (
            "<h2>Decree</h2>\n<p>&lt;script&gt;x()&lt;/script&gt; [read](javascript:alert(1))</p>\n"
        ),
        "link": "https://www.akorda.kz/ru/decree",
        "recorded_at": outcome.recorded_at.isoformat(),
        "edited_at": None,
    }


class TestWithTheCache:
    """With the public cache on, news shows once the cached copy's lifetime is over."""

    LIFETIME = 60

    @pytest.fixture
    def app_overrides(self):
        cache.public.clear()
        yield {"PUBLIC_CACHE_SECONDS": str(self.LIFETIME)}
        cache.public.clear()

    def _later(self, monkeypatch, seconds: float) -> None:
        real = cache.public.clock
        monkeypatch.setattr(cache.public, "clock", lambda: real() + seconds)

    def test_a_new_edited_or_removed_update_shows_within_the_lifetime(
        self, db, client, owner, make_petition, monkeypatch
    ):
        account, browser = owner
        petition = make_petition(organiser=account)
        page, data = f"/petitions/{petition.slug}", f"/petitions/{petition.slug}.json"
        assert "news__title" not in client.get(page).get_data(as_text=True)
        assert client.get(data).json["updates"] == []
        _post_update(browser, petition, title="Released")
        self._later(monkeypatch, self.LIFETIME + 1)
        assert "Released</h3>" in client.get(page).get_data(as_text=True)
        assert [u["title"] for u in client.get(data).json["updates"]] == ["Released"]
        update = _only_update(db, petition)
        edit = f"{_updates_path(petition)}/{update.id}/edit"
        _post(browser, edit, edit, title="Released on 1 October", body="Text", save="1")
        self._later(monkeypatch, 2 * (self.LIFETIME + 1))
        assert "Released on 1 October</h3>" in client.get(page).get_data(as_text=True)
        remove = f"{_updates_path(petition)}/{update.id}/remove"
        _post(browser, remove, remove)
        self._later(monkeypatch, 3 * (self.LIFETIME + 1))
        assert "news__title" not in client.get(page).get_data(as_text=True)
        assert client.get(data).json["updates"] == []

    def test_the_answer_shows_within_the_lifetime(self, db, client, closed, monkeypatch):
        petition, browser = closed
        data = f"/petitions/{petition.slug}.json"
        assert client.get(data).json["outcome"] is None
        page = _outcome_path(petition)
        _post(browser, page, page, **_answer())
        assert client.get(data).json["outcome"] is None, "served from the cache"
        self._later(monkeypatch, self.LIFETIME + 1)
        assert client.get(data).json["outcome"]["outcome"] == "granted"
        shown = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
        assert "<strong>Granted</strong>" in shown
