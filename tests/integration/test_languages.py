"""Every page speaks the visitor's language: kk, ru or en, chosen in the switcher's cookie."""

import re
from datetime import UTC, datetime

import pytest
from babel.dates import format_date

from petitions.models import PetitionState
from tests.conftest import PASSWORD
from tests.helpers import login, post_form, sign

#: Words each public page must show in each language (kk and ru straight from their catalogues).
PUBLIC = {
    "kk": {
        "home": "Ашық петициялар",
        "month": "қыркүйек",
        "zone": "(Алматы уақыты бойынша)",
        "goal": "12\xa0345",
        "country": "Қазақстан",
        "missing_name": "Аты-жөніңізді енгізіңіз.",
        "check_email": "Электрондық поштаңызды тексеріңіз",
        "not_found": "Бет табылмады",
    },
    "ru": {
        "home": "Открытые петиции",
        "month": "сентября",
        "zone": "(часовой пояс: Алматы)",
        "goal": "12\xa0345",
        "country": "Казахстан",
        "missing_name": "Введите ваше имя.",
        "check_email": "Проверьте электронную почту",
        "not_found": "Страница не найдена",
    },
    "en": {
        "home": "Open petitions",
        "month": "September",
        "zone": "(Almaty time)",
        "goal": "12,345",
        "country": "Kazakhstan",
        "missing_name": "Enter your name.",
        "check_email": "Check your email",
        "not_found": "Page not found",
    },
}

CLOSE_REFUSED = {
    "kk": "Бұл петицияны жабу мүмкін емес: оның күйі — «Жабық».",
    "ru": "Эту петицию нельзя закрыть: её статус — «Закрыта».",
    "en": "This petition cannot be closed: its state is “Closed”.",
}


@pytest.fixture
def organiser(make_account):
    return make_account("saule@example.org", "Сәуле")


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_refused_transition_reaches_the_organiser_in_their_language(
    client, organiser, make_petition, language
):
    petition = make_petition(PetitionState.CLOSED, organiser=organiser)
    client.set_cookie("lang", language)
    assert login(client, organiser.email, PASSWORD).status_code == 303
    dashboard = f"/organiser/petitions/{petition.id}"
    refused = post_form(client, f"{dashboard}/close", {"reason": "again"}, dashboard)
    assert refused.status_code == 303
    page = client.get(dashboard).get_data(as_text=True)
    assert CLOSE_REFUSED[language] in page
    assert "cannot close a petition" not in page


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_public_pages_speak_the_language_chosen_in_the_cookie(
    client, make_petition, make_signature, language
):
    words = PUBLIC[language]
    petition = make_petition(goal=12345, closes_at=datetime(2099, 9, 20, 13, 0, tzinfo=UTC))
    make_signature(petition, country="KZ", show_name=True)
    # The browser asks for something else: the explicit choice wins.
    client.set_cookie("lang", language)
    headers = {"Accept-Language": "de-DE,de;q=0.9"}

    home = client.get("/", headers=headers).get_data(as_text=True)
    assert f'<html lang="{language}">' in home
    assert words["home"] in home
    meta = re.search(r'<p class="petition-card__meta"[^>]*>(.*?)</p>', home, re.S).group(1)
    assert words["zone"] in meta, "the list names the zone of its closing times"

    page = client.get(f"/petitions/{petition.slug}", headers=headers).get_data(as_text=True)
    assert words["month"] in page, "the deadline's month is localised"
    assert words["zone"] in page, "the time zone is named by its city, in the language"
    assert words["goal"] in page, "numbers are grouped the local way"
    assert f"· {words['country']}</li>" in page, "the recent signer's country is localised"

    refused = sign(client, petition.slug, headers=headers, name="")
    assert refused.status_code == 422
    assert words["missing_name"] in refused.get_data(as_text=True)
    assert f"<option selected value=KZ>{words['country']}" in refused.get_data(as_text=True)

    signed = sign(client, petition.slug, headers=headers)
    assert signed.status_code == 303
    check = client.get(signed.headers["Location"], headers=headers).get_data(as_text=True)
    assert words["check_email"] in check

    missing = client.get("/no/such/page", headers=headers)
    assert missing.status_code == 404
    assert words["not_found"] in missing.get_data(as_text=True)


def test_dashboard_and_signature_list_show_local_days_and_country_names(
    client, organiser, make_petition, make_signature
):
    petition = make_petition(organiser=organiser, timezone="Asia/Almaty")
    signature = make_signature(petition, country="KZ")
    day = signature.created_at.astimezone(petition.zone).date()
    client.set_cookie("lang", "ru")
    assert login(client, organiser.email, PASSWORD).status_code == 303

    dashboard = client.get(f"/organiser/petitions/{petition.id}").get_data(as_text=True)
    assert f"<td>{format_date(day, 'medium', locale='ru')}</td>" in dashboard
    # Machine-readable values (a form's hidden "since") may be ISO; what a reader sees may not.
    shown = re.sub(r"<[^>]*>", " ", dashboard)
    assert day.isoformat() not in shown

    listed = client.get(f"/organiser/petitions/{petition.id}/signatures").get_data(as_text=True)
    assert "<td>Казахстан</td>" in listed


def test_audit_log_details_are_named_in_the_organisers_language(
    client, db, organiser, make_petition
):
    from datetime import timedelta

    from petitions.models import utcnow
    from petitions.services import audit, lifecycle

    now = utcnow()
    petition = make_petition(organiser=organiser, closes_at=now - timedelta(minutes=1))
    lifecycle.close_expired(now)
    audit.record("export", actor=organiser, petition=petition, kind="final", signatures=12345)
    db.session.commit()
    client.set_cookie("lang", "ru")
    assert login(client, organiser.email, PASSWORD).status_code == 303

    page = client.get(f"/organiser/petitions/{petition.id}").get_data(as_text=True)
    assert '<span class="detail">Причина: срок сбора подписей истёк</span>' in page
    assert '<span class="detail">Тип: окончательная</span>' in page
    assert '<span class="detail">Подписи: 12\xa0345</span>' in page
    assert "window ended" not in page


def test_audit_details_leave_out_the_action_id_and_show_organisers_words_as_written(app):
    from flask_babel import force_locale

    from petitions.organiser.display import audit_details

    with app.test_request_context(), force_locale("kk"):
        shown = audit_details({"reason": "final", "action_id": "abc", "demo": True, "x": [1, 2]})
    assert ("Себебі", "final") in shown
    assert not [value for name, value in shown if value == "abc"]
    assert ("Демонстрация", "иә") in shown
    assert ("x", "1, 2") in shown
