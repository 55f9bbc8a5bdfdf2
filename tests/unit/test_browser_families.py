"""Browsers are named by family and system from a short table; nothing else of the header."""

import pytest

from petitions.services.sessions import Browser, browser_of, is_token, new_token


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (
            "Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0",
            Browser("Firefox", "Android"),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            Browser("Chrome", "Windows"),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
            Browser("Edge", "Windows"),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            Browser("Safari", "iOS"),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            Browser("Chrome", "iOS"),
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.5 Safari/605.1.15",
            Browser("Safari", "macOS"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            Browser("Samsung Internet", "Android"),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 YaBrowser/24.12.0.0 Safari/537.36",
            Browser("Yandex Browser", "Windows"),
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
            Browser("Opera", "Linux"),
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            Browser("Chrome", "ChromeOS"),
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101", Browser(None, "Linux")),
        ("curl/8.5.0", Browser(None, None)),
        ("", Browser(None, None)),
        ("\u202eFirefox/1" + "x" * 10_000, Browser("Firefox", None)),
    ],
)
def test_a_browser_is_named_by_family_and_system(user_agent, expected):
    assert browser_of(user_agent) == expected


def test_random_ids_are_43_url_safe_characters_and_nothing_else_is_taken_for_one():
    token = new_token()
    assert is_token(token)
    assert len({new_token() for _ in range(100)}) == 100
    for value in (None, "", token[:-1], token + "A", token[:-1] + "=", token[:-1] + "é"):
        assert not is_token(value), value
