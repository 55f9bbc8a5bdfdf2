"""A signer in a real browser: sign, read the email, confirm, and see the count rise."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.browser.conftest import PHONE, Site

KAZAKH_NAME = "Әлия Қасымқызы Үмбетова"
LINK = re.compile(r"(https?://\S+/signatures/confirm/\S+)")
WITHDRAW_LINK = re.compile(r"(https?://\S+/signatures/withdraw/\S+)")


def confirmed_count(page: Any) -> int:
    """Read the count the petition page shows, as a number whatever the language's grouping."""
    text = page.locator(".petition__count strong").inner_text()
    return int(re.sub(r"\D", "", text))


def fill_signing_form(page: Any, email: str, name: str = KAZAKH_NAME) -> None:
    page.get_by_label(re.compile("^(Аты-жөні|Full name|Имя и фамилия)$")).fill(name)
    page.locator("#email").fill(email)
    page.locator("#country").select_option("KZ")
    page.locator("#city").fill("Алматы")
    page.locator("#consent").check()


def confirmation_link(site: Site, email: str, pattern: re.Pattern = LINK) -> tuple[Any, str]:
    """Deliver the outbox over SMTP, then find a link in the email the signer received."""
    site.deliver_mail()
    messages = site.mail_to(email)
    assert len(messages) == 1, f"expected one email to {email}, got {len(messages)}"
    text = messages[0].get_body(preferencelist=("plain",)).get_content()
    match = pattern.search(text)
    assert match, text
    return messages[0], match.group(1)


def sign_and_confirm(page: Any, site: Site, slug: str, screenshots=None, label: str = "") -> str:
    """Walk the whole signing path on a page, checking each step and the count at the end;
    return the withdrawal link of the confirmation email."""
    email = f"signer-{uuid.uuid4().hex[:8]}@example.org"
    page.goto(f"/petitions/{slug}")
    before = confirmed_count(page)
    if screenshots:
        screenshots(page, f"petition{label}")
    fill_signing_form(page, email)
    page.get_by_role("button", name=re.compile("^(Қол қою|Sign|Подписать)$")).click()
    page.wait_for_url(re.compile(r"/check-email$"))
    assert page.locator("h1").inner_text() == "Электрондық поштаңызды тексеріңіз"
    if screenshots:
        screenshots(page, f"check-email{label}")

    message, link = confirmation_link(site, email)
    assert message["Subject"].startswith("Қолтаңбаңызды растаңыз")
    assert KAZAKH_NAME in message.get_body(preferencelist=("plain",)).get_content()
    page.goto(link)
    if screenshots:
        screenshots(page, f"confirm{label}")
    page.get_by_role("button", name="Қолтаңбамды растау").click()
    page.wait_for_url(re.compile(r"/thank-you\?receipt=[a-z2-7]{24}$"))
    if screenshots:
        screenshots(page, f"thank-you{label}")

    page.goto(f"/petitions/{slug}")
    assert confirmed_count(page) == before + 1
    return WITHDRAW_LINK.search(message.get_body(preferencelist=("plain",)).get_content()).group(1)


def test_signer_signs_in_kazakh_confirms_by_email_and_sees_the_count_rise(
    new_page, site, demo_slug, screenshots
):
    page = new_page(locale="kk-KZ")
    sign_and_confirm(page, site, demo_slug, screenshots)


def test_signer_on_a_phone_signs_and_confirms(new_page, site, demo_slug, screenshots):
    page = new_page(locale="kk-KZ", **PHONE)
    sign_and_confirm(page, site, demo_slug, screenshots, label="-phone")


def test_signer_without_javascript_signs_and_confirms(new_page, site, demo_slug):
    page = new_page(locale="kk-KZ", java_script_enabled=False)
    sign_and_confirm(page, site, demo_slug)


def test_signer_withdraws_through_the_emailed_link_and_the_count_drops(
    new_page, site, demo_slug, screenshots
):
    page = new_page(locale="kk-KZ", **PHONE)
    withdraw = sign_and_confirm(page, site, demo_slug)
    page.goto(f"/petitions/{demo_slug}")
    before = confirmed_count(page)
    # Opening the link, as a mail gateway's scanner would, withdraws nothing.
    page.goto(withdraw)
    page.goto(f"/petitions/{demo_slug}")
    assert confirmed_count(page) == before
    page.goto(withdraw)
    screenshots(page, "withdraw-phone")
    page.get_by_role("button", name="Қолтаңбамды кері қайтару").click()
    page.wait_for_url(re.compile(r"/withdrawn$"))
    page.goto(f"/petitions/{demo_slug}")
    assert confirmed_count(page) == before - 1


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_wrong_email_is_shown_at_the_field_and_announced(
    new_page, site, demo_slug, screenshots, javascript
):
    page = new_page(locale="en-GB", java_script_enabled=javascript)
    page.goto(f"/petitions/{demo_slug}")
    fill_signing_form(page, "not-an-address", name="Aigerim Nurlanovna")
    page.get_by_role("button", name="Sign", exact=True).click()

    email = page.locator("#email")
    error = page.locator("#email-error")
    assert error.inner_text() == "Enter an email address like name@example.org."
    assert email.get_attribute("aria-invalid") == "true"
    assert "email-error" in email.get_attribute("aria-describedby").split()
    # What was typed is kept, so the signer corrects it rather than starting again.
    assert email.input_value() == "not-an-address"
    assert page.locator("#name").input_value() == "Aigerim Nurlanovna"
    # The summary is an alert and takes focus, so a screen reader announces it at once.
    summary = page.locator(".error-summary")
    assert summary.get_attribute("role") == "alert"
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    assert page.title().startswith("Error:")
    summary.get_by_role("link", name="Enter an email address like name@example.org.").click()
    assert page.evaluate("document.activeElement.id") == "email"
    if javascript:
        screenshots(page, "form-error")
