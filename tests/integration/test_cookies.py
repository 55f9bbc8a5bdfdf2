"""Reading the site leaves nothing on the device; a language is kept only when asked."""

import re

import sqlalchemy as sa

from petitions.models import OutboxMessage, PetitionState
from tests.helpers import confirm_path, csrf_token, sign, written_email


def _links_of_a_signature(client, db, slug: str) -> tuple[str, str, str]:
    assert sign(client, slug).status_code == 303
    message = db.session.scalars(sa.select(OutboxMessage)).one()
    text = written_email(message)[1]
    withdraw = re.search(r"https?://[^/\s]+(/signatures/withdraw/\S+)", text)[1]
    receipt = re.search(r"https?://[^/\s]+(/petitions/[^/\s]+/receipts/\S+)", text)[1]
    return confirm_path(text), withdraw, receipt


def test_no_public_page_sets_a_cookie(app, db, make_petition):
    petition = make_petition(slug="pardon")
    closed = make_petition(PetitionState.CLOSED, slug="closed-one")
    confirm, withdraw, receipt = _links_of_a_signature(app.test_client(), db, petition.slug)
    code = receipt.rsplit("/", 1)[1]
    pages = [
        "/",
        "/petitions/pardon",
        "/petitions/pardon/check-email",
        confirm,
        withdraw,
        "/petitions/pardon/thank-you",
        f"/petitions/pardon/thank-you?receipt={code}",
        receipt,
        f"{receipt}.json",
        "/petitions/pardon/receipts/not-a-code",
        "/petitions/pardon/withdrawn",
        f"/petitions/{closed.slug}",
        "/signatures/confirm/not-a-token",
        "/petitions/none-such",
        "/livez",
        "/healthz",
    ]
    answers = {}
    for path in pages:
        response = app.test_client().get(path)  # a visitor with no cookie yet
        answers[path] = (response.status_code < 500, response.headers.getlist("Set-Cookie"))
    assert answers == {path: (True, []) for path in pages}


def test_confirming_and_withdrawing_from_the_link_write_no_cookie(app, db, make_petition):
    petition = make_petition()
    confirm, withdraw, _receipt = _links_of_a_signature(app.test_client(), db, petition.slug)
    visitor = app.test_client()
    own = {"Sec-Fetch-Site": "same-origin"}
    token = {"csrf_token": csrf_token(visitor, confirm)}
    confirmed = visitor.post(confirm, data=token, headers=own)
    assert confirmed.status_code == 303
    token = {"csrf_token": csrf_token(visitor, withdraw)}
    withdrawn = visitor.post(withdraw, data=token, headers=own)
    assert withdrawn.status_code == 303
    assert confirmed.headers.getlist("Set-Cookie") == withdrawn.headers.getlist("Set-Cookie") == []


def test_a_link_s_form_sent_from_another_site_is_refused(app, db, make_petition):
    petition = make_petition()
    confirm, withdraw, _receipt = _links_of_a_signature(app.test_client(), db, petition.slug)
    for path in (confirm, withdraw):
        client = app.test_client()
        token = {"csrf_token": csrf_token(client, path)}
        answer = client.post(path, data=token, headers={"Sec-Fetch-Site": "cross-site"})
        assert answer.status_code == 400, path


def test_the_language_lasts_the_visit_unless_the_visitor_keeps_it(client):
    (chosen,) = client.get("/language/ru?next=/").headers.getlist("Set-Cookie")
    assert chosen.startswith("lang=ru;")
    assert "Expires" not in chosen and "Max-Age" not in chosen
    (kept,) = client.get("/language/kk?next=/&keep=1").headers.getlist("Set-Cookie")
    assert kept.startswith("lang=kk;")
    assert "Max-Age=31536000" in kept and "Expires=" in kept


def test_the_switcher_offers_to_keep_the_current_language(client, make_petition):
    petition = make_petition(slug="pardon")
    client.set_cookie("lang", "ru")
    page = client.get("/petitions/pardon").get_data(as_text=True)
    assert (
        'class="language-switcher__keep" href="/language/ru?next=/petitions/pardon&amp;keep=1"'
    ) in page
    assert petition.slug in page


def test_an_organiser_s_browser_cookie_never_reaches_a_signer_s_page(
    app, db, make_account, make_petition
):
    from petitions.organiser.sessions import BROWSER_COOKIE
    from tests.conftest import PASSWORD
    from tests.helpers import login

    petition = make_petition(slug="pardon")
    organiser = make_account()
    browser = app.test_client()
    signed_in = login(browser, organiser.email, PASSWORD)
    [kept] = [c for c in signed_in.headers.getlist("Set-Cookie") if c.startswith(BROWSER_COOKIE)]
    assert "Path=/organiser" in kept
    assert BROWSER_COOKIE in browser.get("/organiser/").request.cookies
    answers = {}
    for path in ("/", "/petitions/pardon", "/petitions/pardon.json", "/language/ru?next=/"):
        response = browser.get(path)
        answers[path] = (
            BROWSER_COOKIE in response.request.cookies,
            [c for c in response.headers.getlist("Set-Cookie") if BROWSER_COOKIE in c],
        )
    signed = sign(browser, petition.slug)
    assert signed.status_code == 303
    answers["sign"] = (
        BROWSER_COOKIE in signed.request.cookies,
        [c for c in signed.headers.getlist("Set-Cookie") if BROWSER_COOKIE in c],
    )
    assert answers == dict.fromkeys(answers, (False, []))
    # A signer's browser, new to the site, is never given it by any signer-facing page.
    signer = app.test_client()
    assert sign(signer, petition.slug).status_code == 303
    assert signer.get_cookie(BROWSER_COOKIE, path="/organiser") is None
