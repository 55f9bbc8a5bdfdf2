"""A cached public page near the end of its lifetime is rendered again after an answer has been
sent, so that no visitor waits for the render; none is ever served older than its lifetime. The
shared page's empty signing form is rendered once and reused, to the same bytes."""

import re

import pytest

from petitions import cache
from petitions.public import views
from tests.helpers import CSRF_PATTERN

LIFETIME = 60


@pytest.fixture
def app_overrides():
    cache.public.clear()
    yield {"PUBLIC_CACHE_SECONDS": str(LIFETIME)}
    cache.public.clear()


def _shown_count(client, slug: str) -> str:
    response = client.get(f"/petitions/{slug}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    response.close()  # as gunicorn does once the answer is sent: the refresh runs now
    return re.search(r'<p class="petition__count">\s*<strong>([^<]+)</strong>', page)[1]


def _later(monkeypatch, seconds: float) -> None:
    real = cache.public.clock
    monkeypatch.setattr(cache.public, "clock", lambda: real() + seconds)


def test_a_page_near_its_end_is_served_then_rendered_again(
    app, client, make_petition, make_signature, monkeypatch
):
    petition = make_petition()
    assert _shown_count(client, petition.slug) == "0"
    make_signature(petition)
    assert _shown_count(client, petition.slug) == "0", "served from the cache"
    _later(monkeypatch, LIFETIME * views.REFRESH_AFTER + 1)
    assert _shown_count(client, petition.slug) == "0", "still the cached copy: no wait"
    assert _shown_count(client, petition.slug) == "1", "rendered after the previous answer"


def test_a_page_early_in_its_lifetime_is_not_rendered_again(
    app, client, make_petition, make_signature, monkeypatch
):
    petition = make_petition()
    assert _shown_count(client, petition.slug) == "0"
    make_signature(petition)
    _later(monkeypatch, LIFETIME * views.REFRESH_AFTER - 1)
    assert _shown_count(client, petition.slug) == "0"
    assert _shown_count(client, petition.slug) == "0"


def test_an_expired_page_is_rendered_in_the_request(
    app, client, make_petition, make_signature, monkeypatch
):
    petition = make_petition()
    assert _shown_count(client, petition.slug) == "0"
    make_signature(petition)
    _later(monkeypatch, LIFETIME + 1)
    assert _shown_count(client, petition.slug) == "1"


def test_a_refresh_that_fails_leaves_the_answer_and_the_copy_alone(
    app, client, make_petition, make_signature, monkeypatch, caplog
):
    petition = make_petition()
    assert _shown_count(client, petition.slug) == "0"
    make_signature(petition)
    _later(monkeypatch, LIFETIME * views.REFRESH_AFTER + 1)

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(views.queries, "public_counts", broken)
    assert _shown_count(client, petition.slug) == "0"
    assert "rendering petition again failed" in caplog.text
    monkeypatch.undo()
    assert _shown_count(client, petition.slug) == "0", "the copy is served until it expires"


@pytest.mark.parametrize("language", ["en", "ru", "kk"])
def test_the_reused_form_gives_the_same_page_as_a_form_rendered_with_it(
    app, client, make_petition, monkeypatch, language
):
    petition = make_petition(recipient="Министр <юстиции> & «Ко»")
    path, headers = f"/petitions/{petition.slug}", {"Accept-Language": language}
    cache.public.clear()
    reused = client.get(path, headers=headers).get_data(as_text=True)
    assert CSRF_PATTERN.search(reused) and "\x00" not in reused, "the visitor's own token"
    monkeypatch.setattr(views, "_empty_sign_form", lambda petition, form: None)
    cache.public.clear()
    rendered = client.get(path, headers=headers).get_data(as_text=True)
    assert CSRF_PATTERN.sub("TOKEN", reused) == CSRF_PATTERN.sub("TOKEN", rendered)
    assert 'action="/petitions/' + petition.slug + '/sign"' in reused
    assert "Министр &lt;юстиции&gt; &amp; «Ко»" in reused


def test_the_reused_form_shows_the_organisers_new_public_name_once_the_page_expires(
    app, client, db, make_organiser, make_petition, monkeypatch
):
    organiser = make_organiser(public_name="Almaty Rights Group")
    petition = make_petition(organiser=organiser)
    slug = petition.slug
    first = client.get(f"/petitions/{slug}").get_data(as_text=True)
    assert "Run by Almaty Rights Group." in first
    organiser.public_name = "Kazakhstan Bureau for Human Rights"
    db.session.commit()
    _later(monkeypatch, LIFETIME + 1)  # the page expires; the form alone would last an hour
    page = client.get(f"/petitions/{slug}").get_data(as_text=True)
    assert "Run by Kazakhstan Bureau for Human Rights." in page
    assert "Almaty Rights Group" not in page
