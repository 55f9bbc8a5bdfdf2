"""The base of every form: Flask-WTF's, with WTForms' own messages loaded once per language.

Flask-WTF reads WTForms' message catalogue from disk for every request that builds a form; on
the signing path that was about a tenth of a signature's cost. The catalogues do not change while
the process runs, so each language's is loaded once.
"""

from __future__ import annotations

import functools

from babel import support
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.i18n import messages_path


@functools.cache
def _wtforms_translations(language: str) -> support.Translations:
    return support.Translations.load(messages_path(), [language], domain="wtforms")


class _CachedTranslations:
    """WTForms' messages in the current request's language."""

    def gettext(self, string: str) -> str:
        return _wtforms_translations(str(get_locale() or "en")).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_translations(str(get_locale() or "en")).ungettext(singular, plural, n)


_TRANSLATIONS = _CachedTranslations()


class Form(FlaskForm):
    """A Flask-WTF form (CSRF included) whose built-in messages follow the signer's language."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form: FlaskForm) -> _CachedTranslations:
            return _TRANSLATIONS

        def render_field(self, field: Field, render_kw: dict) -> str:
            # A page may hold several forms, each with its hidden token: an id on each would
            # repeat on the page, and nothing points at the token by id.
            if field.type == "CSRFTokenField":
                render_kw = {**render_kw, "id": False}
            return super().render_field(field, render_kw)
