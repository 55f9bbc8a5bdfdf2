"""What a signer's browser is asked to do: nothing from another origin, no inline code."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import EXPECTED_CONSOLE, PHONE, Watch
from tests.browser.test_organiser import create_petition, sign_in

PUBLIC_PATHS = ["/", "/petitions/{slug}", "/signatures/confirm/x", "/no-such-page"]
ORGANISER_PATHS = ["{dashboard}", "{dashboard}/signatures", "{dashboard}/edit", "/organiser/"]


def watched_context(browser: Any, site: Any, **options: Any) -> tuple[Any, Watch]:
    """Open a browser context of the test's own whose requests and console are recorded."""
    context = browser.new_context(base_url=site.url, **options)
    watch = Watch(origin=site.url)
    context.on("request", watch.request)
    context.on("console", watch.console)
    return context, watch


def test_every_request_of_every_page_stays_on_the_site(browser, site, demo_slug):
    context, watch = watched_context(browser, site, locale="kk-KZ", **PHONE)
    seen: list[str] = []
    context.on("request", lambda request: seen.append(request.url))
    page = context.new_page()
    for path in PUBLIC_PATHS:
        page.goto(path.format(slug=demo_slug))
    sign_in(page)
    dashboard = create_petition(page, "Requests check")
    for path in ORGANISER_PATHS:
        page.goto(path.format(dashboard=dashboard))
    context.close()
    # The pages, their stylesheets and icon, the sign-in and editor posts: all recorded, all ours.
    assert len(seen) >= 20
    assert any(url.endswith("/static/css/site.css") for url in seen)
    assert any(url.endswith("/static/css/organiser.css") for url in seen)
    assert not watch.foreign_requests, watch.foreign_requests
    assert not [e for e in watch.console_errors if not EXPECTED_CONSOLE.search(e)]


def test_the_request_watch_catches_a_page_that_loads_from_another_origin(browser, site):
    # localhost is another origin than 127.0.0.1, and still this machine.
    foreign = site.url.replace("127.0.0.1", "localhost") + "/static/favicon.svg"
    context, watch = watched_context(browser, site)
    page = context.new_page()
    page.goto("/")
    page.evaluate(
        "url => document.body.insertAdjacentHTML('beforeend', `<img alt='' src='${url}'>`)",
        foreign,
    )
    page.wait_for_load_state("networkidle")
    context.close()
    assert watch.foreign_requests == [foreign]


def test_the_browser_refuses_inline_script_and_style_on_our_pages(browser, site, demo_slug):
    context, watch = watched_context(browser, site)
    page = context.new_page()
    page.goto(f"/petitions/{demo_slug}")
    ran = page.evaluate(
        """() => {
            const script = document.createElement('script');
            script.textContent = 'window.injected = true';
            document.body.appendChild(script);
            const style = document.createElement('style');
            style.textContent = 'body { display: none }';
            document.head.appendChild(style);
            return [window.injected === true, getComputedStyle(document.body).display];
        }"""
    )
    context.close()
    assert ran == [False, "block"]
    refusals = [e for e in watch.console_errors if "Content Security Policy" in e]
    assert any("script" in e for e in refusals), watch.console_errors
    assert any("style" in e for e in refusals), watch.console_errors
