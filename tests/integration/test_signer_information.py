"""What a signer is told before signing: who runs the petition, what the recipient receives, how
long their data is kept, and how to withdraw; and where the organiser sets their public name."""

import re

import pytest
import sqlalchemy as sa

from petitions.models import Organiser, PetitionState
from tests.conftest import PASSWORD
from tests.helpers import login, post_form

FACTS = {
    "en": [
        "Before you sign",
        "Run by Qazaq Human Rights Bureau. Contact: bureau@example.org.",
        "The recipient receives your name and city in a signed PDF, never your email.",
        "This site erases your email, name and city 90 days after the petition is delivered or "
        "closes.",
        "To withdraw while signing is open, use the link in any email we send you.",
    ],
    "kk": [
        "Қол қоймас бұрын",
        "Ұйымдастырушы: Qazaq Human Rights Bureau. Байланыс: bureau@example.org.",
        "Алушы аты-жөніңіз бен қалаңызды қол қойылған PDF құжатында алады, электрондық "
        "поштаңызды ешқашан алмайды.",
        "Петиция жеткізілгеннен немесе жабылғаннан кейін 90 күн өткенде бұл сайт поштаңызды, "
        "аты-жөніңізді және қалаңызды өшіреді.",
        "Қол жинау ашық тұрғанда қолтаңбаңызды кері қайтару үшін біз жіберген кез келген "
        "хаттағы сілтемені пайдаланыңыз.",
    ],
    "ru": [
        "Перед тем как подписать",
        "Организатор: Qazaq Human Rights Bureau. Контакт: bureau@example.org.",
        "Адресат получит ваше имя и город в подписанном PDF, но никогда — ваш адрес почты.",
        "Сайт удалит ваш адрес почты, имя и город через 90 дней после передачи или закрытия "
        "петиции.",
        "Пока сбор подписей открыт, подпись можно отозвать по ссылке в любом нашем письме.",
    ],
}


def facts(html: str) -> list[str]:
    """Return the heading and the lines of the page's "before you sign" block, as text."""
    heading = re.search(r'<h3 class="sign__facts-heading">(.*?)</h3>', html).group(1)
    block = re.search(r'<ul class="sign__facts">(.*?)</ul>', html, re.S).group(1)
    return [heading, *(item.strip() for item in re.findall(r"<li>(.*?)</li>", block, re.S))]


@pytest.fixture
def bureau(make_organiser):
    return make_organiser(
        name="Private account name",
        public_name="Qazaq Human Rights Bureau",
        public_contact="bureau@example.org",
    )


@pytest.mark.parametrize("language", ["en", "kk", "ru"])
def test_petition_page_tells_who_runs_it_what_is_sent_kept_and_how_to_withdraw(
    client, make_petition, bureau, language
):
    petition = make_petition(organiser=bureau)
    client.set_cookie("lang", language)
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert facts(html) == FACTS[language]
    # Before the form: read before anything is typed.
    assert html.index('class="sign__facts"') < html.index('id="name"')
    assert "Private account name" not in html


def test_the_page_says_so_when_the_organiser_gave_no_name_or_contact(client, make_petition):
    html = client.get(f"/petitions/{make_petition().slug}").get_data(as_text=True)
    assert facts(html)[1] == "The organiser has published no name. No contact is given."


@pytest.mark.parametrize("app_overrides", [{"RETENTION_DAYS": "1"}])
def test_the_retention_said_is_the_one_configured(client, make_petition, app_overrides):
    client.set_cookie("lang", "ru")
    html = client.get(f"/petitions/{make_petition().slug}").get_data(as_text=True)
    assert facts(html)[3] == (
        "Сайт удалит ваш адрес почты, имя и город через 1 день после передачи или закрытия петиции."
    )


def test_a_closed_petition_shows_no_signing_facts(client, make_petition, bureau):
    petition = make_petition(PetitionState.CLOSED, organiser=bureau)
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "sign__facts" not in html


def test_organiser_sets_the_public_name_and_contact_signers_see(
    client, db, make_account, make_petition
):
    organiser = make_account("saule@example.org", "Сәуле")
    petition = make_petition(organiser=organiser)
    login(client, organiser.email, PASSWORD)
    page = client.get("/organiser/account").get_data(as_text=True)
    assert 'id="public_name"' in page and 'id="public_contact"' in page
    saved = post_form(
        client,
        "/organiser/account",
        {"public_name": "  Әділет тобы ", "public_contact": "adilet@example.org"},
        "/organiser/account",
    )
    assert saved.status_code == 303
    assert saved.headers["Location"] == "/organiser/account"
    db.session.expire_all()
    stored = db.session.get(Organiser, organiser.id)
    assert (stored.public_name, stored.public_contact) == ("Әділет тобы", "adilet@example.org")
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert facts(html)[1] == "Run by Әділет тобы. Contact: adilet@example.org."

    emptied = {"public_name": "", "public_contact": ""}
    post_form(client, "/organiser/account", emptied, "/organiser/account")
    db.session.expire_all()
    stored = db.session.get(Organiser, organiser.id)
    assert (stored.public_name, stored.public_contact) == (None, None)


def test_the_account_form_refuses_invisible_characters_and_long_values(client, db, make_account):
    organiser = make_account("long@example.org")
    login(client, organiser.email, PASSWORD)
    refused = post_form(
        client,
        "/organiser/account",
        {"public_name": "x" * 121, "public_contact": "a\u202eb"},
        "/organiser/account",
    )
    assert refused.status_code == 200
    html = refused.get_data(as_text=True)
    assert "Field cannot be longer than 120 characters." in html
    assert "Please remove invisible or control characters." in html
    db.session.expire_all()
    assert db.session.get(Organiser, organiser.id).public_name is None


def test_the_account_page_needs_sign_in(client):
    response = client.get("/organiser/account")
    assert response.status_code == 302
    assert "/organiser/login" in response.headers["Location"]


def test_demo_organiser_gets_demonstration_values(runner, db):
    assert runner.invoke(args=["petitions", "demo"]).exit_code == 0
    organiser = db.session.scalars(sa.select(Organiser)).one()
    assert organiser.public_name == "Demo organiser (a demonstration, not a real campaign)"
    assert organiser.public_contact == "demo-organiser@example.org"
