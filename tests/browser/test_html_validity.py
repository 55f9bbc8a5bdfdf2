"""Every page the site serves passes the Nu HTML Checker (vnu.jar, from npm) with no error.

The pages are the HTML the server sent (the body of each document response), not the DOM after
scripts ran: what a browser, a screen reader or a mail gateway's preview parses. They are kept
under artifacts/browser/html/ and checked in one run of the checker, which starts Java once.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from petitions.errors import render_error
from tests.browser.conftest import ARTIFACTS, PHONE, Site
from tests.browser.test_accessibility import (
    visit_news_pages,
    visit_organiser_pages,
    visit_public_pages,
    visit_sealing_pages,
    visit_team_pages,
)
from tests.browser.test_signer import fill_signing_form
from tests.browser.test_two_factor import visit_two_factor_pages
from tests.html_check import checker, html_errors

LANGUAGES = {"en": "en-GB", "kk": "kk-KZ", "ru": "ru-RU"}


class Sources:
    """Keep the HTML the server sent for each page visited, one file per page."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.label = folder, ""
        self.latest: dict[int, Any] = {}
        self.files: list[Path] = []

    def watch(self, page: Any) -> Any:
        """Remember the newest document each page receives; return the page."""

        def seen(response: Any) -> None:
            if response.request.resource_type == "document" and response.frame == page.main_frame:
                self.latest[id(page)] = response

        page.on("response", seen)
        return page

    def check(self, page: Any, name: str) -> None:
        """Keep the page as the server sent it (the name of Audit.check, so visits are shared)."""
        response = self.latest[id(page)]
        assert response.url == page.url, f"{name}: kept {response.url}, showing {page.url}"
        self.add(name, response.body().decode("utf-8"))

    def add(self, name: str, html: str) -> None:
        path = self.folder / f"{self.label}-{name}.html"
        assert not path.exists(), f"{path.name} kept twice"
        path.write_text(html, encoding="utf-8")
        self.files.append(path)


@pytest.fixture(scope="session")
def vnu_jar() -> Path:
    """The Nu HTML Checker from npm (tests/browser/package.json), and a Java to run it."""
    return checker()


@pytest.fixture
def sources() -> Sources:
    folder = ARTIFACTS / "html"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Sources(folder)


def visit_closed_pages(
    sources: Sources, signers: dict[str, tuple[Any, str]], site: Site, slug: str
) -> None:
    """Close the petition under each signer's open form; keep what each signer then meets."""
    for page, _withdraw in signers.values():
        page.goto(f"/petitions/{slug}")
    site.command("petitions", "close", slug, "--reason", "Collection ended")
    for language, (page, withdraw) in signers.items():
        sources.label = language
        fill_signing_form(page, f"late-{uuid.uuid4().hex[:8]}@example.org")
        page.locator("form[action$='/sign'] button[type=submit]").click()
        page.wait_for_url(re.compile(r"/sign$"))
        sources.check(page, "signed-after-closing")
        page.goto(f"/petitions/{slug}")
        sources.check(page, "petition-closed")
        page.goto(withdraw)
        sources.check(page, "withdraw-after-closing")


def visit_closed_dashboard(sources: Sources, page: Any, site: Site, dashboard: str) -> None:
    """Export the closed petition and keep the dashboard with its exports and audit log."""
    page.goto(dashboard)
    sources.check(page, "dashboard-closed")
    for _ in range(2):
        page.locator("form[action$='/exports'] button").click()
        site.command("exports", "worker", "--rounds", "1", "--interval", "0")
        page.goto(dashboard)
    assert page.locator("a[href*='/exports/']").count() == 2
    sources.check(page, "dashboard-closed-exports")
    page.goto(f"{dashboard}/signatures?state=confirmed")
    sources.check(page, "signatures-closed")
    page.goto(f"{dashboard}/edit")
    sources.check(page, "editor-closed")


def add_error_pages(sources: Sources, site: Site, language: str) -> None:
    """Keep the error pages no browser visit here can reach: refusals and the rate limit."""
    for status in (400, 403, 405, 410, 413, 429, 500, 503):
        headers = {"Accept-Language": language}
        with site.app.test_request_context("/petitions/x/sign", headers=headers):
            sources.add(f"error-{status}", render_error(status).get_data(as_text=True))


def test_every_page_passes_the_html_checker(new_page, site, demo_slug, vnu_jar, sources):
    organiser = sources.watch(new_page(locale="en-GB"))
    sources.label = "en"
    slug = visit_organiser_pages(sources, organiser, site)
    dashboard = organiser.url.removeprefix(site.url).removesuffix("/signatures")
    organiser.goto(f"{dashboard}/edit")
    sources.check(organiser, "editor-edit")
    organiser.goto("/organiser/petitions/new")
    sources.check(organiser, "editor-new")
    visit_team_pages(
        sources, organiser, site, dashboard, lambda: sources.watch(new_page(locale="en-GB"))
    )
    visit_news_pages(sources, organiser, site)
    sealed = visit_sealing_pages(sources, organiser)

    signers: dict[str, tuple[Any, str]] = {}
    for language, locale in LANGUAGES.items():
        sources.label = language
        options: dict[str, Any] = PHONE if language == "kk" else {}
        signer = sources.watch(new_page(locale=locale, **options))
        withdraw = visit_public_pages(sources, signer, site, slug)
        signer.goto(f"/petitions/{demo_slug}")
        sources.check(signer, "demo-petition")
        signer.goto(f"/petitions/{sealed}")
        sources.check(signer, "petition-sealed")
        add_error_pages(sources, site, language)
        signers[language] = (signer, withdraw)
    visit_closed_pages(sources, signers, site, slug)
    sources.label = "en"
    visit_closed_dashboard(sources, organiser, site, dashboard)
    for language, locale in LANGUAGES.items():
        sources.label = language
        visit_two_factor_pages(sources, sources.watch(new_page(locale=locale)), site)

    # 12 organiser pages on the way and 4 of paper sheets, 2 editors, 7 of the team, 8 of updates
    # and the answer, 2 sealing, 4 closed; 15 public (3 of them the news' unsubscribe), 8 errors,
    # 3 closed, 1 sealed and 8 of the second factor each.
    assert len(sources.files) == 12 + 4 + 2 + 7 + 8 + 2 + 4 + 3 * (15 + 8 + 3 + 1 + 8)
    errors = html_errors(vnu_jar, sources.files)
    assert not errors, json.dumps(errors, ensure_ascii=False, indent=1)


def test_html_checker_reports_an_invalid_page(vnu_jar, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html lang="en"><head><title>x</title></head><body>'
        '<p id="a">one</p><p id="a">two</p><div><span></div></body></html>',
        encoding="utf-8",
    )
    valid = tmp_path / "valid.html"
    valid.write_text(
        '<!DOCTYPE html><html lang="en"><head><title>x</title></head><body><p>ok</p></body></html>',
        encoding="utf-8",
    )
    errors = html_errors(vnu_jar, [page, valid])
    assert list(errors) == ["broken.html"]
    assert any("Duplicate ID “a”" in message for message in errors["broken.html"])
