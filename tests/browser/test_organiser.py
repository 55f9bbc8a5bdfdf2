"""An organiser in a real browser: sign in, create, publish, close, export and download."""

from __future__ import annotations

import re
import uuid
import zipfile
from typing import Any

from tests.browser.conftest import ORGANISER_EMAIL, Site, assert_no_sideways_scrolling
from tests.browser.test_signer import sign_and_confirm
from tests.conftest import PASSWORD
from tests.delivery_fixtures import run


def sign_in(page: Any) -> None:
    """Sign in through the organisers' form and land on their list of petitions."""
    page.goto("/organiser/login")
    page.locator("#email").fill(ORGANISER_EMAIL)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/organiser/?$"))


def create_petition(page: Any, title: str) -> str:
    """Write a new petition in the editor, in any interface language; return its dashboard."""
    page.locator("a[href$='/organiser/petitions/new']").first.click()
    page.locator("#title").fill(title)
    page.locator("#summary").fill("Release the journalist held since March.")
    page.locator("#body").fill(
        "## Appeal\n\nWe ask you to **release** the journalist.\n\n- held since March\n- ill"
    )
    page.locator("#recipient").fill("Prosecutor General of the Republic of Kazakhstan")
    page.locator("#language").select_option("en")
    page.locator("#goal").fill("1000")
    # The applicant, without whom no final bundle is made.
    page.locator("#applicant_kind-1").check()
    page.locator("#applicant_surname").fill("Үмбетова")
    page.locator("#applicant_name").fill("Әлия")
    page.locator("#applicant_address").fill("100000, Қарағанды қ., Бұқар жырау даңғылы, 10")
    page.locator("#applicant_id_number").fill("9001 0140 0013")
    page.locator("#applicant_email").fill("aliya@example.org")
    page.locator("main form button[name=save]").click()
    page.wait_for_url(re.compile(r"/organiser/petitions/\d+$"))
    page.locator(".flash").wait_for()
    return page.url.removeprefix(page.url.split("/organiser")[0])


def test_organiser_creates_publishes_closes_and_downloads_the_bundle(
    new_page, site: Site, screenshots, tmp_path
):
    page = new_page(locale="en-GB")
    sign_in(page)
    screenshots(page, "organiser-list")
    title = f"Free the journalist {uuid.uuid4().hex[:6]}"
    dashboard = create_petition(page, title)
    assert page.locator(".flash").inner_text() == "Draft saved."
    assert page.locator(".dashboard__state strong").inner_text() == "Draft"

    page.get_by_role("button", name="Publish").click()
    assert page.locator(".dashboard__state strong").inner_text() == "Open"
    public = page.get_by_role("link", name="Public page").get_attribute("href")
    slug = public.rsplit("/", 1)[1]
    sign_and_confirm(new_page(locale="kk-KZ"), site, slug)

    page.goto(dashboard)
    page.get_by_label("Close early, with a reason (signing stops at once):").fill(
        "The detainee was released"
    )
    page.get_by_role("button", name="Close now").click()
    assert page.locator(".dashboard__state strong").inner_text() == "Closed"
    assert page.locator(".counts dd").first.inner_text() == "1"

    page.get_by_role("button", name="Export the signed bundle").click()
    assert "The export is being prepared" in page.locator(".flash").inner_text()
    site.command("exports", "worker", "--rounds", "1", "--interval", "0")
    page.goto(dashboard)
    assert_no_sideways_scrolling(page)
    screenshots(page, "organiser-dashboard")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download").click()
    download = download_info.value
    assert re.fullmatch(rf"{slug}-\d{{8}}\.zip", download.suggested_filename)
    bundle = tmp_path / download.suggested_filename
    download.save_as(bundle)

    assert "valid" in site.command("bundles", "verify", str(bundle)).lower()
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        rows = archive.read("signatures.csv").decode("utf-8")
    assert {"petition.pdf", "signatures.csv", "manifest.json", "manifest.json.p7s"} <= names
    assert "Әлия Қасымқызы Үмбетова" in rows
    with zipfile.ZipFile(bundle) as archive:
        (tmp_path / "petition.pdf").write_bytes(archive.read("petition.pdf"))
    letter = " ".join(
        run("pdftotext", "-f", "1", "-l", "1", tmp_path / "petition.pdf", "-").stdout.split()
    )
    assert (
        "Applicant: Үмбетова Әлия IIN: 900101400013 Postal address: 100000, Қарағанды қ., "
        in letter
    )


PHONE = "Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0"


def test_an_organiser_ends_the_session_of_another_browser(new_page, site: Site):
    phone = new_page(locale="en-GB", user_agent=PHONE)
    sign_in(phone)
    laptop = new_page(locale="en-GB")
    sign_in(laptop)
    laptop.goto("/organiser/account")
    this = laptop.locator("tbody tr", has_text="(this browser)")
    assert this.count() == 1
    assert this.get_by_role("button", name="End this session").count() == 0
    row = laptop.locator("tbody tr", has_text="Firefox on Android")
    assert row.count() == 1
    row.get_by_role("button", name="End this session").click()
    laptop.wait_for_url(re.compile(r"/organiser/account#sessions$"))
    assert laptop.locator(".flash").inner_text() == (
        "The session was ended: that browser is signed out."
    )
    assert laptop.locator("tbody tr", has_text="Firefox on Android").count() == 0
    phone.goto("/organiser/")
    phone.wait_for_url(re.compile(r"/organiser/login\?next="))
