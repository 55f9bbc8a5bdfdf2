"""Passkeys in a real browser: Chromium's virtual authenticator (DevTools' WebAuthn domain)
stands in for a phone or a laptop's own. The site is served on http://localhost, since Chromium
refuses an IP address as a passkey's relying party."""

from __future__ import annotations

import re

import pyotp
import pytest

from petitions.extensions import db
from petitions.models import Passkey
from tests.browser.conftest import Site
from tests.browser.test_two_factor import (
    factor_clock,
    new_organiser,
    sign_out,
    turn_on,
    type_password,
)

VIRTUAL_AUTHENTICATOR = {
    "options": {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
    }
}


@pytest.fixture
def passkey_page(new_page, localhost_site: Site):
    page = new_page(on=localhost_site, locale="en-GB")
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    added = devtools.send("WebAuthn.addVirtualAuthenticator", VIRTUAL_AUTHENTICATOR)
    return page, devtools, added["authenticatorId"]


def test_organiser_adds_a_passkey_then_signs_in_with_it(
    passkey_page, localhost_site: Site, screenshots
):
    page, devtools, authenticator = passkey_page
    site = localhost_site
    email = new_organiser(site)
    with factor_clock(site) as clock:
        type_password(page, email)
        page.wait_for_url(re.compile(r"/organiser/?$"))
        secret, _codes = turn_on(page, clock)
        page.goto("/organiser/account/two-factor")
        form = page.locator("#add-passkey")
        assert form.is_visible(), "the script shows the form where passkeys work"
        clock.advance(seconds=30)
        page.locator("#passkey-name").fill("Test laptop")
        page.locator("#passkey-code").fill(pyotp.TOTP(secret).at(clock.now))
        form.get_by_role("button", name="Add a passkey").click()
        page.get_by_text("The passkey “Test laptop” is added.").wait_for()
        assert page.locator("table.passkeys td").first.inner_text() == "Test laptop"
        screenshots(page, "passkeys-listed")
        made = devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert len(made["credentials"]) == 1
        sign_out(page)

        type_password(page, email)
        page.wait_for_url(re.compile(r"/organiser/login/code$"))
        screenshots(page, "login-code-passkey")
        page.get_by_role("button", name="Use a passkey").click()
        page.wait_for_url(re.compile(r"/organiser/?$"))
        with site.app.app_context():
            [stored] = db.session.query(Passkey).all()
            assert stored.last_used_at is not None
        used = devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert used["credentials"][0]["signCount"] >= 1
