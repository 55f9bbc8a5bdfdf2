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
#: Directional overrides and isolates can make a name read differently from what it is.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


def clean_text(value: str | None) -> str:
    """Normalise to NFC and trim; the same person's name is stored one way."""
    return unicodedata.normalize("NFC", value or "").strip()


def _refuse_invisible(value: str) -> None:
    for character in value:
        if unicodedata.category(character) == "Cc" or character in BIDI_CONTROLS:
            raise ValidationError(_l("Please remove invisible or control characters."))


def valid_name(_form: FlaskForm, field: StringField) -> None:
    """Refuse names that carry links, formulas or invisible characters."""
    _refuse_invisible(field.data)
    if field.data.startswith(FORMULA_STARTS):
        raise ValidationError(_l("A name cannot begin with =, +, - or @."))
    if URL_PATTERN.search(field.data):
        raise ValidationError(_l("A name cannot contain a web address."))


def plain_text(_form: FlaskForm, field: StringField) -> None:
    """Refuse invisible and control characters (line breaks are allowed in comments)."""
    _refuse_invisible((field.data or "").replace("\n", "").replace("\r", ""))


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
    #: Hidden from people by CSS; a bot that fills every field fills this one too.
    website = StringField(_l("Leave this field empty"))

    @property
    def caught_a_bot(self) -> bool:
        return bool((self.website.data or "").strip())
