"""A team in a real browser: the owner invites a moderator by email, who joins, moderates, and
cannot export."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.browser.conftest import Site
from tests.browser.test_organiser import create_petition, sign_in
from tests.browser.test_signer import sign_and_confirm

INVITATION_LINK = re.compile(r"(https?://\S+/organiser/invitations/[A-Za-z0-9_-]+)")
NEW_PASSWORD = "a moderator's long password"


def invite(page: Any, dashboard: str, email: str, role: str) -> None:
    """Invite an address from the team page of a petition, as its owner."""
    page.goto(dashboard)
    page.get_by_role("link", name="Team").click()
    page.wait_for_url(re.compile(r"/members$"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Role", exact=True).select_option(label=role)
    page.get_by_role("button", name="Send the invitation").click()
    page.wait_for_url(re.compile(r"/members$"))
    assert page.locator(".flash").inner_text() == f"Invitation sent to {email}."


def invitation_link(site: Site, email: str) -> str:
    """Deliver the outbox over SMTP and return the link of the invitation sent to `email`."""
    site.deliver_mail()
    [message] = site.mail_to(email)
    text = message.get_body(preferencelist=("plain",)).get_content()
    return INVITATION_LINK.search(text).group(1)


def join_as_new_account(page: Any, link: str, name: str) -> None:
    """Open an invitation's link signed out and accept it by creating the account."""
    page.goto(link)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create the account and accept").click()
    page.wait_for_url(re.compile(r"/organiser/petitions/\d+$"))


def test_the_owner_invites_a_moderator_who_joins_moderates_and_cannot_export(
    new_page, site: Site, screenshots
):
    owner = new_page(locale="en-GB")
    sign_in(owner)
    dashboard = create_petition(owner, f"Release the blogger {uuid.uuid4().hex[:6]}")
    owner.get_by_role("button", name="Publish").click()
    slug = owner.get_by_role("link", name="Public page").get_attribute("href").rsplit("/", 1)[1]
    sign_and_confirm(new_page(locale="kk-KZ"), site, slug)

    moderator_email = f"moderator-{uuid.uuid4().hex[:6]}@example.org"
    invite(owner, dashboard, moderator_email, "Moderator")
    assert owner.locator("#invitations-heading + .table-scroll td").first.inner_text() == (
        moderator_email
    )
    screenshots(owner, "team-owner")

    moderator = new_page(locale="en-GB")
    join_as_new_account(moderator, invitation_link(site, moderator_email), "Dana Moderator")
    assert moderator.locator(".flash").inner_text().startswith("Welcome to the team of")
    assert moderator.locator("form[action$='/exports']").count() == 0
    assert moderator.get_by_role("button", name="Export the signed bundle").count() == 0
    assert moderator.get_by_role("link", name="Edit").count() == 0
    screenshots(moderator, "team-moderator-dashboard")

    moderator.get_by_role("link", name="Signatures and moderation").click()
    moderator.locator("input[name=ids]").first.check()
    moderator.locator("#reason").fill("Same person twice")
    moderator.get_by_role("button", name="Invalidate the chosen signatures").click()
    assert moderator.locator(".flash").inner_text() == "Signatures invalidated: 1."

    token = moderator.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = moderator.request.post(f"{site.url}{dashboard}/exports", form={"csrf_token": token})
    assert forged.status == 403
    assert "does not allow this" in forged.text()

    owner.goto(dashboard)
    assert owner.locator(".counts dd").first.inner_text() == "0"
    log = owner.locator("section[aria-labelledby=log-heading] tbody").inner_text()
    assert moderator_email in log and "Invalidated" in log and "Joined the team" in log
