"""News in a real browser: a signer on a phone, in Russian, asks for news; the organisers close the
petition, record the recipient's answer and send it; the email arrives in Russian with the
petition's link and an unsubscribe link, and the signer stops the news from the page it opens."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.browser.conftest import assert_no_sideways_scrolling
from tests.browser.test_organiser import create_petition, sign_in
from tests.browser.test_signer import confirmation_link, fill_signing_form

UNSUBSCRIBE_LINK = re.compile(r"(https?://\S+/news/unsubscribe/\S+)")


def test_a_signer_asks_for_news_receives_the_answer_and_unsubscribes(
    new_page, device, site, screenshots
):
    organiser = new_page(locale="en-GB")
    sign_in(organiser)
    dashboard = create_petition(organiser, f"News appeal {uuid.uuid4().hex[:6]}")
    organiser.locator("form[action$='/publish'] button").click()
    slug = organiser.get_by_role("link", name="Public page").get_attribute("href").rsplit("/")[-1]

    phone = new_page(**device("Pixel 7"), locale="ru-RU")
    email = f"news-{uuid.uuid4().hex[:8]}@example.org"
    phone.goto(f"/petitions/{slug}")
    news_box = phone.get_by_label("Сообщать мне по электронной почте о новостях этой петиции")
    assert not news_box.is_checked(), "the choice starts unticked"
    fill_signing_form(phone, email)
    news_box.check()
    screenshots(phone, "news-choice-ru")
    phone.get_by_role("button", name="Подписать", exact=True).tap()
    phone.wait_for_url(re.compile(r"/check-email$"))
    _message, confirm = confirmation_link(site, email)
    phone.goto(confirm)
    phone.get_by_role("button", name="Подтвердить мою подпись").tap()
    phone.wait_for_url(re.compile(r"/thank-you"))

    # The organisers close the petition and record the answer.
    organiser.goto(dashboard)
    assert organiser.locator("#news-subscribers").inner_text() == (
        "1 signer asked to be emailed news of this petition."
    )
    organiser.get_by_label("Close early, with a reason (signing stops at once):").fill(
        "The appeal went to the office"
    )
    organiser.get_by_role("button", name="Close now").click()
    organiser.get_by_role("link", name="Updates and the answer").click()
    organiser.get_by_role("link", name="Record the answer").click()
    organiser.locator("#outcome").select_option("granted")
    today = datetime.now(ZoneInfo("Asia/Almaty")).date().isoformat()
    organiser.locator("#answered_on").fill(today)
    organiser.locator("#answered_by").fill("The Presidential Administration")
    organiser.locator("#summary").fill("The journalist was pardoned and released.")
    organiser.get_by_role("button", name="Save the answer").click()
    organiser.locator(".flash").wait_for()

    organiser.goto(dashboard)
    organiser.get_by_role("button", name="Send to 1 subscriber").click()
    organiser.locator(".flash").wait_for()
    site.deliver_mail()
    organiser.goto(dashboard)
    cells = organiser.locator("#news-outcome td").all()
    # Queued, sent, bounced, left.
    assert [cell.inner_text() for cell in cells[1:5]] == ["1", "1", "0", "0"]

    # The email, in the signer's language, with the RFC 8058 headers and its links.
    messages = [m for m in site.mail_to(email) if "List-Unsubscribe" in m]
    assert len(messages) == 1
    [news] = messages
    assert news["Subject"].startswith("Ответ на петицию «News appeal ")
    assert news["Subject"].endswith("»: Удовлетворено")
    assert news["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = news.get_body(preferencelist=("plain",)).get_content()
    assert "The journalist was pardoned and released." in text
    assert f"{site.url}/petitions/{slug}" in text
    unsubscribe = UNSUBSCRIBE_LINK.search(text).group(1)
    assert news["List-Unsubscribe"] == f"<{unsubscribe}>"

    # The petition's page shows the answer at the top.
    phone.goto(f"/petitions/{slug}")
    assert "The journalist was pardoned and released." in phone.locator("main").inner_text()
    screenshots(phone, "news-outcome-ru")

    # Opening the link changes nothing; the button stops the news.
    phone.goto(unsubscribe)
    button = phone.get_by_role("button", name="Больше не присылать мне новости")
    assert button.count() == 1
    assert_no_sideways_scrolling(phone)
    screenshots(phone, "news-unsubscribe-ru")
    button.tap()
    assert (
        phone.get_by_role("status")
        .inner_text()
        .startswith("Письма с новостями этой петиции вам больше не придут.")
    )
    organiser.goto(dashboard)
    assert organiser.locator("#news-subscribers").inner_text() == (
        "0 signers asked to be emailed news of this petition."
    )
