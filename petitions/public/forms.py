"""The signing form: what a signer types, checked before anything is stored."""

from __future__ import annotations

import functools
import re
import unicodedata

from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import BooleanField, EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import Select, html_params

from petitions.forms import Form
from petitions.i18n import COUNTRY_CODES, country_choices
from petitions.services.privacy import canonical_email

#: A scheme, "www." or a host name under a common top-level domain: a link, not a name.
URL_PATTERN = re.compile(r"(://|www\.|\w\.(com|ru|kz|org|net|info|io|me|xyz|top)\b)", re.I)
#: A leading character that a spreadsheet would take for the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@")
#: Bidirectional classes of the controls that reorder the text around them (embeddings,
#: overrides, isolates): a name holding one reads differently from what it is. Nobody types them
#: by accident, so they are refused, where other format characters are removed.
REORDERING_CLASSES = frozenset({"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})
#: Zero-width non-joiner and joiner: part of the spelling in Persian, Indic scripts and emoji
#: sequences, so kept between two characters of a word; anywhere else they are removed.
JOINERS = frozenset("\u200c\u200d")
#: Categories a joiner may stand after: letters, marks, digits, and emoji (symbols, modifiers).
_JOINED_BEFORE = ("L", "M", "N", "So", "Sk")
_JOINED_AFTER = ("L", "M", "N", "So")
#: The waving black flag, whose tag characters spell a region's flag (England, Scotland, Wales).
TAG_FLAG = "\U0001f3f4"
#: More combining marks than this on one base character only stack over the lines around them;
#: real spelling after NFC needs at most three (Hebrew with points and a cantillation mark).
MAX_MARKS_PER_BASE = 4
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


def _reorders(character: str) -> bool:
    return unicodedata.bidirectional(character) in REORDERING_CLASSES


def _is_tag(character: str) -> bool:
    return "\U000e0020" <= character <= "\U000e007f"


def _joins(before: str, after: str) -> bool:
    """Tell whether a joiner between these two characters belongs to the spelling."""
    return unicodedata.category(before).startswith(_JOINED_BEFORE) and unicodedata.category(
        after
    ).startswith(_JOINED_AFTER)


def _kept(value: str, index: int, kept: list[str]) -> bool:
    """Tell whether the format character at `index` stays in the stored text."""
    character = value[index]
    if _reorders(character):
        return True  # left for the validators to refuse, with a message
    if character in JOINERS:
        return bool(kept) and index + 1 < len(value) and _joins(kept[-1], value[index + 1])
    # Tags spell a flag only right after the black flag or after another tag.
    return _is_tag(character) and bool(kept) and (kept[-1] == TAG_FLAG or _is_tag(kept[-1]))


def without_format_characters(value: str) -> str:
    """Remove the invisible format characters (Unicode category Cf) that carry no spelling.

    Zero-width spaces, word joiners, byte-order marks, soft hyphens, directional marks and the
    like change nothing a reader sees, yet would let a name look empty or dodge the rules below.
    """
    kept: list[str] = []
    for index, character in enumerate(value):
        if unicodedata.category(character) != "Cf" or _kept(value, index, kept):
            kept.append(character)
    return "".join(kept)


def clean_text(value: str | None) -> str:
    """Normalise to NFC, drop format characters and trim; the same name is stored one way."""
    return without_format_characters(unicodedata.normalize("NFC", value or "")).strip()


def _refuse_invisible(value: str) -> None:
    for character in value:
        if unicodedata.category(character) == "Cc" or _reorders(character):
            raise ValidationError(_l("Please remove invisible or control characters."))


def _is_mark(character: str) -> bool:
    # Mn and Me draw over the base before them; Mc takes its own space.
    return unicodedata.category(character) in ("Mn", "Me")


def _refuse_stacked_marks(value: str) -> None:
    """Refuse a combining mark that stands on no letter, and more marks than one letter needs."""
    run, base = 0, False
    for character in value:
        if character in JOINERS:
            continue  # a joiner kept inside a word neither ends nor starts a letter
        if not _is_mark(character):
            run, base = 0, not unicodedata.category(character).startswith(("Z", "C"))
            continue
        if not base:
            raise ValidationError(_l("Please remove the accent or mark that stands on no letter."))
        run += 1
        if run > MAX_MARKS_PER_BASE:
            raise ValidationError(
                _l(
                    "Please remove the stacked accents or marks: at most %(count)d on one letter.",
                    count=MAX_MARKS_PER_BASE,
                )
            )


def _refuse_text_rules(value: str) -> None:
    _refuse_invisible(value)
    _refuse_stacked_marks(value)


def valid_name(_form: FlaskForm, field: StringField) -> None:
    """Refuse names that carry links, formulas, invisible characters or stacked marks."""
    _refuse_text_rules(field.data)
    if field.data.startswith(FORMULA_STARTS):
        raise ValidationError(_l("A name cannot begin with =, +, - or @."))
    if URL_PATTERN.search(field.data):
        raise ValidationError(_l("A name cannot contain a web address."))


def plain_text(_form: FlaskForm, field: StringField) -> None:
    """Refuse invisible and control characters (line breaks are allowed in comments)."""
    _refuse_text_rules((field.data or "").replace("\n", " ").replace("\r", " "))


def valid_email(_form: FlaskForm, field: EmailField) -> None:
    """Accept what looks like a deliverable address; the confirmation email proves it."""
    if not EMAIL_PATTERN.match(field.data):
        raise ValidationError(_l("Enter an email address like name@example.org."))
    try:
        canonical_email(field.data)
    except ValueError as error:
        raise ValidationError(_l("Enter an email address like name@example.org.")) from error


def known_country(_form: FlaskForm, field: SelectField) -> None:
    """Accept only an ISO 3166-1 code from the list."""
    if field.data not in COUNTRY_CODES:
        raise ValidationError(_l("Choose a country from the list."))


class CountrySelect(Select):
    """Render the 250 country options once per language; per request only the choice changes.

    WTForms escapes and formats every option on every render, which was half the cost of the
    petition page.
    """

    def __call__(self, field: SelectField, **attributes: object) -> Markup:
        attributes.setdefault("id", field.id)
        options = _country_options(str(get_locale() or "en"))
        if field.data in COUNTRY_CODES:
            chosen = f"<option value={field.data}>"
            options = options.replace(chosen, f"<option selected value={field.data}>", 1)
        return Markup(f"<select {html_params(name=field.name, **attributes)}>{options}</select>")  # noqa: S704


@functools.cache
def _country_options(language: str) -> str:
    with force_locale(language):
        placeholder = escape(_l("Choose a country"))
        choices = country_choices()
    # HTML lets an option's end tag go, and the quotes around a value of two letters: 250 of each
    # are 2.5 KB of every petition page.
    rendered = "".join(f"<option value={code}>{escape(name)}" for code, name in choices)
    return f'<option value="">{placeholder}</option>{rendered}'


class SignPetitionForm(Form):
    class Meta(Form.Meta):
        # Checked by petitions.public.form_token, which needs no session.
        csrf = False

    name = StringField(
        _l("Full name"),
        filters=[clean_text],
        validators=[DataRequired(_l("Enter your name.")), Length(max=120), valid_name],
    )
    email = EmailField(
        _l("Email address"),
        filters=[clean_text],
        validators=[DataRequired(_l("Enter your email address.")), Length(max=254), valid_email],
    )
    country = SelectField(
        _l("Country"),
        validators=[DataRequired(_l("Choose your country.")), known_country],
        validate_choice=False,
        widget=CountrySelect(),
    )
    city = StringField(
        _l("City or town"),
        filters=[clean_text],
        validators=[DataRequired(_l("Enter your city or town.")), Length(max=100), plain_text],
    )
    comment = TextAreaField(
        _l("Comment (optional)"),
        filters=[clean_text],
        validators=[Optional(), Length(max=1000), plain_text],
    )
    show_name = BooleanField(_l("Show my name on this page among the recent signers"))
    consent = BooleanField(
        validators=[DataRequired(_l("Tick the box to agree, or you cannot sign."))]
    )
    #: Separate from consent and unticked unless chosen: news of the petition by email.
    news = BooleanField(_l("Email me when there is news of this petition"))
    #: Hidden from people by CSS; a bot that fills every field fills this one too.
    website = StringField(_l("Leave this field empty"))

    @property
    def caught_a_bot(self) -> bool:
        return bool((self.website.data or "").strip())
