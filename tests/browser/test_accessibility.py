"""Accessibility in a real browser: axe-core on every page, the keyboard alone, small screens."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from petitions.extensions import db
from petitions.models import Signature, Subscription
from petitions.sealing import SealingIdentity
from petitions.services import paper, queries, subscriptions
from petitions.services.privacy import email_hashes
from tests.browser.conftest import ORGANISER_EMAIL, PHONE, Site, assert_no_sideways_scrolling
from tests.browser.test_organiser import create_petition, sign_in
from tests.browser.test_signer import WITHDRAW_LINK, confirmation_link, fill_signing_form
from tests.browser.test_two_factor import visit_two_factor_pages

RESET_LINK = re.compile(r"(https?://\S+/organiser/reset/\S+)")
INVITATION_LINK = re.compile(r"(https?://\S+/organiser/invitations/[A-Za-z0-9_-]+)")
#: What axe-core must not find: the two worst of its four impact levels.
BLOCKING = {"serious", "critical"}


class Audit:
    """Run axe-core on each page visited and collect what it finds, page by page."""

    def __init__(self, script: Path, screenshots: Any, label: str) -> None:
        self.script, self.screenshots, self.label = script, screenshots, label
        self.found: dict[str, list[dict]] = {}
        self.minor: dict[str, list[str]] = {}
        self.pages = 0

    def check(self, page: Any, name: str) -> None:
        """Audit the page as it is now, and keep its screenshot."""
        page.add_script_tag(path=str(self.script))
        result = page.evaluate("async () => await axe.run(document)")
        blocking = [
            {
                "rule": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"]][:5],
            }
            for v in result["violations"]
            if v["impact"] in BLOCKING
        ]
        if blocking:
            self.found[f"{name} ({page.url})"] = blocking
        if minor := [v["id"] for v in result["violations"] if v["impact"] not in BLOCKING]:
            self.minor[name] = minor
        self.pages += 1
        self.screenshots(page, f"axe-{self.label}-{name}")

    def save_report(self) -> None:
        """Keep what was found, the lesser findings too, beside the screenshots."""
        report = {"pages": self.pages, "serious_or_critical": self.found, "lesser": self.minor}
        path = self.screenshots.folder / f"axe-{self.label}.json"
        path.write_text(json.dumps(report, ensure_ascii=False, indent=1))


def visit_public_pages(audit: Audit, page: Any, site: Site, slug: str) -> str:
    """Open every page a signer can meet, in the order a signer meets them; return the
    withdrawal link of the signature made on the way."""
    page.goto("/")
    audit.check(page, "home")
    page.goto(f"/petitions/{slug}")
    audit.check(page, "petition")
    page.locator("form[action$='/sign'] button[type=submit]").click()
    audit.check(page, "petition-form-errors")
    email = f"axe-{uuid.uuid4().hex[:8]}@example.org"
    fill_signing_form(page, email)
    page.locator("#news").check()
    page.locator("form[action$='/sign'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/check-email$"))
    audit.check(page, "check-email")
    message, link = confirmation_link(site, email)
    page.goto(link)
    audit.check(page, "confirm")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/thank-you\?receipt=[a-z2-7]{24}$"))
    audit.check(page, "thank-you")
    page.goto(link)
    audit.check(page, "confirm-again")
    visit_unsubscribe_pages(audit, page, site, email)
    text = message.get_body(preferencelist=("plain",)).get_content()
    withdraw = WITHDRAW_LINK.search(text).group(1)
    page.goto(withdraw)
    audit.check(page, "withdraw")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/withdrawn$"))
    audit.check(page, "withdrawn")
    page.goto("/signatures/confirm/not-a-real-token")
    audit.check(page, "confirm-invalid")
    page.goto("/no-such-page")
    audit.check(page, "not-found")
    return withdraw


def unsubscribe_link(site: Site, email: str) -> str:
    """Return the unsubscribe link of the subscription made with this address, as news gives it."""
    with site.app.app_context():
        public_id = db.session.scalars(
            sa.select(Subscription.public_id)
            .join(Signature, Signature.id == Subscription.signature_id)
            .where(Signature.email_hash == email_hashes(email).email)
        ).one()
        return f"/news/unsubscribe/{subscriptions.unsubscribe_token(public_id)}"


def visit_unsubscribe_pages(audit: Audit, page: Any, site: Site, email: str) -> None:
    """Open the news' unsubscribe link of a signer who asked for news, press its button, and
    open a link that names nothing."""
    page.goto(unsubscribe_link(site, email))
    audit.check(page, "unsubscribe")
    page.locator("main form button[type=submit]").click()
    page.wait_for_selector("main p[role=status]")
    audit.check(page, "unsubscribed")
    page.goto("/news/unsubscribe/not.real")
    audit.check(page, "unsubscribe-invalid")


def visit_closed_pages(audit: Audit, page: Any, site: Site, slug: str, withdraw: str) -> None:
    """Close a petition under a signer's open form; open what they then meet."""
    page.goto(f"/petitions/{slug}")
    site.command("petitions", "close", slug, "--reason", "Collection ended")
    fill_signing_form(page, f"late-{uuid.uuid4().hex[:8]}@example.org")
    page.locator("form[action$='/sign'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/sign$"))
    audit.check(page, "signed-after-closing")
    page.goto(f"/petitions/{slug}")
    audit.check(page, "petition-closed")
    page.goto(withdraw)
    audit.check(page, "withdraw-after-closing")


def reset_link(site: Site) -> str:
    """Deliver the outbox and return the newest password-reset link sent to the organiser."""
    site.deliver_mail()
    texts = [
        m.get_body(preferencelist=("plain",)).get_content() for m in site.mail_to(ORGANISER_EMAIL)
    ]
    links = [match.group(1) for text in texts if (match := RESET_LINK.search(text))]
    assert links, "no password-reset email"
    return links[-1]


def visit_organiser_pages(audit: Audit, page: Any, site: Site) -> str:
    """Open every page an organiser works in; return the slug of the petition made on the way."""
    page.goto("/organiser/login")
    page.locator("main form button[type=submit]").click()
    audit.check(page, "login-errors")
    page.goto("/organiser/reset")
    audit.check(page, "reset-request")
    page.locator("#email").fill(ORGANISER_EMAIL)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/organiser/login$"))
    audit.check(page, "login-with-message")
    page.goto(reset_link(site))
    audit.check(page, "reset-password")
    page.goto("/organiser/reset/not-a-real-token")
    audit.check(page, "reset-invalid")
    sign_in(page)
    audit.check(page, "organiser-list")
    page.goto("/organiser/account")
    audit.check(page, "account")
    page.goto("/organiser/petitions/new")
    page.locator("main form button[name=save]").click()
    audit.check(page, "editor-errors")
    page.goto("/organiser/")
    dashboard = create_petition(page, f"Axe check {uuid.uuid4().hex[:6]}")
    audit.check(page, "dashboard-draft")
    page.locator("form[action$='/publish'] button").click()
    audit.check(page, "dashboard-open")
    public = page.locator(".dashboard__state a").get_attribute("href")
    page.goto(f"{dashboard}/edit")
    page.locator("main form button[name=preview]").click()
    audit.check(page, "editor-preview")
    visit_paper_pages(audit, page, site, dashboard, public.rsplit("/", 1)[1])
    page.goto(f"{dashboard}/signatures")
    audit.check(page, "signatures")
    return public.rsplit("/", 1)[1]


def paper_code(site: Site, slug: str, number: int) -> str:
    """Return the check code printed on a petition's sheet, as the server derives it."""
    with site.app.app_context():
        return paper.check_code(queries.petition_by_slug(slug).public_id, number)


def fill_paper_pass(page: Any, number: int, code: str, city: str) -> None:
    page.locator("#sheet").fill(str(number))
    page.locator("#check_code").fill(code)
    page.locator("#name-1").fill("Әлия Қасымқызы Үмбетова")
    page.locator("#city-1").fill(city)
    page.locator("main form button[type=submit]").click()


def visit_paper_pages(audit: Audit, page: Any, site: Site, dashboard: str, slug: str) -> None:
    """Open the paper sheets' pages: the list, the entry form, a refusal and two passes that
    differ, whose differences the list then shows."""
    page.goto(f"{dashboard}/paper")
    audit.check(page, "paper-sheets")
    page.goto(f"{dashboard}/paper/enter")
    audit.check(page, "paper-entry")
    fill_paper_pass(page, 1, "AAAA-AAAA", "Алматы")
    page.locator("#entry-error").wait_for()
    audit.check(page, "paper-entry-errors")
    code = paper_code(site, slug, 1)
    for city in ("Алматы", "Астана"):
        page.goto(f"{dashboard}/paper/enter")
        fill_paper_pass(page, 1, code, city)
        page.wait_for_url(re.compile(r"/paper$"))
    audit.check(page, "paper-differences")


def visit_sealing_pages(audit: Audit, page: Any) -> str:
    """Seal a new petition in the editor, a refused key first, and publish it; return its slug."""
    page.goto("/organiser/")
    dashboard = create_petition(page, f"Sealed check {uuid.uuid4().hex[:6]}")
    page.goto(f"{dashboard}/edit")
    seal = page.locator("form[action$='/seal']")
    seal.locator("textarea").fill("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO8bSo1uQ5hUy5ojY0sKJa")
    seal.locator("button[type=submit]").click()
    page.locator("#seal-error-title").wait_for()
    audit.check(page, "editor-seal-errors")
    seal.locator("textarea").fill(SealingIdentity.generate().public_key.line)
    seal.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/edit$"))
    audit.check(page, "editor-sealed")
    page.goto(dashboard)
    page.locator("form[action$='/publish'] button").click()
    return page.locator(".dashboard__state a").get_attribute("href").rsplit("/", 1)[1]


def visit_team_pages(audit: Audit, page: Any, site: Site, dashboard: str, open_page) -> None:
    """Open the team's pages as the owner, then an invitation's pages as the one invited."""
    page.goto(f"{dashboard}/members")
    audit.check(page, "team")
    page.locator("form[action$='/invite'] button[type=submit]").click()
    page.locator("#email-error").wait_for()
    audit.check(page, "team-invite-errors")
    email = f"member-{uuid.uuid4().hex[:8]}@example.org"
    page.locator("#email").fill(email)
    page.locator("#role").select_option("moderator")
    page.locator("form[action$='/invite'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/members$"))
    site.deliver_mail()
    [message] = site.mail_to(email)
    link = INVITATION_LINK.search(message.get_body(preferencelist=("plain",)).get_content())[1]
    page.goto(link)
    audit.check(page, "invitation-wrong-account")
    joiner = open_page()
    joiner.goto(link)
    audit.check(joiner, "invitation-accept")
    joiner.locator("main form button[type=submit]").click()
    joiner.locator("#name-error").wait_for()
    audit.check(joiner, "invitation-accept-errors")
    joiner.locator("#name").fill("Team member")
    joiner.locator("#password").fill("a member's long password")
    joiner.locator("#repeat").fill("a member's long password")
    joiner.locator("main form button[type=submit]").click()
    joiner.wait_for_url(re.compile(r"/organiser/petitions/\d+$"))
    joiner.goto(f"{dashboard}/members")
    audit.check(joiner, "team-member")
    joiner.goto(link)
    audit.check(joiner, "invitation-used")


def _answered_today(site: Site, slug: str) -> str:
    """Return today's day in the petition's time zone, the latest an answer may be dated."""
    with site.app.app_context():
        return datetime.now(queries.petition_by_slug(slug).zone).date().isoformat()


def visit_news_pages(audit: Audit, page: Any, site: Site) -> None:
    """Post updates (a refused one first), edit and remove one, then close the petition, record
    the recipient's answer (refused while open, then with errors) and open the public page."""
    page.goto("/organiser/")
    dashboard = create_petition(page, f"News check {uuid.uuid4().hex[:6]}")
    page.locator("form[action$='/publish'] button").click()
    slug = page.locator(".dashboard__state a").get_attribute("href").rsplit("/", 1)[1]
    page.locator(f"a[href='{dashboard}/updates']").click()
    page.wait_for_url(re.compile(r"/updates$"))
    audit.check(page, "updates")
    post = page.locator("form[action$='/updates/new'] button[name=save]")
    post.click()
    page.locator("#title-error").wait_for()
    audit.check(page, "updates-errors")
    for title in ("Босатылды: 1 қазан", "Hearing on 24 November"):
        page.locator("#title").fill(title)
        page.locator("#body").fill(
            "He was **released**.\n\n- at home\n- ill\n\n[Source](https://example.org/news)"
        )
        page.locator("form[action$='/updates/new'] button[name=save]").click()
        page.wait_for_url(re.compile(r"/updates$"))
    audit.check(page, "updates-list")
    page.locator("a[href$='/edit'][href*='/updates/']").last.click()
    page.wait_for_url(re.compile(r"/updates/\d+/edit$"))
    page.locator("#title").fill("Released on 1 October")
    page.locator("main form button[name=preview]").click()
    page.locator("#preview-heading").wait_for()
    audit.check(page, "update-edit-preview")
    page.locator("main form button[name=save]").click()
    page.wait_for_url(re.compile(r"/updates$"))
    page.locator("a[href$='/remove']").first.click()
    page.wait_for_url(re.compile(r"/remove$"))
    audit.check(page, "update-remove")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/updates$"))
    page.goto(f"{dashboard}/outcome")
    audit.check(page, "outcome-open")
    site.command("petitions", "close", slug, "--reason", "Collection ended")
    page.goto(f"{dashboard}/outcome")
    page.locator("main form button[type=submit]").click()
    page.locator("#summary-error").wait_for()
    audit.check(page, "outcome-errors")
    page.locator("#outcome").select_option("granted")
    page.locator("#answered_on").fill(_answered_today(site, slug))
    page.locator("#answered_by").fill("Қазақстан Республикасы Президентінің Әкімшілігі")
    page.locator("#summary").fill("The President granted the pardon; he was released.")
    page.locator("#full_text").fill("## Decree\n\nThe decree of **1 October**.")
    page.locator("#link").fill("https://example.org/decree")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/updates$"))
    page.goto(f"/petitions/{slug}")
    page.locator(".outcome").wait_for()
    assert page.locator(".news__item").count() == 1
    audit.check(page, "petition-news")


@pytest.mark.parametrize(
    ("label", "options"),
    [("desktop-en", {"locale": "en-GB"}), ("phone-kk", {"locale": "kk-KZ", **PHONE})],
)
def test_axe_finds_no_serious_violation_on_any_page(
    new_page, site, demo_slug, axe_script, screenshots, label, options
):
    # The tests inject axe-core as a script of their own, which the site's CSP rightly refuses.
    page = new_page(bypass_csp=True, **options)
    audit = Audit(axe_script, screenshots, label)
    slug = visit_organiser_pages(audit, page, site)
    dashboard = page.url.removeprefix(site.url).removesuffix("/signatures")
    visit_team_pages(audit, page, site, dashboard, lambda: new_page(bypass_csp=True, **options))
    visit_news_pages(audit, page, site)
    sealed = visit_sealing_pages(audit, page)
    signer = new_page(bypass_csp=True, **options)
    withdraw = visit_public_pages(audit, signer, site, slug)
    visit_closed_pages(audit, signer, site, slug, withdraw)
    page.goto(f"/petitions/{demo_slug}")
    audit.check(page, "demo-petition")
    signer.goto(f"/petitions/{sealed}")
    audit.check(signer, "petition-sealed")
    visit_two_factor_pages(audit, new_page(bypass_csp=True, **options), site)
    audit.save_report()
    # The team's 7, the second factor's 8, paper's 4, the news' unsubscribe 3, updates' and the
    # answer's 8.
    assert audit.pages == 30 + 7 + 8 + 4 + 3 + 8
    assert not audit.found, json.dumps(audit.found, ensure_ascii=False, indent=1)


def test_axe_check_reports_a_page_that_breaks_the_rules(new_page, axe_script, screenshots):
    page = new_page(bypass_csp=True)
    page.goto("/")
    page.evaluate(
        """() => document.querySelector('main').insertAdjacentHTML(
            'beforeend', '<img src="/static/favicon.svg"><button></button>')"""
    )
    audit = Audit(axe_script, screenshots, "canary")
    audit.check(page, "broken")
    rules = {finding["rule"] for finding in next(iter(audit.found.values()))}
    assert {"image-alt", "button-name"} <= rules


def _focus_is_visible(page: Any) -> bool:
    return page.evaluate(
        """() => {
            const style = getComputedStyle(document.activeElement);
            return style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
        }"""
    )


def tab_to(page: Any, element_id: str, limit: int = 80) -> None:
    """Press Tab until the element has focus, checking on the way that focus is always visible."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        assert _focus_is_visible(page), page.evaluate("document.activeElement.outerHTML")
        if page.evaluate("document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def test_signing_form_can_be_completed_with_the_keyboard_alone(new_page, site, demo_slug):
    page = new_page(locale="en-GB")
    page.goto(f"/petitions/{demo_slug}")
    # The first Tab reaches the skip link, which takes the keyboard past the header.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    tab_to(page, "name")
    page.keyboard.type("Ерлан Әбілұлы")
    page.keyboard.press("Tab")
    email = f"keyboard-{uuid.uuid4().hex[:8]}@example.org"
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "country"
    page.keyboard.type("Kazakhstan")
    assert page.locator("#country").input_value() == "KZ"
    tab_to(page, "city")
    page.keyboard.type("Шымкент")
    tab_to(page, "consent")
    page.keyboard.press("Space")
    assert page.locator("#consent").is_checked()
    page.keyboard.press("Tab")
    # The choice of news comes next, and stays unticked unless the signer ticks it.
    assert page.evaluate("document.activeElement.id") == "news"
    assert not page.locator("#news").is_checked()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/check-email$"))
    _message, link = confirmation_link(site, email)
    page.goto(link)
    tab_to(page, "confirm-button")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/thank-you\?receipt=[a-z2-7]{24}$"))


def test_keyboard_submit_with_errors_moves_focus_to_the_announced_summary(
    new_page, site, demo_slug
):
    page = new_page(locale="ru-RU")
    page.goto(f"/petitions/{demo_slug}")
    tab_to(page, "name")
    page.keyboard.type("Нурлан")
    tab_to(page, "consent")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/sign$"))
    focused = page.evaluate(
        "[document.activeElement.getAttribute('role'), document.activeElement.innerText]"
    )
    assert focused[0] == "alert"
    assert "Введите ваш адрес электронной почты." in focused[1]


PAGES_AT_320 = ["/", "/petitions/{slug}", "/organiser/login", "/no-such-page"]


@pytest.mark.parametrize("path", PAGES_AT_320)
@pytest.mark.parametrize("language", ["kk-KZ", "ru-RU", "en-GB"])
def test_pages_fit_a_320_pixel_screen_without_sideways_scrolling(
    new_page, site, demo_slug, path, language
):
    page = new_page(locale=language, viewport={"width": 320, "height": 640}, is_mobile=True)
    page.goto(path.format(slug=demo_slug))
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] == 320, widths


@pytest.mark.parametrize("width", [320, 1280])
def test_organiser_pages_fit_the_screen_with_exports_and_audit_log(new_page, site, width):
    page = new_page(locale="kk-KZ", viewport={"width": width, "height": 800}, is_mobile=width < 400)
    sign_in(page)
    dashboard = create_petition(page, f"Narrow screen {uuid.uuid4().hex[:6]}")
    page.locator("form[action$='/publish'] button").click()
    page.locator("form[action$='/exports'] button").click()
    site.command("exports", "worker", "--rounds", "1", "--interval", "0")
    for path in [dashboard, f"{dashboard}/signatures", "/organiser/", f"{dashboard}/edit"]:
        page.goto(path)
        assert_no_sideways_scrolling(page)
    # The exports table and the audit log are there, in boxes of their own that scroll.
    page.goto(dashboard)
    assert page.locator(".table-scroll").count() == 2
