"""The signing form's token: made here, for this form, lately, and sent from this site."""

import time

import pytest

from petitions.public import form_token
from tests.helpers import CSRF_PATTERN, csrf_token, signing_data


def test_viewing_a_petition_sets_no_cookie_and_gives_each_view_its_own_token(client, make_petition):
    petition = make_petition()
    first = client.get(f"/petitions/{petition.slug}")
    again = client.get(f"/petitions/{petition.slug}")
    assert first.headers.getlist("Set-Cookie") == again.headers.getlist("Set-Cookie") == []
    tokens = [CSRF_PATTERN.search(page.get_data(as_text=True))[1] for page in (first, again)]
    assert tokens[0] != tokens[1]
    assert all(form_token._TOKEN.match(token) for token in tokens)


def _post(client, slug, token, **headers):
    return client.post(
        f"/petitions/{slug}/sign", data=signing_data(csrf_token=token), headers=headers
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "null"},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://other.localhost"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example.org"},  # a browser before Fetch Metadata
        {"Origin": "http://localhost.evil.example.org"},
    ],
)
def test_a_post_sent_from_another_site_is_refused_even_with_a_good_token(
    app, db, make_petition, headers
):
    from petitions.models import Signature

    petition = make_petition()
    token = csrf_token(app.test_client(), f"/petitions/{petition.slug}")
    assert _post(app.test_client(), petition.slug, token, **headers).status_code == 400
    assert db.session.query(Signature).count() == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin", "Origin": "null"},  # our own no-referrer pages
        {"Origin": "http://localhost"},
        {},  # no header at all: an old browser, or a client that is no browser
    ],
)
def test_a_post_from_our_own_page_is_taken(app, db, make_petition, headers):
    petition = make_petition()
    client = app.test_client()
    token = csrf_token(client, f"/petitions/{petition.slug}")
    assert _post(client, petition.slug, token, **headers).status_code == 303


def test_a_guessed_altered_stale_or_confirmation_token_is_refused(app, db, make_petition):
    from petitions.models import Signature

    petition = make_petition()
    client = app.test_client()
    good = csrf_token(client, f"/petitions/{petition.slug}")
    nonce, issued, mac = good.split(".")
    scope = form_token.SIGN
    with app.test_request_context():
        link_token = form_token.issue(form_token.LINK)
        stale = form_token.issue(scope, now=time.time() - form_token.TOKEN_AGE - 60)
        ahead = form_token.issue(scope, now=time.time() + 3600)
        nearly_stale = form_token.issue(scope, now=time.time() - form_token.TOKEN_AGE + 60)
    refused = {
        "guessed": "0" * 64,
        "altered nonce": f"{'f' * 32}.{issued}.{mac}",
        "altered time": f"{nonce}.{int(issued) + 1}.{mac}",
        "stale": stale,
        "from the future": ahead,
        "a confirmation button's": link_token,
        "empty": "",
    }
    answers = {
        name: _post(client, petition.slug, token).status_code for name, token in refused.items()
    }
    assert answers == dict.fromkeys(refused, 400)
    assert db.session.query(Signature).count() == 0
    assert _post(client, petition.slug, nearly_stale).status_code == 303
