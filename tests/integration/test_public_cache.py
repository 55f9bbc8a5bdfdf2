"""With the public cache on, every visitor still gets a form token of their own, and the count
is at most the cache's lifetime old."""

import pytest

from petitions import cache
from tests.helpers import CSRF_PATTERN, sign


@pytest.fixture
def app_overrides():
    cache.public.clear()
    yield {"PUBLIC_CACHE_SECONDS": "60"}
    cache.public.clear()


def test_cached_page_gives_each_visitor_their_own_token(app, make_petition):
    petition = make_petition()
    first, second = app.test_client(), app.test_client()
    page_one = first.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    page_two = second.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    token_one, token_two = CSRF_PATTERN.search(page_one)[1], CSRF_PATTERN.search(page_two)[1]
    assert token_one != token_two
    assert "\x00" not in page_two
    assert sign(first, petition.slug, email="one@example.org").status_code == 303
    assert sign(second, petition.slug, email="two@example.org").status_code == 303


def test_the_json_count_is_served_from_the_cache_for_its_lifetime(
    app, client, make_petition, make_signature
):
    petition = make_petition()
    assert client.get(f"/petitions/{petition.slug}.json").json["signature_count"] == 0
    make_signature(petition)
    response = client.get(f"/petitions/{petition.slug}.json")
    assert response.json["signature_count"] == 0, "served from the cache"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    cache.public.clear()
    assert client.get(f"/petitions/{petition.slug}.json").json["signature_count"] == 1


def test_one_visitors_messages_never_reach_the_shared_page(app, make_petition):
    petition = make_petition()
    visitor, other = app.test_client(), app.test_client()
    with visitor.session_transaction() as session:
        session["_flashes"] = [("info", "private note for one visitor")]
    first = visitor.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    second = other.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "private note for one visitor" not in first
    assert "private note for one visitor" not in second
