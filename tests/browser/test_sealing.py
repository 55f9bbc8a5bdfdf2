"""A sealed petition in a real browser: the organiser seals it in the editor with the public key
made on their own machine, a signer on a phone signs and confirms, and the database holds only
a sealed box that the organiser's private key opens to exactly what was typed."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from petitions.extensions import db
from petitions.models import Petition, Signature, SignatureState
from petitions.sealing import OpenedRow, SealingIdentity, SealingPublicKey, write_key_pair
from tests.browser.conftest import Site, assert_no_sideways_scrolling
from tests.browser.test_organiser import create_petition, sign_in
from tests.browser.test_signer import confirmation_link, confirmed_count

PASSPHRASE = "correct horse battery staple"
#: Argon2id at its cheapest: the key file is opened once here, not defended.
CHEAP_KDF = {"opslimit": 1, "memlimit": 8192}
#: A public key of another tool (age), which an organiser might paste by mistake.
AGE_RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"


@dataclass(frozen=True)
class Signer:
    """Who signs, on what phone, in which language, and what the page says to them there."""

    device: str
    locale: str
    name: str
    city: str
    comment: str
    show_name: bool
    sealed_notice: str
    sign: str
    subject: str
    confirm: str


KAZAKH = Signer(
    device="Pixel 7",
    locale="kk-KZ",
    name="Әлия Қасымқызы Үмбетова",
    city="Өскемен",
    comment="Журналисті босатыңыз!",
    show_name=False,
    sealed_notice="Бұл петиция мөрленген.",
    sign="Қол қою",
    subject="Қолтаңбаңызды растаңыз",
    confirm="Қолтаңбамды растау",
)
RUSSIAN = Signer(
    device="Galaxy S8",
    locale="ru-RU",
    name="Ольга Сергеевна Ким",
    city="Караганда",
    comment="Свободу журналисту.",
    show_name=True,
    sealed_notice="Эта петиция запечатана.",
    sign="Подписать",
    subject="Подтвердите вашу подпись",
    confirm="Подтвердить мою подпись",
)


def seal_in_the_editor(page: Any, dashboard: str, key_file: Path, how: str) -> None:
    """Open the editor and seal the petition with sealing.pub, uploaded or pasted."""
    page.goto(f"{dashboard}/edit")
    section = page.locator("section[aria-labelledby=seal-heading]")
    assert section.locator("h2").inner_text() == "Seal this petition"
    if how == "upload":
        section.get_by_label("Or upload sealing.pub").set_input_files(key_file)
    else:
        # Another kind of key pasted by mistake is refused, and the refusal takes focus.
        pasted = section.get_by_label("Public key (the line in sealing.pub)")
        pasted.fill(AGE_RECIPIENT)
        section.get_by_role("button", name="Seal the petition").click()
        assert page.locator(".error-summary").get_attribute("role") == "alert"
        assert page.evaluate("document.activeElement.classList.contains('error-summary')")
        assert page.locator("#public_key-error").inner_text() == (
            "This is not a sealing public key: give the one line of sealing.pub, which begins "
            "with “seal-x25519:”."
        )
        assert page.locator("#sealing-heading").count() == 0
        assert pasted.input_value() == AGE_RECIPIENT
        pasted.fill(key_file.read_text(encoding="utf-8"))
    section.get_by_role("button", name="Seal the petition").click()
    page.wait_for_url(re.compile(r"/organiser/petitions/\d+/edit$"))


def sign_on_a_phone(page: Any, site: Site, slug: str, signer: Signer, email: str, shot) -> None:
    """Read the sealed notice, sign with touch, confirm through the emailed link."""
    page.goto(f"/petitions/{slug}")
    assert confirmed_count(page) == 0
    assert page.locator(".sign__sealed strong").inner_text() == signer.sealed_notice
    assert_no_sideways_scrolling(page)
    shot(page, "petition")
    page.locator("#name").fill(signer.name)
    page.locator("#email").fill(email)
    page.locator("#country").select_option("KZ")
    page.locator("#city").fill(signer.city)
    page.locator("#comment").fill(signer.comment)
    if signer.show_name:
        page.locator("#show_name").tap()
    page.locator("#consent").tap()
    page.get_by_role("button", name=signer.sign, exact=True).tap()
    page.wait_for_url(re.compile(r"/check-email$"))

    message, link = confirmation_link(site, email)
    assert message["Subject"].startswith(signer.subject)
    text = message.get_body(preferencelist=("plain",)).get_content()
    # The server knows no name to greet a sealed signer with.
    assert signer.name not in text
    page.goto(link)
    page.get_by_role("button", name=signer.confirm).tap()
    page.wait_for_url(re.compile(r"/thank-you\?receipt=[a-z2-7]{24}$"))
    shot(page, "thank-you")
    page.goto(f"/petitions/{slug}")
    assert confirmed_count(page) == 1


def stored_rows(site: Site, slug: str) -> tuple[list[Signature], list[tuple]]:
    """Return the petition's signatures as the app reads them and their columns as stored."""
    with site.app.app_context():
        petition = db.session.scalar(sa.select(Petition).where(Petition.slug == slug))
        rows = db.session.scalars(
            sa.select(Signature).where(Signature.petition_id == petition.id)
        ).all()
        raw = db.session.execute(
            sa.text("SELECT name, email, city, comment FROM signatures WHERE petition_id = :id"),
            {"id": petition.id},
        ).all()
        db.session.expunge_all()
    return list(rows), [tuple(row) for row in raw]


@pytest.mark.parametrize(
    ("how", "signer"), [("upload", KAZAKH), ("paste", RUSSIAN)], ids=["upload-kk", "paste-ru"]
)
def test_organiser_seals_in_the_editor_and_a_signer_signs_on_a_phone(
    new_page, device, site, screenshots, tmp_path, how, signer
):
    public_key = write_key_pair(tmp_path, PASSPHRASE, **CHEAP_KDF)
    organiser = new_page(locale="en-GB")
    sign_in(organiser)
    dashboard = create_petition(organiser, f"Sealed appeal {uuid.uuid4().hex[:6]}")
    seal_in_the_editor(organiser, dashboard, tmp_path / "sealing.pub", how)
    # The groups are joined by no-break spaces, so that the fingerprint never splits.
    shown = public_key.fingerprint.replace(" ", "\u00a0")
    assert organiser.locator(".flash").inner_text() == f"Sealed to the key {shown}."
    sealed = organiser.locator("section[aria-labelledby=sealing-heading]")
    assert sealed.locator("h2").inner_text() == "Sealed"
    assert shown in sealed.locator("p").inner_text()
    # Until someone signs, a wrongly given key can still be replaced.
    assert organiser.locator("#seal-heading").inner_text() == "Replace the sealing key"
    screenshots(organiser, f"sealed-editor-{how}")

    organiser.goto(dashboard)
    organiser.locator("form[action$='/publish'] button").click()
    assert organiser.locator(".dashboard__state strong").inner_text() == "Open"
    slug = organiser.get_by_role("link", name="Public page").get_attribute("href").rsplit("/")[-1]

    phone = new_page(**device(signer.device), locale=signer.locale)
    email = f"sealed-{uuid.uuid4().hex[:8]}@example.org"
    label = f"sealed-{signer.locale}"
    sign_on_a_phone(
        phone, site, slug, signer, email, lambda page, name: screenshots(page, f"{label}-{name}")
    )

    rows, raw = stored_rows(site, slug)
    assert len(rows) == 1
    row = rows[0]
    assert row.state == SignatureState.CONFIRMED
    assert row.email is None and row.city is None and row.comment is None
    if signer.show_name:
        # Shown publicly by the signer's choice: kept, encrypted under the server's data key.
        assert row.name == signer.name
        assert raw[0][0] is not None and signer.name not in str(raw[0][0])
        assert raw[0][1:] == (None, None, None)
    else:
        assert row.name is None
        assert raw == [(None, None, None, None)]
    identity = SealingIdentity.from_key_file(
        (tmp_path / "sealing.key").read_text(encoding="utf-8"), PASSPHRASE
    )
    assert identity.public_key == SealingPublicKey.parse(
        (tmp_path / "sealing.pub").read_text(encoding="utf-8")
    )
    opened = identity.open(row.sealed, signature_id=row.public_id, petition=slug)
    assert opened == OpenedRow(
        signature_id=row.public_id,
        petition=slug,
        name=signer.name,
        email=email,
        city=signer.city,
        comment=signer.comment,
    )

    organiser.goto(dashboard)
    assert organiser.locator(".counts dd").first.inner_text() == "1"
    # Once someone has signed, the key can no longer change.
    organiser.goto(f"{dashboard}/edit")
    assert organiser.locator("#sealing-heading").inner_text() == "Sealed"
    assert organiser.locator("#seal-heading").count() == 0
