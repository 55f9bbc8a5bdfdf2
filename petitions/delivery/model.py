"""The plain data a bundle is made from: the petition, its counts, the rows and the words.

Nothing here knows about Flask or the database: the caller copies what it needs into these
dataclasses, so the bundle can be built from a CLI command, a background job or a benchmark.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

LANGUAGES = ("kk", "ru", "en")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


class SignatureRow(NamedTuple):
    """One confirmed signature, in signing order; `signed_at` is an aware UTC datetime."""

    number: int
    name: str
    city: str
    country: str
    signed_at: datetime


@dataclass(frozen=True)
class PetitionInfo:
    """What the petition is: its words, its recipient and its collection window."""

    slug: str
    title: str
    #: Markdown, as the organiser wrote it; the PDF shows it as plain paragraphs and headings.
    body: str
    recipient: str
    language: str
    timezone: str
    opens_at: datetime
    closes_at: datetime
    organiser: str

    def __post_init__(self) -> None:
        if not _SLUG.match(self.slug):
            raise ValueError(f"slug {self.slug!r} must be lower-case letters, digits and dashes")
        if self.language not in LANGUAGES:
            raise ValueError(f"language {self.language!r} must be one of {', '.join(LANGUAGES)}")
        ZoneInfo(self.timezone)  # raises on an unknown zone, before any work is done
        for name in ("opens_at", "closes_at"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} must be an aware datetime")

    @property
    def zone(self) -> ZoneInfo:
        """Return the petition's time zone."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class ExportInfo:
    """This particular export: final or interim, its identifier and when it was made."""

    identifier: str
    generated_at: datetime
    #: Interim: exported while the petition is still open, so more signatures may follow.
    final: bool
    generator_version: str

    def __post_init__(self) -> None:
        if self.generated_at.tzinfo is None:
            raise ValueError("generated_at must be an aware datetime")


@dataclass(frozen=True)
class Summary:
    """The counts the summary page shows; they must agree with the rows, or the export fails."""

    total: int
    #: ISO 3166 alpha-2 code to count.
    by_country: Mapping[str, int] = field(default_factory=dict)
    #: Calendar day in the petition's time zone to count.
    by_day: Mapping[date, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.total < 0:
            raise ValueError("total must not be negative")


def new_bundle_identifier(slug: str, generated_at: datetime, timezone: str | None = None) -> str:
    """Return an identifier such as `pardon-aron-atabek-20210914-3f9c1a`.

    The date is the day of `generated_at` in `timezone` when given (pass the petition's, so that
    it matches the ZIP's name), else in the datetime's own zone.
    """
    moment = generated_at.astimezone(ZoneInfo(timezone)) if timezone else generated_at
    return f"{slug}-{moment:%Y%m%d}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Labels:
    """Every word the PDF and the CSV show, in one language; `{…}` fields are filled in."""

    number: str
    name: str
    city: str
    country: str
    country_code: str
    signed_at: str
    signed_at_csv: str
    signatures: str
    page: str
    bundle: str
    volume: str
    interim: str
    final: str
    to: str
    sender: str
    date: str
    subject: str
    intro: str
    window: str
    still_open: str
    count: str
    contents: str
    verification: str
    development: str
    closing: str
    text_heading: str
    summary_heading: str
    total: str
    by_country: str
    by_day: str
    list_heading: str
    no_signatures: str


ENGLISH = Labels(
    number="No.",
    name="Name",
    city="City",
    country="Country",
    country_code="Country code",
    signed_at="Date signed",
    signed_at_csv="Signed at",
    signatures="Signatures",
    page="page {page} of {pages}",
    bundle="Bundle {identifier}",
    volume="volume {volume} of {volumes}",
    interim="Interim export",
    final="Final export",
    to="To: {recipient}",
    sender="From: {organiser}",
    date="Date: {date}",
    subject="Petition “{title}”",
    intro=(
        "On behalf of the people who signed it, we submit to you the petition “{title}” "
        "together with the list of its signatories."
    ),
    window="Signatures were collected from {opens} to {closes} (time zone {timezone}).",
    still_open=(
        "The petition is still open: this is an interim export, and more signatures may follow."
    ),
    count=(
        "Confirmed signatures: {count}. Every signatory confirmed their signature "
        "from their own email address."
    ),
    contents=(
        "The full text of the petition follows, then a summary by country and by day and the "
        "numbered list of signatures. The same list is attached as signatures.csv."
    ),
    verification=(
        "This document carries a digital signature. The file manifest.json lists the SHA-256 "
        "of every file of the bundle and is signed in manifest.json.p7s; the signing "
        "certificate is signer.pem."
    ),
    development=(
        "Warning: this bundle is signed with a development key that the software generated "
        "itself. Its signature shows only that the files have not changed since they were "
        "signed; it is not the organisation's signature."
    ),
    closing="Respectfully,",
    text_heading="Text of the petition",
    summary_heading="Summary",
    total="Confirmed signatures in total: {count}",
    by_country="Signatures by country",
    by_day="Signatures by day (time zone {timezone})",
    list_heading="Signatures",
    no_signatures="No signatures have been confirmed.",
)

RUSSIAN = Labels(
    number="№",
    name="Имя и фамилия",
    city="Город",
    country="Страна",
    country_code="Код страны",
    signed_at="Дата подписи",
    signed_at_csv="Время подписи",
    signatures="Подписи",
    page="стр. {page} из {pages}",
    bundle="Пакет {identifier}",
    volume="том {volume} из {volumes}",
    interim="Промежуточная выгрузка",
    final="Окончательная выгрузка",
    to="Кому: {recipient}",
    sender="От: {organiser}",
    date="Дата: {date}",
    subject="Петиция «{title}»",
    intro=(
        "От имени подписавших направляем Вам петицию «{title}» вместе со списком "
        "поддержавших её людей."
    ),
    window="Подписи собирались с {opens} по {closes} (часовой пояс {timezone}).",
    still_open=(
        "Сбор подписей ещё продолжается: это промежуточная выгрузка, подписей может стать больше."
    ),
    count=(
        "Подтверждённых подписей: {count}. Каждый подписавший подтвердил свою подпись "
        "со своего адреса электронной почты."
    ),
    contents=(
        "Далее следуют полный текст петиции, сводка по странам и по дням и пронумерованный "
        "список подписей. Тот же список приложен в файле signatures.csv."
    ),
    verification=(
        "Документ подписан электронной подписью. Файл manifest.json содержит SHA-256 каждого "
        "файла пакета и подписан в файле manifest.json.p7s; сертификат подписи — signer.pem."
    ),
    development=(
        "Внимание: пакет подписан тестовым ключом, который программа создала сама. Такая "
        "подпись доказывает лишь, что файлы не изменялись после подписания; это не подпись "
        "организации."
    ),
    closing="С уважением,",
    text_heading="Текст петиции",
    summary_heading="Сводка",
    total="Всего подтверждённых подписей: {count}",
    by_country="Подписи по странам",
    by_day="Подписи по дням (часовой пояс {timezone})",
    list_heading="Подписи",
    no_signatures="Подтверждённых подписей нет.",
)

KAZAKH = Labels(
    number="№",
    name="Аты-жөні",
    city="Қала",
    country="Ел",
    country_code="Ел коды",
    signed_at="Қол қойылған күні",
    signed_at_csv="Қол қойылған уақыты",
    signatures="Қолдар",
    page="{pages} беттің {page}-беті",
    bundle="Пакет {identifier}",
    volume="{volumes} томның {volume}-томы",
    interim="Аралық нұсқа",
    final="Түпкілікті нұсқа",
    to="Кімге: {recipient}",
    sender="Кімнен: {organiser}",
    date="Күні: {date}",
    subject="«{title}» петициясы",
    intro=(
        "Қол қойғандардың атынан Сізге «{title}» петициясын және оны қолдаған адамдардың "
        "тізімін жолдаймыз."
    ),
    window="Қол жинау кезеңі: {opens} – {closes} (уақыт белдеуі: {timezone}).",
    still_open=("Қол жинау әлі жалғасуда: бұл аралық нұсқа, қолдар саны әлі көбеюі мүмкін."),
    count=(
        "Расталған қолдар саны: {count}. Әр қол қоюшы өз қолын өзінің электрондық пошта "
        "мекенжайынан растады."
    ),
    contents=(
        "Төменде петицияның толық мәтіні, елдер мен күндер бойынша қорытынды және қолдардың "
        "нөмірленген тізімі берілген. Сол тізім signatures.csv файлында да қоса берілген."
    ),
    verification=(
        "Құжатқа электрондық цифрлық қолтаңба қойылған. manifest.json файлында пакеттегі әр "
        "файлдың SHA-256 мәні бар, ол manifest.json.p7s файлында қол қойылған; қолтаңба "
        "сертификаты — signer.pem."
    ),
    development=(
        "Назар аударыңыз: пакетке бағдарламаның өзі жасаған сынақ кілтімен қол қойылған. "
        "Мұндай қолтаңба файлдардың қол қойылғаннан кейін өзгермегенін ғана дәлелдейді; бұл "
        "ұйымның қолтаңбасы емес."
    ),
    closing="Құрметпен,",
    text_heading="Петиция мәтіні",
    summary_heading="Қорытынды",
    total="Барлық расталған қолдар: {count}",
    by_country="Елдер бойынша қолдар",
    by_day="Күндер бойынша қолдар (уақыт белдеуі: {timezone})",
    list_heading="Қол қойғандар",
    no_signatures="Расталған қолдар жоқ.",
)

LABELS: Mapping[str, Labels] = {"kk": KAZAKH, "ru": RUSSIAN, "en": ENGLISH}
