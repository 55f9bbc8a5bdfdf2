"""Absolute links come from BASE_URL alone, and a request naming another host is refused."""

import re

import pytest
import sqlalchemy as sa

from petitions.models import OutboxMessage, Signature
from tests.helpers import CSRF_PATTERN, signing_data, written_email

SITE = "https://petitions.example.org"


@pytest.fixture
def app_overrides():
    return {"BASE_URL": SITE}


def _sign_on(client, slug: str, host: str):
    page = client.get(f"/petitions/{slug}", base_url=host)
    match = CSRF_PATTERN.search(page.get_data(as_text=True))
    token = match[1] if match else "none"
    return page, client.post(
        f"/petitions/{slug}/sign", data=signing_data(csrf_token=token), base_url=host
    )


def test_a_signature_sent_to_an_unknown_host_is_refused_and_mails_nothing(
    client, db, make_petition
):
    petition = make_petition()
    page, answer = _sign_on(client, petition.slug, "http://evil.example.org")
    assert (page.status_code, answer.status_code) == (400, 400)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Signature)) == 0


@pytest.mark.parametrize("host", [SITE, "http://localhost", "http://127.0.0.1:5000"])
def test_the_emailed_links_start_with_base_url_whatever_trusted_host_was_named(
    client, db, make_petition, host
):
    petition = make_petition(slug="pardon")
    _page, answer = _sign_on(client, petition.slug, host)
    assert answer.status_code == 303
    (message,) = db.session.scalars(sa.select(OutboxMessage)).all()
    _subject, text, html = written_email(message)
    links = re.findall(r"https?://[^\s\"<>]+", text)
    # Confirm, the receipt, withdraw, the petition.
    assert len(links) == 4
    assert all(link.startswith(f"{SITE}/") for link in links), links
    assert f"{SITE}/petitions/pardon" in links
    assert "localhost" not in html and "127.0.0.1" not in html


def test_the_page_s_canonical_share_and_og_addresses_come_from_base_url(client, make_petition):
    petition = make_petition(slug="pardon")
    page = client.get("/petitions/pardon", base_url="http://localhost").get_data(as_text=True)
    assert f'<link rel="canonical" href="{SITE}/petitions/pardon">' in page
    assert f'<meta property="og:url" content="{SITE}/petitions/pardon">' in page
    assert "https://t.me/share/url?url=https%3A//petitions.example.org/petitions/pardon" in page
    assert f'value="{SITE}/petitions/pardon"' in page
    absolute = set(re.findall(r'(?:href|content|value|src)="(https?://[^"]+)"', page))
    ours = {link for link in absolute if not link.startswith(("https://t.me/", "https://wa.me/"))}
    ours = {link for link in ours if "vk.com" not in link and "facebook" not in link}
    ours = {link for link in ours if not link.startswith("https://x.com/")}
    assert ours == {f"{SITE}/petitions/pardon"}, ours
    assert petition.slug in page


def _status(response) -> int:
    response.close()  # static files are streamed from an open file
    return response.status_code


def test_base_url_s_host_and_trusted_hosts_are_answered_and_no_other(app):
    from tests.conftest import make_test_app

    other = make_test_app(
        app.config["SQLALCHEMY_DATABASE_URI"],
        app.config["INSTANCE_PATH"],
        BASE_URL=SITE,
        TRUSTED_HOSTS="www.example.org, .mirror.example.net",
        PETITIONS_ENV="production",
    )
    client = other.test_client()
    path = "/static/favicon.svg"
    statuses = {
        host: _status(client.get(path, base_url=host))
        for host in (
            SITE,
            "https://www.example.org",
            "https://a.mirror.example.net",
            "https://localhost",
            "https://evil.example.org",
            "https://petitions.example.org.evil.example.org",
        )
    }
    assert statuses == {
        SITE: 200,
        "https://www.example.org": 200,
        "https://a.mirror.example.net": 200,
        "https://localhost": 400,
        "https://evil.example.org": 400,
        "https://petitions.example.org.evil.example.org": 400,
    }
