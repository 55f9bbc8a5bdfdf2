"""Security headers on every kind of response, and the flags of every cookie we set."""

import re
from pathlib import Path

import pytest

from petitions.security import CONTENT_SECURITY_POLICY
from tests.helpers import csrf_token, signing_data

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.fixture(params=["development", "production"])
def environment(request):
    return request.param


@pytest.fixture
def app_overrides(environment):
    return {
        "PETITIONS_ENV": environment,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SIGN_RATE_LIMIT": "1 per minute",
    }


def _directives(policy: str) -> dict[str, list[str]]:
    parsed = (part.split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in parsed}


def test_the_policy_allows_only_our_origin_and_no_inline_code():
    directives = _directives(CONTENT_SECURITY_POLICY)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert not re.search(r"unsafe-|\*|https?:", CONTENT_SECURITY_POLICY)


def _sample(client, petition) -> dict[str, object]:
    """One response of each kind: pages, errors, JSON, static files, a 413 and a 429."""
    slug = petition.slug
    token = csrf_token(client, f"/petitions/{slug}")
    sign = [
        client.post(f"/petitions/{slug}/sign", data=signing_data(csrf_token=token))
        for _ in range(2)
    ]
    return {
        "home": client.get("/"),
        "petition": client.get(f"/petitions/{slug}"),
        "login": client.get("/organiser/login"),
        "not found": client.get("/nowhere"),
        "method not allowed": client.delete(f"/petitions/{slug}"),
        "json": client.get(f"/petitions/{slug}.json"),
        "json 404": client.get("/petitions/nowhere.json"),
        "deliveries": client.get(f"/petitions/{slug}/deliveries.json"),
        "css": client.get("/static/css/site.css"),
        "font": client.get("/static/fonts/DejaVuSans.ttf"),
        "too large": client.post("/organiser/login", data={"email": "x" * 70_000}),
        "signed": sign[0],
        "rate limited": sign[1],
    }


def test_every_kind_of_response_carries_the_headers(client, make_petition, environment):
    responses = _sample(client, make_petition())
    statuses = {name: response.status_code for name, response in responses.items()}
    assert statuses == {
        "home": 200,
        "petition": 200,
        "login": 200,
        "not found": 404,
        "method not allowed": 405,
        "json": 200,
        "json 404": 404,
        "deliveries": 200,
        "css": 200,
        "font": 200,
        "too large": 413,
        "signed": 303,
        "rate limited": 429,
    }
    for name, response in responses.items():
        headers = response.headers
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, name
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["Referrer-Policy"] == "no-referrer", name
        assert headers["X-Frame-Options"] == "DENY", name
        if environment == "production":
            assert headers["Strict-Transport-Security"].startswith("max-age=63072000"), name
        else:
            assert "Strict-Transport-Security" not in headers, name
        response.close()  # static files are streamed from an open file


def _cookies(response) -> dict[str, str]:
    return {value.split("=", 1)[0]: value for value in response.headers.getlist("Set-Cookie")}


def test_every_cookie_is_httponly_samesite_and_secure_in_production(client, environment):
    cookies = {
        **_cookies(client.get("/organiser/login")),
        **_cookies(client.get("/language/ru?next=/&keep=1")),
    }
    assert set(cookies) == {"session", "lang"}
    for name, cookie in cookies.items():
        assert "HttpOnly" in cookie, name
        assert "SameSite=Lax" in cookie, name
        assert ("Secure" in cookie) == (environment == "production"), name


def test_the_organisers_browser_cookie_is_httponly_samesite_and_secure_in_production(
    client, make_account, environment
):
    from tests.conftest import PASSWORD
    from tests.helpers import login

    organiser = make_account()
    cookies = _cookies(login(client, organiser.email, PASSWORD))
    assert set(cookies) == {"session", "organiser_browser"}
    for name, cookie in cookies.items():
        assert "HttpOnly" in cookie, name
        assert "SameSite=Lax" in cookie, name
        assert ("Secure" in cookie) == (environment == "production"), name
    assert "Path=/organiser" in cookies["organiser_browser"]


def test_no_template_carries_inline_script_style_or_event_handler():
    offences = []
    for template in TEMPLATES.rglob("*.html"):
        if template.parent.name == "email":
            continue  # mail clients, not browsers under our CSP, read these
        text = template.read_text(encoding="utf-8")
        for pattern in (r"<script(?![^>]*\ssrc=)", r"<style", r"\sstyle=", r"\son[a-z]+="):
            offences += [f"{template.name}: {pattern}" for _ in re.finditer(pattern, text)]
    assert offences == []
