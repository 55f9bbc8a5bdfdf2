"""The PDF's words come from the gettext catalogues, the same files as every other string."""

from __future__ import annotations

import string
from dataclasses import fields

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from petitions.delivery import model
from petitions.delivery.model import ENGLISH, LABELS, Labels, labels_for
from tests.delivery_fixtures import make_rows, run
from tests.unit.test_delivery_document import draw


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_kazakh_cover_letter_line_is_the_catalogues(tmp_path):
    with open(model.TRANSLATIONS / "kk" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalogue = read_po(handle, locale="kk")
    closing = catalogue.get("Respectfully,", context="pdf:closing").string
    assert closing == "Құрметпен,"
    assert LABELS["kk"].closing == closing

    path = tmp_path / "p.pdf"
    draw(path, make_rows(3), language="kk")
    assert closing in run("pdftotext", "-f", "1", "-l", "1", path, "-").stdout


def test_a_label_edited_in_the_catalogue_reaches_the_pdf_words(tmp_path, monkeypatch):
    with open(model.TRANSLATIONS / "ru" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalogue = read_po(handle, locale="ru")
    catalogue.get("Respectfully,", context="pdf:closing").string = "С глубоким уважением,"
    compiled = tmp_path / "ru" / "LC_MESSAGES"
    compiled.mkdir(parents=True)
    with open(compiled / "messages.mo", "wb") as handle:
        write_mo(handle, catalogue)
    monkeypatch.setattr(model, "TRANSLATIONS", tmp_path)

    labels = labels_for.__wrapped__("ru")

    assert labels.closing == "С глубоким уважением,"
    assert labels.list_heading == "Подписи"


def test_labels_are_read_once_per_language():
    assert LABELS["kk"] is LABELS["kk"]
    assert list(LABELS) == ["kk", "ru", "en"]
    with pytest.raises(KeyError):
        LABELS["de"]


def test_labels_sharing_english_words_keep_their_own_translation():
    assert ENGLISH.signatures == ENGLISH.list_heading == "Signatures"
    assert LABELS["kk"].signatures == "Қолдар"
    assert LABELS["kk"].list_heading == "Қол қойғандар"


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_every_translated_label_keeps_the_english_placeholders(language):
    labels = LABELS[language]
    for field in fields(Labels):
        english, translated = getattr(ENGLISH, field.name), getattr(labels, field.name)
        assert _placeholders(translated) == _placeholders(english), field.name
        assert translated != english, (language, field.name)
