"""The language switcher and the sign-in page only ever send people back to our own pages."""

import pytest

from petitions.security import safe_next


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
