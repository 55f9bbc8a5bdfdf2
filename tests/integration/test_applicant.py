"""The applicant of an appeal: entered in the editor, named on the cover letter, never public.

Kazakhstan's law on appeals leaves an appeal without the applicant's name and postal address
unconsidered: a final bundle is refused without an applicant, on the dashboard and on the
command line, and with one the cover letter names them and asks for the answer at their address.
"""

from __future__ import annotations

import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from petitions.models import (
    Applicant,
    ApplicantKind,
    AuditEvent,
    Delivery,
    Petition,
    PetitionState,
    RecipientKind,
    utcnow,
)
from petitions.services.demo import DEMO_SLUG
from tests.conftest import PASSWORD, an_applicant
from tests.delivery_fixtures import run, unzip
from tests.helpers import csrf_token, login, post_form

# The bundle is read from a snapshot on a connection of its own: it must find committed rows.
pytestmark = pytest.mark.committed

NO_APPLICANT_PAGE = (
    "A final bundle needs an applicant: without the applicant's name and postal address the "
    "recipient may treat the appeal as anonymous and leave it unconsidered. Enter the "
    "applicant in the petition's editor, then export again."
)
#: As the pages show it: the apostrophes escaped.
NO_APPLICANT_SHOWN = NO_APPLICANT_PAGE.replace("'", "&#39;")
PERSON = {
    "kind": ApplicantKind.PERSON,
    "surname": "Үмбетова",
    "name": "Әлия",
    "patronymic": "Қасымқызы",
    "address": "100000, Қарағанды қ., Бұқар жырау даңғылы, 10-үй, 5-пәтер",
    "id_number": "900101400013",
    "email": "aliya@example.org",
    "phone": "+7 701 234 56 78",
}
ORGANISATION = {
    "kind": ApplicantKind.ORGANISATION,
    "name": "Қазақстан адам құқықтары бюросы",
    "signatory": "Ержан Сейітов",
    "address": "100012, Қарағанды қ., Ерубаев к-сі, 1",
    "id_number": "200140000123",
    "email": "bureau@example.org",
}


def _closed(make_petition, make_signature, **fields) -> Petition:
    petition = make_petition(
        PetitionState.CLOSED,
        opens_at=utcnow() - timedelta(days=6),
        closes_at=utcnow() - timedelta(days=1),
        **fields,
    )
    make_signature(petition)
    return petition


def _letter(bundle: Path, tmp_path: Path) -> str:
    """Return the cover letter's text as pdftotext reads it, whitespace collapsed."""
    pdf = unzip(bundle, tmp_path / "bundle") / "petition.pdf"
    return " ".join(run("pdftotext", "-f", "1", "-l", "1", pdf, "-").stdout.split())


# Refused without an applicant.


def test_the_cli_refuses_a_final_bundle_without_an_applicant(
    runner, db, tmp_path, make_petition, make_signature
):
    closed = _closed(make_petition, make_signature, applicant=None)
    result = runner.invoke(args=["petitions", "export", closed.slug, "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {closed.slug}: a final bundle needs an applicant: without the applicant's name "
        "and postal address the recipient may treat the appeal as anonymous. Enter the applicant "
        "in the petition's editor (Edit, then Applicant), then export again\n"
    )
    assert list(tmp_path.iterdir()) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0


def test_an_interim_bundle_needs_no_applicant_and_names_the_organiser(
    runner, tmp_path, make_petition, make_signature
):
    open_petition = make_petition(applicant=None)
    make_signature(open_petition)
    output = tmp_path / "interim.zip"
    result = runner.invoke(args=["petitions", "export", open_petition.slug, "-o", str(output)])
    assert result.exit_code == 0, result.output
    letter = _letter(output, tmp_path)
    assert f"From: {open_petition.organiser.name}" in letter
    assert "Applicant" not in letter


def test_the_dashboard_refuses_a_final_bundle_without_an_applicant(
    client, db, make_account, make_petition, make_signature
):
    organiser = make_account("owner@example.org")
    closed = _closed(make_petition, make_signature, organiser=organiser, applicant=None)
    login(client, organiser.email, PASSWORD)
    dashboard = f"/organiser/petitions/{closed.id}"
    page = client.get(dashboard).get_data(as_text=True)
    assert f'<p class="notice" id="applicant-missing">{NO_APPLICANT_SHOWN} <a href=' in page
    answer = client.post(f"{dashboard}/exports", data={"csrf_token": csrf_token(client, dashboard)})
    assert answer.status_code == 303
    shown = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert shown.count(NO_APPLICANT_SHOWN) == 2  # the flash and the notice
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0


def test_the_dashboard_says_so_in_russian_too(
    client, db, make_account, make_petition, make_signature
):
    organiser = make_account("owner@example.org")
    closed = _closed(make_petition, make_signature, organiser=organiser, applicant=None)
    login(client, organiser.email, PASSWORD)
    client.get("/language/ru")
    page = client.get(f"/organiser/petitions/{closed.id}").get_data(as_text=True)
    assert (
        "Для окончательного пакета нужен заявитель: без имени и почтового адреса заявителя "
        "адресат может счесть обращение анонимным и оставить его без рассмотрения."
    ) in page


# The cover letter, read back.

LETTERS = {
    ("kk", "person", "president"): [
        "Қазақстан Республикасының Президентіне Кімге: Алушы",
        "Өтініш беруші: Үмбетова Әлия Қасымқызы ЖСН: 900101400013 Пошта мекенжайы: 100000, "
        "Қарағанды қ., Бұқар жырау даңғылы, 10-үй, 5-пәтер Электрондық пошта: aliya@example.org "
        "Телефон: +7 701 234 56 78",
        "Құрметті Президент мырза!",
        "Жауапты өтініш берушіге 100000, Қарағанды қ., Бұқар жырау даңғылы, 10-үй, 5-пәтер пошта "
        "мекенжайы бойынша және aliya@example.org электрондық поштасына жіберуіңізді сұраймыз.",
        "Жауап мемлекеттік тілде — осы өтініштің тілінде — берілуге тиіс.",
        "Құрметпен, Үмбетова Әлия Қасымқызы",
    ],
    ("kk", "organisation", "mazhilis"): [
        "Қазақстан Республикасы Парламентінің Мәжілісіне Кімге: Алушы",
        "Өтініш беруші (ұйым): Қазақстан адам құқықтары бюросы БСН: 200140000123 Ұйым атынан "
        "қол қояды: Ержан Сейітов Пошта мекенжайы: 100012, Қарағанды қ., Ерубаев к-сі, 1 "
        "Электрондық пошта: bureau@example.org",
        "Құрметті Мәжіліс депутаттары!",
        "Құрметпен, Ержан Сейітов Қазақстан адам құқықтары бюросы",
    ],
    ("ru", "person", "ministry"): [
        "В центральный государственный орган Республики Казахстан Кому: Алушы",
        "Заявитель: Үмбетова Әлия Қасымқызы ИИН: 900101400013 Почтовый адрес: 100000, "
        "Қарағанды қ., Бұқар жырау даңғылы, 10-үй, 5-пәтер Электронная почта: aliya@example.org "
        "Телефон: +7 701 234 56 78",
        "Уважаемое руководство!",
        "Просим направить ответ заявителю по почтовому адресу 100000, Қарағанды қ., Бұқар жырау "
        "даңғылы, 10-үй, 5-пәтер и по электронной почте aliya@example.org.",
        "Ответ может быть дан на государственном языке или на русском языке — языке настоящего "
        "обращения.",
    ],
    ("ru", "organisation", "akimat"): [
        "В местный исполнительный орган (акимат) Кому: Алушы",
        "Заявитель (организация): Қазақстан адам құқықтары бюросы БИН: 200140000123 "
        "Подписывает от имени организации: Ержан Сейітов Почтовый адрес: 100012, Қарағанды қ., "
        "Ерубаев к-сі, 1 Электронная почта: bureau@example.org",
        "Уважаемое руководство акимата!",
    ],
    # Kazakh has no grammatical gender: "министр", "әкім" fit a woman or a man.
    ("kk", "person", "akimat"): [
        "Жергілікті атқарушы органға (әкімдікке) Кімге: Алушы",
        "Құрметті әкім!",
    ],
    ("kk", "organisation", "ministry"): [
        "Қазақстан Республикасының орталық мемлекеттік органына Кімге: Алушы",
        "Құрметті министр!",
    ],
    ("en", "person", "senate"): [
        "To the Senate of the Parliament of the Republic of Kazakhstan To: Алушы",
        "Applicant: Үмбетова Әлия Қасымқызы IIN: 900101400013 Postal address: 100000, "
        "Қарағанды қ., Бұқар жырау даңғылы, 10-үй, 5-пәтер Email: aliya@example.org Phone: "
        "+7 701 234 56 78",
        "Dear Senators,",
        "The answer may be given in the state language or in English, the language of this appeal.",
    ],
    ("en", "organisation", "embassy"): [
        "To the diplomatic mission To: Алушы",
        "Applicant (organisation): Қазақстан адам құқықтары бюросы BIN: 200140000123 Signing "
        "for the organisation: Ержан Сейітов Postal address: 100012, Қарағанды қ., Ерубаев "
        "к-сі, 1 Email: bureau@example.org",
        "Your Excellency,",
        "Please send your answer to the applicant at the postal address 100012, Қарағанды қ., "
        "Ерубаев к-сі, 1 and by email to bureau@example.org.",
    ],
}


@pytest.mark.parametrize(("language", "kind", "recipient_kind"), list(LETTERS))
def test_the_final_letter_names_the_applicant_and_the_addressee(
    runner, tmp_path, make_petition, make_signature, language, kind, recipient_kind
):
    values = PERSON if kind == "person" else ORGANISATION
    closed = _closed(
        make_petition,
        make_signature,
        language=language,
        recipient="Алушы",
        recipient_kind=RecipientKind(recipient_kind),
        applicant=Applicant(**values),
    )
    output = tmp_path / "final.zip"
    result = runner.invoke(args=["petitions", "export", closed.slug, "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "final export, 1 signatures" in result.output
    letter = _letter(output, tmp_path)
    for expected in LETTERS[(language, kind, recipient_kind)]:
        assert expected in letter
    assert f": {closed.organiser.name}" not in letter
    if language == "ru" and recipient_kind in ("ministry", "akimat"):
        # A minister or an akim may be a woman: the body's leadership is greeted, in no gender.
        assert "Уважаемый" not in letter
        assert "Уважаемая" not in letter
    manifest = json.loads(zipfile.ZipFile(output).read("manifest.json"))
    assert manifest["recipient"] == {"name": "Алушы", "kind": recipient_kind}
    name = "Үмбетова Әлия Қасымқызы" if kind == "person" else ORGANISATION["name"]
    assert manifest["applicant"] == {"kind": kind, "name": name, "demonstration": False}
    if recipient_kind == "embassy":  # outside Kazakhstan's law on appeals
        assert "state language" not in letter


def test_the_demo_appeal_closes_and_exports_final_with_its_demonstration_applicant(
    runner, db, tmp_path
):
    made = runner.invoke(args=["petitions", "demo"])
    assert made.exit_code == 0, made.output
    closed = runner.invoke(args=["petitions", "close", DEMO_SLUG, "--reason", "demo"])
    assert closed.exit_code == 0, closed.output
    output = tmp_path / "demo.zip"
    result = runner.invoke(args=["petitions", "export", DEMO_SLUG, "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "final export" in result.output
    letter = _letter(output, tmp_path)
    assert "Президенту Республики Казахстан Кому: Президент Республики Казахстан" in letter
    assert "Заявитель: Демонстрационный Заявитель" in letter
    assert (
        "Демонстрация: этот заявитель вымышлен, и этот пакет не является обращением. Не "
        "отправляйте его."
    ) in letter
    manifest = json.loads(zipfile.ZipFile(output).read("manifest.json"))
    assert manifest["recipient"]["kind"] == "president"
    assert manifest["applicant"]["demonstration"] is True
    # The development key still says what it is.
    assert "Внимание: пакет подписан тестовым ключом, который программа создала сама." in letter


# The editor.


def _form(**fields) -> dict:
    data = {
        "title": "Free the poet",
        "summary": "Free the poet.",
        "body": "We ask.",
        "recipient": "President of the Republic of Kazakhstan",
        "recipient_kind": "president",
        "language": "ru",
        "timezone": "Asia/Almaty",
        "duration": "5d",
        "save": "1",
        "applicant_kind": "person",
        "applicant_surname": "Үмбетова",
        "applicant_name": "Әлия",
        "applicant_address": PERSON["address"],
        "applicant_id_number": "900101400013",
        "applicant_email": "aliya@example.org",
    }
    data.update(fields)
    return data


@pytest.fixture
def signed_in(client, make_account):
    organiser = make_account("owner@example.org")
    assert login(client, organiser.email, PASSWORD).status_code == 303
    return client, organiser


def test_the_editor_stores_the_applicant_encrypted_and_audits_no_value(signed_in, db):
    client, _organiser = signed_in
    answer = post_form(
        client,
        "/organiser/petitions/new",
        # Spaces inside the number, and a zero-width space, are dropped.
        _form(applicant_id_number="9001 0140\u200b0013", applicant_phone="+7 (701) 234-56-78"),
        "/organiser/petitions/new",
    )
    assert answer.status_code == 303
    petition = db.session.scalars(sa.select(Petition)).one()
    assert petition.recipient_kind == RecipientKind.PRESIDENT
    applicant = petition.applicant
    assert (applicant.kind, applicant.full_name, applicant.id_number, applicant.phone) == (
        ApplicantKind.PERSON,
        "Үмбетова Әлия",
        "900101400013",
        "+7 (701) 234-56-78",
    )
    raw = db.session.execute(sa.text("SELECT * FROM applicants")).one()
    stored = b"".join(bytes(value) for value in raw if isinstance(value, bytes | memoryview))
    for clear in ("Үмбетова", "900101400013", "aliya@example.org", "Қарағанды"):
        assert clear.encode("utf-8") not in stored
    details = [event.detail for event in db.session.scalars(sa.select(AuditEvent))]
    assert "Үмбетова" not in json.dumps(details, ensure_ascii=False)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"applicant_id_number": "900101400014"},
            "applicant_id_number",
            "This number's last digit does not match the others: check it for a typo.",
        ),
        (
            {"applicant_id_number": "9001014000"},
            "applicant_id_number",
            "An IIN or a BIN has exactly 12 digits.",
        ),
        (
            {"applicant_id_number": "９００１０１４０００１３"},  # full-width digits
            "applicant_id_number",
            "An IIN or a BIN has exactly 12 digits.",
        ),
        (
            {"applicant_phone": "+7 701 CALL ME"},
            "applicant_phone",
            "Enter a phone number with digits only, for example +7 701 234 56 78.",
        ),
        (
            {"applicant_surname": "Үмбе\x07това"},
            "applicant_surname",
            "Please remove invisible or control characters.",
        ),
        (
            {"applicant_address": "Алматы\u202e"},
            "applicant_address",
            "Please remove invisible or control characters.",
        ),
        ({"applicant_surname": ""}, "applicant_surname", "Enter the applicant's surname."),
        (
            {"applicant_kind": "organisation"},
            "applicant_organisation",
            "Enter the organisation's name.",
        ),
        (
            {"applicant_kind": "organisation", "applicant_organisation": "Бюро"},
            "applicant_signatory",
            "Enter the name of the person who signs for the organisation.",
        ),
        ({"applicant_email": "not-an-address"}, "applicant_email", "Enter an email address like"),
        ({"recipient_kind": "king"}, "recipient_kind", "Choose the kind of recipient."),
        ({"applicant_kind": "robot"}, "applicant_kind", "Choose a person, an organisation"),
    ],
)
def test_bad_applicant_input_gets_a_clear_message_and_saves_nothing(
    signed_in, db, fields, field, message
):
    client, _organiser = signed_in
    answer = post_form(
        client, "/organiser/petitions/new", _form(**fields), "/organiser/petitions/new"
    )
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert f'<p class="field__error" id="{field}-error">{message}' in page or (
        field == "applicant_kind" and f'<p class="field__error">{message}' in page
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Petition)) == 0


def test_a_closed_petition_takes_an_applicant_and_a_delivered_one_keeps_its_own(
    signed_in, db, make_petition
):
    client, organiser = signed_in
    closed = make_petition(
        PetitionState.CLOSED,
        organiser=organiser,
        applicant=None,
        language="ru",
        recipient="President of the Republic of Kazakhstan",
        opens_at=utcnow() - timedelta(days=6),
        closes_at=utcnow() - timedelta(days=1),
    )
    edit = f"/organiser/petitions/{closed.id}/edit"
    zone = closed.zone
    kept = {
        "title": closed.title,
        "summary": closed.summary,
        "body": closed.body,
        "recipient_kind": "other",
        "duration": "custom",
        "opens_at": closed.opens_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": closed.closes_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
    }
    answer = post_form(client, edit, _form(**kept), edit)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    db.session.refresh(closed)
    assert closed.applicant.surname == "Үмбетова"
    closed.state = PetitionState.DELIVERED
    db.session.commit()
    refused = post_form(client, edit, _form(**kept, applicant_surname="Другая"), edit)
    assert refused.status_code == 409
    assert (
        "The applicant of a delivered petition cannot change: the bundle names them."
        in refused.get_data(as_text=True)
    )
    db.session.refresh(closed)
    assert closed.applicant.surname == "Үмбетова"


# Never public, unless the postal address is chosen.


@pytest.mark.parametrize("show_address", [False, True])
def test_the_public_page_and_json_never_show_the_applicant_but_a_chosen_address(
    client, make_petition, show_address
):
    applicant = an_applicant(**{**PERSON, "show_address": show_address})
    petition = make_petition(applicant=applicant)
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    figures = client.get(f"/petitions/{petition.slug}.json").get_data(as_text=True)
    record = client.get(f"/petitions/{petition.slug}/deliveries.json").get_data(as_text=True)
    # The JSON as text, its Cyrillic unescaped, so that a name in it would be found.
    public = page + "".join(
        json.dumps(json.loads(text), ensure_ascii=False) for text in (figures, record)
    )
    for private in ("900101400013", "aliya@example.org", "+7 701 234 56 78", "Үмбетова"):
        assert private not in public
    address = PERSON["address"]
    assert (address in page) is show_address
    assert json.loads(figures)["applicant_postal_address"] == (address if show_address else None)
    if show_address:
        assert f"The appeal's applicant receives the answer at: {address}." in page
