"""The demonstration data: an organiser and an open appeal modelled on the 2021 Atabek petition.

The text was written for the demo from the facts reported at the time (see shared/reference): it
is not the activists' own wording, and signatures given to the demo are not sent anywhere.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from petitions.extensions import db
from petitions.models import Applicant, ApplicantKind, Organiser, Petition, RecipientKind
from petitions.sealing import SealingPublicKey, write_key_pair
from petitions.services import audit, lifecycle
from petitions.services.accounts import create_organiser, find_organiser, set_public_identity

DEMO_ORGANISER_EMAIL = "demo-organiser@example.org"
DEMO_ORGANISER_NAME = "Demo organiser"
#: What signers of the demo appeal are told about who runs it: plainly a demonstration.
DEMO_PUBLIC_NAME = "Demo organiser (a demonstration, not a real campaign)"
DEMO_PUBLIC_CONTACT = "demo-organiser@example.org"
DEMO_SLUG = "pardon-aron-atabek"
#: The Almaty activists collected signatures for five days, then sent them to the President.
DEMO_WINDOW = timedelta(days=5)

DEMO_TITLE = "Помилуйте Арона Атабека · Pardon the poet Aron Atabek"
DEMO_RECIPIENT = "Президент Республики Казахстан · President of the Republic of Kazakhstan"
DEMO_SUMMARY = (
    "Просим Президента помиловать 68-летнего поэта Арона Атабека, тяжело больного узника. "
    "We ask the President to pardon Aron Atabek, a gravely ill 68-year-old poet in prison."
)
DEMO_BODY = """\
*Демонстрационная петиция по мотивам обращения 2021 года; подписи никуда не отправляются.
A demonstration petition modelled on the 2021 appeal; signatures are not sent anywhere.*

## Обращение

Уважаемый господин Президент!

Мы, нижеподписавшиеся, просим Вас помиловать поэта **Арона Едигеева (Атабека)**.

Арону Атабеку 68 лет. С 2007 года он находится в заключении: его приговорили к 18 годам
лишения свободы по обвинению в организации беспорядков 2006 года в алматинском посёлке
Шанырак, где жители протестовали против сноса своих домов. Он всегда настаивал на своей
невиновности и в 2012 году отказался от помилования, условием которого было признание вины.

Правозащитники сообщают, что Арон Атабек страдает болезнью сердца, диабетом и артритом и что
его здоровье резко ухудшилось. Фотография, сделанная летом во время посещения колонии,
вызвала широкий общественный отклик.

Президент вправе по своему усмотрению помиловать осуждённого. Мы просим Вас воспользоваться
этим правом и проявить милосердие: освободить Арона Атабека, чтобы он мог получить лечение и
быть рядом со своей семьёй.

## Appeal

Dear Mr President,

We, the undersigned, ask you to pardon the poet **Aron Yedigeyev (Atabek)**.

Aron Atabek is 68 years old and has been in prison since 2007. He was sentenced to 18 years
on charges of organising the 2006 unrest in Shanyrak, a suburb of Almaty where residents
protested against the demolition of their homes. He has always maintained his innocence, and
in 2012 he refused a pardon that required him to admit guilt.

Human-rights defenders report that he suffers from heart disease, diabetes and arthritis and
that his health has sharply deteriorated. A photograph taken during a prison visit this summer
caused a public outcry.

The President may, at his own discretion, pardon a convicted person. We ask you to exercise
this right and show mercy: set Aron Atabek free, so that he can receive medical care and be
with his family.
"""


#: The demo's applicant: invented, and saying so wherever it appears (the cover letter adds a
#: warning that the bundle is no appeal). Its address is in no city's register.
DEMO_APPLICANT = {
    "kind": ApplicantKind.PERSON,
    "surname": "Демонстрационный",
    "name": "Заявитель",
    "patronymic": None,
    "address": "Демонстрационный адрес, не настоящий: 050000, г. Алматы, ул. Примерная, д. 0",
    "email": "demo-applicant@example.org",
    "id_number": None,
    "phone": None,
    "signatory": None,
    "show_address": False,
    "demonstration": True,
}


def _give_demo_applicant(petition: Petition) -> None:
    """Give a demo petition its demonstration applicant, if it has none (older demos had none)."""
    if petition.applicant is None:
        petition.applicant = Applicant(**DEMO_APPLICANT)
        db.session.flush()
        audit.record("edit", actor=petition.organiser, petition=petition, fields=["applicant"])


@dataclass(frozen=True)
class DemoResult:
    organiser: Organiser
    petition: Petition
    #: Set only when the organiser was created by this call; it is never stored in clear.
    new_password: str | None
    created_petition: bool


def _demo_petition(organiser: Organiser, now: datetime, slug: str = DEMO_SLUG) -> Petition:
    petition = Petition(
        slug=slug,
        title=DEMO_TITLE,
        summary=DEMO_SUMMARY,
        body=DEMO_BODY,
        recipient=DEMO_RECIPIENT,
        recipient_kind=RecipientKind.PRESIDENT,
        language="ru",
        goal=2500,
        timezone="Asia/Almaty",
        opens_at=now,
        closes_at=now + DEMO_WINDOW,
        organiser=organiser,
    )
    db.session.add(petition)
    petition.publish(now)
    petition.applicant = Applicant(**DEMO_APPLICANT)
    db.session.flush()
    audit.record("publish", actor=organiser, petition=petition, demo=True)
    return petition


def load_demo(now: datetime) -> DemoResult:
    """Create the demo organiser and open the demo appeal, unless they already exist."""
    organiser = find_organiser(DEMO_ORGANISER_EMAIL)
    password = None
    if organiser is None:
        password = secrets.token_urlsafe(12)
        organiser = create_organiser(DEMO_ORGANISER_EMAIL, DEMO_ORGANISER_NAME, password)
    if organiser.public_name is None and organiser.public_contact is None:
        set_public_identity(organiser, DEMO_PUBLIC_NAME, DEMO_PUBLIC_CONTACT)
    petition = db.session.scalar(sa.select(Petition).where(Petition.slug == DEMO_SLUG))
    created = petition is None
    if petition is None:
        petition = _demo_petition(organiser, now)
    else:
        _give_demo_applicant(petition)
    return DemoResult(organiser, petition, password, created)


#: The second demo appeal, sealed to a key pair the demo makes.
SEALED_DEMO_SLUG = f"{DEMO_SLUG}-sealed"


@dataclass(frozen=True)
class SealedDemoResult:
    petition: Petition
    #: Where the demo's key pair was written; None when the petition existed already.
    key_directory: Path | None
    fingerprint: str


def load_sealed_demo(now: datetime, directory: Path, passphrase: str) -> SealedDemoResult:
    """Open the sealed demo appeal, making its key pair into `directory`, unless it exists.

    A real organiser makes the pair on their own machine (`flask keys sealing-new`) and gives
    the server only the public key; the demo makes both here so that it can be tried at once.
    """
    organiser = load_demo(now).organiser
    petition = db.session.scalar(sa.select(Petition).where(Petition.slug == SEALED_DEMO_SLUG))
    if petition is not None:
        if petition.sealing_key is None:
            raise lifecycle.PetitionError(f"{SEALED_DEMO_SLUG} exists but is not sealed")
        fingerprint = SealingPublicKey.parse(petition.sealing_key).fingerprint
        return SealedDemoResult(petition, None, fingerprint)
    key = write_key_pair(directory, passphrase)
    petition = _demo_petition(organiser, now, SEALED_DEMO_SLUG)
    lifecycle.seal(petition, key.line, organiser)
    return SealedDemoResult(petition, directory, key.fingerprint)
