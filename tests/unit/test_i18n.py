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
