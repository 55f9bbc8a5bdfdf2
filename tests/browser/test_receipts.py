"""A receipt in a real browser, on a phone, in Kazakh: sign, keep the emailed receipt, and after
the petition is closed and exported, see on it that the signature is in the bundle, with a proof
that holds against the root the bundle's signed manifest carries."""

from __future__ import annotations

import json
import re
import uuid
import zipfile
from pathlib import Path

from petitions.merkle import verify_inclusion
from tests.browser.conftest import assert_no_sideways_scrolling
from tests.browser.test_organiser import create_petition, sign_in
from tests.browser.test_signer import confirmation_link, fill_signing_form

RECEIPT_LINK = re.compile(r"(https?://\S+/petitions/\S+/receipts/[a-z2-7]{24})")


def test_a_signer_keeps_the_emailed_receipt_and_finds_their_signature_in_the_final_bundle(
    new_page, device, site, screenshots, tmp_path: Path
):
    organiser = new_page(locale="en-GB")
    sign_in(organiser)
    dashboard = create_petition(organiser, f"Receipts appeal {uuid.uuid4().hex[:6]}")
    organiser.locator("form[action$='/publish'] button").click()
    slug = organiser.get_by_role("link", name="Public page").get_attribute("href").rsplit("/")[-1]

    phone = new_page(**device("Pixel 7"), locale="kk-KZ")
    email = f"receipt-{uuid.uuid4().hex[:8]}@example.org"
    phone.goto(f"/petitions/{slug}")
    fill_signing_form(phone, email)
    phone.get_by_role("button", name="Қол қою", exact=True).tap()
    phone.wait_for_url(re.compile(r"/check-email$"))
    message, confirm = confirmation_link(site, email)
    text = message.get_body(preferencelist=("plain",)).get_content()
    receipt = RECEIPT_LINK.search(text).group(1)
    assert receipt.startswith(f"{site.url}/petitions/{slug}/receipts/")
    assert "Бұл сілтемені сақтап қойыңыз" in text

    # Before confirming, the receipt says the signature does not count yet.
    phone.goto(receipt)
    assert phone.locator("h1").inner_text() == "Қолтаңбаңыздың түбіртегі"
    assert phone.locator("#status-heading + p strong").inner_text() == "Әлі расталмаған."
    phone.goto(confirm)
    phone.get_by_role("button", name="Қолтаңбамды растау").tap()
    phone.wait_for_url(re.compile(r"/thank-you\?receipt=[a-z2-7]{24}$"))
    assert phone.locator(".receipt-link__url a").inner_text() == receipt
    screenshots(phone, "receipt-thank-you-kk")

    phone.goto(receipt)
    assert phone.locator("#status-heading + p strong").inner_text().endswith(" расталды.")
    assert phone.locator(".receipt-export").count() == 0

    # The organisers close the petition and export the final bundle.
    organiser.goto(dashboard)
    organiser.get_by_label("Close early, with a reason (signing stops at once):").fill(
        "The appeal goes to the office today"
    )
    organiser.get_by_role("button", name="Close now").click()
    assert organiser.locator(".dashboard__state strong").inner_text() == "Closed"
    output = site.command("petitions", "export", slug, "--output", f"{tmp_path}/")
    bundle = next(tmp_path.glob(f"{slug}-*.zip"))
    assert bundle.name in output
    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read("manifest.json"))

    phone.goto(receipt)
    export = phone.locator(".receipt-export")
    assert export.count() == 1
    assert export.locator("h3").inner_text().startswith("Түпкілікті пакет")
    assert export.locator(".receipt-export__verdict strong").inner_text() == (
        "Қолтаңбаңыз осы пакетте бар: дәлел тексерілді."
    )
    assert_no_sideways_scrolling(phone)
    screenshots(phone, "receipt-included-kk")

    # The same proof, from the JSON, holds against the root of the bundle's signed manifest.
    document = json.loads(phone.request.get(f"{receipt}.json").text())
    assert document["status"] == "confirmed"
    (proof,) = document["exports"]
    assert proof["root"] == manifest["receipts"]["root"]
    assert proof["tree_size"] == manifest["receipts"]["tree_size"] == 1
    assert verify_inclusion(
        bytes.fromhex(document["leaf"]),
        proof["leaf_index"],
        proof["tree_size"],
        [bytes.fromhex(node) for node in proof["audit_path"]],
        bytes.fromhex(manifest["receipts"]["root"]),
    )
