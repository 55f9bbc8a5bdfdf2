"""The language switcher only ever sends people back to our own pages."""

import pytest

from petitions.i18n import COUNTRY_CODES, safe_next


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/petitions/x?a=1", "/petitions/x?a=1"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("petitions", "/"),
    ],
)
def test_safe_next(target, expected):
    assert safe_next(target) == expected


def test_country_list_is_iso_3166_without_regions():
    assert {"KZ", "RU", "GB", "XK"} <= COUNTRY_CODES
    assert not {"EU", "UN", "ZZ", "QO"} & COUNTRY_CODES
    assert len(COUNTRY_CODES) == 250


def test_wtforms_messages_follow_the_language(tmp_path):
    from flask_babel import force_locale

    from petitions.forms import _TRANSLATIONS
    from tests.conftest import make_test_app

    app = make_test_app(f"sqlite:///{tmp_path / 'x.sqlite3'}", str(tmp_path))
    with app.test_request_context():
        with force_locale("ru"):
            assert _TRANSLATIONS.gettext("This field is required.") == "Обязательное поле."
        with force_locale("en"):
            assert _TRANSLATIONS.gettext("This field is required.") == "This field is required."
