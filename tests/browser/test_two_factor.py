"""The second factor in a real browser: set up TOTP from the key shown on the page, sign out, sign
in with the password and a code, and give the factor again before an export."""

from __future__ import annotations

import contextlib
import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp

from petitions.models import utcnow
from petitions.organiser.sessions import CLOCK
from tests.browser.conftest import Site
from tests.browser.test_organiser import create_petition
from tests.conftest import PASSWORD
from tests.factor_helpers import Clock, wrong_code


def new_organiser(site: Site) -> str:
    """Create an organiser of the test's own (the shared one keeps signing in by password)."""
    email = f"factor-{uuid.uuid4().hex[:8]}@example.org"
    with tempfile.TemporaryDirectory() as folder:
        password_file = Path(folder) / "password"
        password_file.write_text(PASSWORD)
        site.command(
            "organisers", "create", email, "--name", "Factor", "--password-file", str(password_file)
        )
    return email


@contextlib.contextmanager
def factor_clock(site: Site) -> Iterator[Clock]:
    """Judge the served app's second factors at a clock the test moves."""
    clock = Clock(utcnow())
    site.app.extensions[CLOCK] = clock
    try:
        yield clock
    finally:
        site.app.extensions.pop(CLOCK, None)


def type_password(page: Any, email: str) -> None:
    page.goto("/organiser/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()


def read_secret(page: Any) -> str:
    """Read the key off the page as a person reads it to type it into their app."""
    shown = page.locator("#factor-secret").inner_text()
    assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", shown), shown
    return shown.replace(" ", "")


def turn_on(page: Any, clock: Clock, audit: Any = None) -> tuple[str, list[str]]:
    """On the set-up page, turn the factor on (a wrong code first when audited)."""
    page.goto("/organiser/account/two-factor")
    secret = read_secret(page)
    if audit is not None:
        audit.check(page, "two-factor-set-up")
        page.locator("#code").fill("12345")
        page.locator("main form button[type=submit]").click()
        page.locator("#code-error").wait_for()
        audit.check(page, "two-factor-set-up-errors")
    page.locator("#code").fill(pyotp.TOTP(secret).at(clock.now))
    page.locator("main form button[type=submit]").click()
    page.locator("#recovery-codes").wait_for()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    return secret, codes


def sign_out(page: Any) -> None:
    page.locator("nav form button").click()
    page.wait_for_url(re.compile(r"/organiser/login$"))


def visit_two_factor_pages(audit: Any, page: Any, site: Site) -> None:
    """Open every page of the second factor, with its errors, as a new organiser of its own."""
    email = new_organiser(site)
    with factor_clock(site) as clock:
        type_password(page, email)
        page.wait_for_url(re.compile(r"/organiser/?$"))
        secret, _codes = turn_on(page, clock, audit)
        audit.check(page, "recovery-codes")
        page.goto("/organiser/account/two-factor")
        audit.check(page, "two-factor-on")
        page.locator("#turn-off-code").fill("12345")
        page.locator("form[action$='/two-factor/off'] button").click()
        page.locator("#turn-off-code-error").wait_for()
        audit.check(page, "two-factor-on-errors")
        page.goto("/organiser/account/confirm?next=/organiser/")
        audit.check(page, "confirm-factor")
        sign_out(page)
        type_password(page, email)
        page.wait_for_url(re.compile(r"/organiser/login/code$"))
        audit.check(page, "login-code")
        page.locator("#code").fill("12345")
        page.locator("main form button[type=submit]").click()
        page.locator("#code-error").wait_for()
        audit.check(page, "login-code-errors")
        clock.advance(seconds=30)
        page.locator("#code").fill(pyotp.TOTP(secret).at(clock.now))
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(re.compile(r"/organiser/?$"))


def test_organiser_sets_up_totp_then_signs_in_with_password_and_code(
    new_page, site: Site, screenshots
):
    email = new_organiser(site)
    page = new_page(locale="en-GB")
    with factor_clock(site) as clock:
        type_password(page, email)
        page.wait_for_url(re.compile(r"/organiser/?$"))
        page.get_by_role("link", name="Second factor").click()
        qr = page.locator("svg.qr-code")
        assert qr.is_visible()
        assert qr.bounding_box()["width"] >= 150
        uri = page.locator("#factor-uri").inner_text()
        screenshots(page, "two-factor-set-up")
        secret, codes = turn_on(page, clock)
        assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
        screenshots(page, "two-factor-recovery-codes")
        sign_out(page)

        type_password(page, email)
        page.wait_for_url(re.compile(r"/organiser/login/code$"))
        page.goto("/organiser/")
        assert page.url.endswith("/organiser/login/code"), "the password alone opens nothing"
        page.locator("#code").fill(wrong_code(secret, clock))
        page.get_by_role("button", name="Sign in").click()
        assert "This code is not right." in page.locator("#code-error").inner_text()
        clock.advance(seconds=30)
        page.locator("#code").fill(pyotp.TOTP(secret).at(clock.now))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/organiser/?$"))
        assert page.get_by_role("link", name="My petitions").is_visible()

        # Fifteen minutes on, an export asks for the factor again, then goes on by itself.
        dashboard = create_petition(page, f"Fresh factor {uuid.uuid4().hex[:6]}")
        page.locator("form[action$='/publish'] button").click()
        clock.advance(minutes=16)
        page.locator("form[action$='/exports'] button").click()
        page.get_by_role("heading", name="Confirm that it is you").wait_for()
        screenshots(page, "two-factor-confirm")
        page.locator("#code").fill(pyotp.TOTP(secret).at(clock.now))
        page.get_by_role("button", name="Confirm and go on").click()
        page.wait_for_url(re.compile(re.escape(dashboard) + r"#exports$"))
        assert "The export is being prepared" in page.locator(".flash").inner_text()

        # A recovery code stands in for the phone, once.
        sign_out(page)
        type_password(page, email)
        page.locator("#code").fill(codes[0])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/organiser/?$"))
