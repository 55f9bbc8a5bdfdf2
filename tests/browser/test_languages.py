"""Languages in a real browser: the switcher, the remembered choice, Accept-Language."""

from __future__ import annotations

from typing import Any

import pytest
from babel import Locale

from petitions.models import Petition
from petitions.services.demo import DEMO_SLUG

#: Words of the petition page in each language, as a reader checks them.
SIGN_HEADING = {"kk": "Петицияға қол қою", "ru": "Подписать петицию", "en": "Sign this petition"}
KAZAKHSTAN = {"kk": "Қазақстан", "ru": "Казахстан", "en": "Kazakhstan"}


def page_language(page: Any) -> str:
    return page.evaluate("document.documentElement.lang")


def switch_to(page: Any, name: str) -> None:
    page.locator(".language-switcher").get_by_role("link", name=name).click()
    page.wait_for_load_state()


def expected_month(site: Any, language: str) -> str:
    """Return the name of the month the demo closes in, as CLDR writes it in a language."""
    with site.app.app_context():
        from petitions.extensions import db

        petition = db.session.query(Petition).filter_by(slug=DEMO_SLUG).one()
        closes = petition.closes_at.astimezone(petition.zone)
    return Locale.parse(language).months["format"]["wide"][closes.month]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_switcher_changes_the_page_and_keeps_the_choice(new_page, site, demo_slug, javascript):
    page = new_page(locale="en-GB", java_script_enabled=javascript)
    page.goto(f"/petitions/{demo_slug}")
    assert page_language(page) == "en"
    for code, name in [("kk", "Қазақша"), ("ru", "Русский")]:
        switch_to(page, name)
        # The switcher returns to the page it was used on, now in the chosen language.
        assert page.url.endswith(f"/petitions/{demo_slug}")
        assert page_language(page) == code
        assert page.locator("#sign-heading").inner_text() == SIGN_HEADING[code]
        assert page.locator("#country option[value=KZ]").inner_text() == KAZAKHSTAN[code]
        assert expected_month(site, code) in page.locator(".petition__deadline").inner_text()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["lang"]["value"] == "ru"
    assert cookies["lang"]["httpOnly"]
    # The choice holds on every other page, the organisers' too, and after a reload.
    for path in ["/", "/organiser/login", "/no-such-page", f"/petitions/{demo_slug}"]:
        page.goto(path)
        assert page_language(page) == "ru", path
    page.reload()
    assert page_language(page) == "ru"


@pytest.mark.parametrize(
    ("browser_locale", "expected"), [("kk-KZ", "kk"), ("ru-RU", "ru"), ("de-DE", "en")]
)
def test_without_a_choice_the_browser_language_is_used(
    new_page, demo_slug, browser_locale, expected
):
    page = new_page(locale=browser_locale)
    page.goto(f"/petitions/{demo_slug}")
    assert page_language(page) == expected
    assert page.locator("#sign-heading").inner_text() == SIGN_HEADING[expected]


def test_an_explicit_choice_beats_the_browser_language(new_page, demo_slug):
    page = new_page(locale="ru-RU")
    page.goto("/")
    switch_to(page, "English")
    page.goto(f"/petitions/{demo_slug}")
    assert page_language(page) == "en"
    current = page.locator(".language-switcher [aria-current]")
    assert current.inner_text() == "English"
