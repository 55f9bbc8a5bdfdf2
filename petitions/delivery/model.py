"""The plain data a bundle is made from: the petition, its counts, the rows and the words.

Nothing here knows about Flask or the database: the caller copies what it needs into these
dataclasses, so the bundle can be built from a CLI command, a background job or a benchmark.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from babel.support import Translations

LANGUAGES = ("kk", "ru", "en")
#: The gettext catalogues of the whole product; the PDF's words are among them.
TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


class SignatureRow(NamedTuple):
    """One confirmed signature, in signing order; `signed_at` is an aware UTC datetime."""

    number: int
    name: str
    city: str
    country: str
    signed_at: datetime


#: The kinds of recipient the cover letter knows the formal lines of (`models.RecipientKind`).
RECIPIENT_KINDS = ("president", "mazhilis", "senate", "ministry", "akimat", "embassy", "other")
#: Recipients outside Kazakhstan's law on appeals: their letter says nothing of its language rule.
FOREIGN_KINDS = frozenset({"embassy"})
#: Who may file an appeal (`models.ApplicantKind`).
APPLICANT_KINDS = ("person", "organisation")


@dataclass(frozen=True)
class ApplicantInfo:
    """Who files the appeal: a person or an organisation, and where the answer is to go."""

    #: "person" or "organisation".
    kind: str
    #: A person's given name, or the organisation's name.
    name: str
    address: str
    email: str
    surname: str = ""
    patronymic: str = ""
    #: IIN of a person, BIN of an organisation; empty if not given.
    id_number: str = ""
    phone: str = ""
    #: Who signs for an organisation.
    signatory: str = ""
    #: The demo's invented applicant.
    demonstration: bool = False

    def __post_init__(self) -> None:
        if self.kind not in APPLICANT_KINDS:
            raise ValueError(f"applicant kind {self.kind!r} must be person or organisation")
        if not self.name or not self.address or not self.email:
            raise ValueError("an applicant needs a name, a postal address and an email")
        if self.kind == "person" and not self.surname:
            raise ValueError("a person applying needs a surname")

    @property
    def is_person(self) -> bool:
        return self.kind == "person"

    @property
    def full_name(self) -> str:
        """Surname, name and patronymic, as official letters in Kazakhstan write them."""
        if not self.is_person:
            return self.name
        return " ".join(part for part in (self.surname, self.name, self.patronymic) if part)


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
    #: One of RECIPIENT_KINDS: the letter's formal line and salutation.
    recipient_kind: str = "other"
    #: Who files the appeal; a final bundle is made only with one.
    applicant: ApplicantInfo | None = None

    def __post_init__(self) -> None:
        if self.recipient_kind not in RECIPIENT_KINDS:
            raise ValueError(f"recipient kind {self.recipient_kind!r} is not one of ours")
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
    #: Of the total, the lines of paper sheets; the rest were signed online.
    paper: int = 0
    #: The counted paper sheets: (number, lines entered, SHA-256 of its scan or None).
    sheets: tuple[tuple[int, int, str | None], ...] = ()

    def __post_init__(self) -> None:
        if self.total < 0:
            raise ValueError("total must not be negative")
        if not 0 <= self.paper <= self.total:
            raise ValueError("paper must be between 0 and the total")

    @property
    def online(self) -> int:
        return self.total - self.paper


@dataclass(frozen=True)
class ReceiptTree:
    """The RFC 6962 tree over a bundle's receipt leaves, one per row in the list's order."""

    size: int
    root: bytes

    @property
    def root_hex(self) -> str:
        return self.root.hex()


def new_bundle_identifier(slug: str, generated_at: datetime, timezone: str | None = None) -> str:
    """Return an identifier such as `pardon-aron-atabek-20210914-3f9c1a`.

    The date is the day of `generated_at` in `timezone` when given (pass the petition's, so that
    it matches the ZIP's name), else in the datetime's own zone.
    """
    moment = generated_at.astimezone(ZoneInfo(timezone)) if timezone else generated_at
    return f"{slug}-{moment:%Y%m%d}-{secrets.token_hex(3)}"


def N_(context: str, message: str) -> str:
    """Mark a label for `pybabel extract` (keyword `N_:1c,2`) and return it unchanged."""
    return message


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
    addressee_president: str
    addressee_mazhilis: str
    addressee_senate: str
    addressee_ministry: str
    addressee_akimat: str
    addressee_embassy: str
    salutation_president: str
    salutation_mazhilis: str
    salutation_senate: str
    salutation_ministry: str
    salutation_akimat: str
    salutation_embassy: str
    salutation_other: str
    applicant: str
    applicant_organisation: str
    signatory: str
    iin: str
    bin: str
    postal_address: str
    email: str
    phone: str
    demonstration: str
    answer: str
    answer_language: str
    date: str
    subject: str
    intro: str
    window: str
    still_open: str
    count: str
    contents: str
    verification: str
    receipts: str
    development: str
    closing: str
    text_heading: str
    summary_heading: str
    total: str
    by_country: str
    by_day: str
    list_heading: str
    no_signatures: str
    paper_row: str
    paper_count: str


#: The English words of the PDF and the CSV. Each is marked for the catalogues with a context
#: of its own (`pdf:<field>`): two labels may share English words but not their translation.
ENGLISH = Labels(
    number=N_("pdf:number", "No."),
    name=N_("pdf:name", "Name"),
    city=N_("pdf:city", "City"),
    country=N_("pdf:country", "Country"),
    country_code=N_("pdf:country_code", "Country code"),
    signed_at=N_("pdf:signed_at", "Date signed"),
    signed_at_csv=N_("pdf:signed_at_csv", "Signed at"),
    signatures=N_("pdf:signatures", "Signatures"),
    page=N_("pdf:page", "page {page} of {pages}"),
    bundle=N_("pdf:bundle", "Bundle {identifier}"),
    volume=N_("pdf:volume", "volume {volume} of {volumes}"),
    interim=N_("pdf:interim", "Interim export"),
    final=N_("pdf:final", "Final export"),
    to=N_("pdf:to", "To: {recipient}"),
    sender=N_("pdf:sender", "From: {organiser}"),
    addressee_president=N_(
        "pdf:addressee_president", "To the President of the Republic of Kazakhstan"
    ),
    addressee_mazhilis=N_(
        "pdf:addressee_mazhilis", "To the Mazhilis of the Parliament of the Republic of Kazakhstan"
    ),
    addressee_senate=N_(
        "pdf:addressee_senate", "To the Senate of the Parliament of the Republic of Kazakhstan"
    ),
    addressee_ministry=N_(
        "pdf:addressee_ministry", "To a central state body of the Republic of Kazakhstan"
    ),
    addressee_akimat=N_("pdf:addressee_akimat", "To a local executive body (akimat)"),
    addressee_embassy=N_("pdf:addressee_embassy", "To the diplomatic mission"),
    salutation_president=N_("pdf:salutation_president", "Dear Mr President,"),
    salutation_mazhilis=N_("pdf:salutation_mazhilis", "Dear Deputies of the Mazhilis,"),
    salutation_senate=N_("pdf:salutation_senate", "Dear Senators,"),
    salutation_ministry=N_("pdf:salutation_ministry", "Dear Minister,"),
    salutation_akimat=N_("pdf:salutation_akimat", "Dear Akim,"),
    salutation_embassy=N_("pdf:salutation_embassy", "Your Excellency,"),
    salutation_other=N_("pdf:salutation_other", "Dear Sir or Madam,"),
    applicant=N_("pdf:applicant", "Applicant: {applicant}"),
    applicant_organisation=N_(
        "pdf:applicant_organisation", "Applicant (organisation): {applicant}"
    ),
    signatory=N_("pdf:signatory", "Signing for the organisation: {signatory}"),
    iin=N_("pdf:iin", "IIN: {number}"),
    bin=N_("pdf:bin", "BIN: {number}"),
    postal_address=N_("pdf:postal_address", "Postal address: {address}"),
    email=N_("pdf:email", "Email: {email}"),
    phone=N_("pdf:phone", "Phone: {phone}"),
    demonstration=N_(
        "pdf:demonstration",
        "Demonstration: this applicant is invented and this bundle is not an appeal. "
        "Do not deliver it.",
    ),
    answer=N_(
        "pdf:answer",
        "Please send your answer to the applicant at the postal address {address} and by "
        "email to {email}.",
    ),
    answer_language=N_(
        "pdf:answer_language",
        "The answer may be given in the state language or in English, the language of this appeal.",
    ),
    date=N_("pdf:date", "Date: {date}"),
    subject=N_("pdf:subject", "Petition “{title}”"),
    intro=N_(
        "pdf:intro",
        "On behalf of the people who signed it, we submit to you the petition “{title}” "
        "together with the list of its signatories.",
    ),
    window=N_(
        "pdf:window", "Signatures were collected from {opens} to {closes} (time zone {timezone})."
    ),
    still_open=N_(
        "pdf:still_open",
        "The petition is still open: this is an interim export, and more signatures may follow.",
    ),
    count=N_(
        "pdf:count",
        "Confirmed signatures: {count}. Every signatory confirmed their signature from their "
        "own email address.",
    ),
    contents=N_(
        "pdf:contents",
        "The full text of the petition follows, then a summary by country and by day and the "
        "numbered list of signatures. The same list is attached as signatures.csv.",
    ),
    verification=N_(
        "pdf:verification",
        "This document carries a digital signature. The file manifest.json lists the SHA-256 "
        "of every file of the bundle and is signed in manifest.json.p7s; the signing "
        "certificate is signer.pem.",
    ),
    receipts=N_(
        "pdf:receipts",
        "Receipts: each signature's receipt is a leaf of a Merkle tree (RFC 6962, SHA-256) "
        "over the list in its order. Tree size: {count}. Root:",
    ),
    development=N_(
        "pdf:development",
        "Warning: this bundle is signed with a development key that the software generated "
        "itself. Its signature shows only that the files have not changed since they were "
        "signed; it is not the organisation's signature.",
    ),
    closing=N_("pdf:closing", "Respectfully,"),
    text_heading=N_("pdf:text_heading", "Text of the petition"),
    summary_heading=N_("pdf:summary_heading", "Summary"),
    total=N_("pdf:total", "Confirmed signatures in total: {count}"),
    by_country=N_("pdf:by_country", "Signatures by country"),
    by_day=N_("pdf:by_day", "Signatures by day (time zone {timezone})"),
    list_heading=N_("pdf:list_heading", "Signatures"),
    no_signatures=N_("pdf:no_signatures", "No signatures have been confirmed."),
    paper_row=N_("pdf:paper_row", "paper, sheet {sheet}, line {line}"),
    paper_count=N_(
        "pdf:paper_count",
        "Of these, {online} were signed online and {paper} on paper sheets; each paper line "
        "was entered twice, identically, and is marked with its sheet and line.",
    ),
)


def catalogue_of(language: str) -> Translations:
    """Open a language's compiled catalogue, for the words of what the bundle prints.

    Opened directly rather than through Translations.load, which would quietly fall back to
    English if a catalogue were missing; a cover letter in the wrong language must not ship.
    """
    if language not in LANGUAGES:
        raise KeyError(language)
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo", "rb") as handle:
        return Translations(handle)


@functools.cache
def labels_for(language: str) -> Labels:
    """Return the labels in a language, read once from its compiled catalogue."""
    catalogue = catalogue_of(language)
    words = {name: catalogue.pgettext(f"pdf:{name}", english) for name, english in _english()}
    return Labels(**words)


def _english() -> list[tuple[str, str]]:
    return [(name, getattr(ENGLISH, name)) for name in Labels.__dataclass_fields__]


class _CatalogueLabels(Mapping[str, Labels]):
    """`LABELS["kk"]`: the labels of each language, built from the catalogues when first asked."""

    def __getitem__(self, language: str) -> Labels:
        return labels_for(language)

    def __iter__(self) -> Iterator[str]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


LABELS: Mapping[str, Labels] = _CatalogueLabels()
