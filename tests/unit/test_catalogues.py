"""Every string shown to people exists in Kazakh, Russian and English; compiled files are fresh."""

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "petitions" / "translations"
LANGUAGES = ["kk", "ru", "en"]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "_l": None,
    "lazy_gettext": None,
    # The PDF's labels (petitions/delivery/model.py), each with a context of its own.
    "N_": ((1, "c"), 2),
}


def _catalogue(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=language)


def _key(message_id, context) -> tuple[str | None, str]:
    return context, message_id if isinstance(message_id, str) else message_id[0]


def _source_messages() -> set[tuple[str | None, str]]:
    method_map = [
        ("petitions/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
    ]
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        ROOT, method_map, keywords=KEYWORDS
    ):
        found.add(_key(message, context))
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_has_every_string_of_the_source(language):
    catalogue = _catalogue(language)
    missing = _source_messages() - {_key(m.id, m.context) for m in catalogue if m.id}
    assert not missing, f"run `make translations` and translate: {sorted(missing)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_has_no_untranslated_or_fuzzy_entry(language):
    catalogue = _catalogue(language)
    untranslated = [
        m.id
        for m in catalogue
        if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])
    ]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert not untranslated, untranslated
    assert not fuzzy, fuzzy


def _hashable(value):
    return tuple(value) if isinstance(value, list | tuple) else value


def _entries(messages) -> dict:
    return {(m.context, _hashable(m.id)): _hashable(m.string) for m in messages if m.id}


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogue_matches_its_source(language):
    compiled = TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo"
    fresh = io.BytesIO()
    write_mo(fresh, _catalogue(language))
    fresh.seek(0)
    with open(compiled, "rb") as handle:
        on_disk = _entries(read_mo(handle))
    expected = _entries(read_mo(fresh))
    assert on_disk == expected, "run `make translations` to recompile the catalogues"


def test_english_is_filled_from_the_source_with_both_plural_forms():
    from babel.messages.catalog import Catalog

    from petitions.catalogues import fill_from_source

    catalogue = Catalog(locale="en")
    catalogue.add("Sign")
    catalogue.add(("%(num)s signature", "%(num)s signatures"))
    catalogue.add("Draft saved.", "Your draft is saved.")  # a wording edited in the catalogue
    assert fill_from_source(catalogue) == 2
    assert catalogue["Sign"].string == "Sign"
    assert catalogue["%(num)s signature"].string == ("%(num)s signature", "%(num)s signatures")
    assert catalogue["Draft saved."].string == "Your draft is saved."
