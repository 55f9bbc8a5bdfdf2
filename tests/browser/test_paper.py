"""An organiser in a real browser prints a paper sheet, enters it twice and sees the total rise."""

from __future__ import annotations

import re
import subprocess
import uuid
from typing import Any

from tests.browser.conftest import Site
from tests.browser.test_organiser import create_petition, sign_in

LINES = [
    ("Әлия Қасымқызы Үмбетова", "Алматы"),
    ("Иван Петров", "Астана"),
    ("Dana Sarsen", "Almaty"),
]


def enter_pass(page: Any, dashboard: str, number: int, code: str) -> None:
    """Type one pass of the sheet into an empty entry form and save it."""
    page.goto(f"{dashboard}/paper")
    page.get_by_role("link", name="Enter a sheet").last.click()
    page.get_by_label("Sheet number", exact=True).fill(str(number))
    page.get_by_label("Check code (printed beside the sheet number)").fill(code)
    for line, (name, city) in enumerate(LINES, start=1):
        assert page.get_by_label(f"Line {line}: name", exact=True).input_value() == ""
        page.get_by_label(f"Line {line}: name", exact=True).fill(name)
        page.get_by_label(f"Line {line}: city", exact=True).fill(city)
    page.get_by_role("button", name="Save this pass").click()
    page.wait_for_url(re.compile(r"/paper$"))


def test_organiser_prints_a_sheet_enters_it_twice_and_sees_the_total_rise(
    new_page, site: Site, screenshots, tmp_path
):
    page = new_page(locale="en-GB")
    sign_in(page)
    dashboard = create_petition(page, f"Paper and online {uuid.uuid4().hex[:6]}")
    page.get_by_role("button", name="Publish").click()
    assert page.locator("#sources dd").all_inner_texts() == ["0", "0", "0"]

    page.get_by_role("link", name="Paper sheets: print, enter, settle differences").click()
    page.get_by_label("First sheet number").fill("3")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download the sheets (PDF)").click()
    download = download_info.value
    assert download.suggested_filename.endswith("-sheet-3.pdf")
    sheet = tmp_path / download.suggested_filename
    download.save_as(sheet)
    text = subprocess.run(
        ["pdftotext", str(sheet), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Sheet 3" in text
    code = re.search(r"Check code: ([A-Z2-7]{4}-[A-Z2-7]{4})", text).group(1)
    screenshots(page, "paper-sheets")

    enter_pass(page, dashboard, 3, code)
    assert "Sheet 3: first pass saved." in page.locator(".flash").inner_text()
    page.goto(dashboard)
    assert page.locator("#sources dd").all_inner_texts() == ["0", "0", "0"]

    enter_pass(page, dashboard, 3, code)
    assert page.locator(".flash").inner_text() == (
        "Sheet 3: the two passes agree. 3 lines counted."
    )
    assert "Counted: 3 lines" in page.locator("#sheet-3").inner_text()
    screenshots(page, "paper-counted")
    page.goto(dashboard)
    assert page.locator("#sources dd").all_inner_texts() == ["0", "3", "3"]
    public = page.locator(".dashboard__state a").get_attribute("href")
    page.goto(public)
    assert "Online: 0. On paper: 3. Total: 3." in page.locator(".petition__sources").inner_text()
