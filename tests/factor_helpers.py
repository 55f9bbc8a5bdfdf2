"""Acting as an organiser with an authenticator app: read the secret off the set-up page, as a
person types it into the app, and make codes from it with pyotp at the test's clock."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pyotp
from flask.testing import FlaskClient

from tests.conftest import PASSWORD
from tests.helpers import csrf_token, login

SET_UP = "/organiser/account/two-factor"
CODE_PAGE = "/organiser/login/code"
SECRET_PATTERN = re.compile(r'<code class="factor-secret" id="factor-secret">([A-Z2-7 ]+)</code>')
URI_PATTERN = re.compile(r'<code class="factor-uri" id="factor-uri">([^<]+)</code>')
RECOVERY_PATTERN = re.compile(r"<li><code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code></li>")
WRONG = (
    "This code is not right. Enter the code your authenticator app shows now, or one of your "
    "recovery codes."
)
REPLAYED = "This code has already been used. Wait for your app to show the next one."
USED = "This recovery code has already been used: each one works once."


class Clock:
    """The time every second-factor decision is made at, moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **amount: float) -> None:
        self.now += timedelta(**amount)


def secret_on_page(page: str) -> str:
    """Read the key shown in groups of four, as an organiser types it into the app."""
    match = SECRET_PATTERN.search(page)
    assert match, "no secret on the set-up page"
    return match.group(1).replace(" ", "")


def code(secret: str, clock: Clock, steps: int = 0) -> str:
    """The code the app shows at the clock's time (or `steps` periods from it)."""
    return pyotp.TOTP(secret).at(clock.now, counter_offset=steps)


def wrong_code(secret: str, clock: Clock) -> str:
    """A six-digit code that none of the accepted steps shows."""
    taken = {code(secret, clock, steps) for steps in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in taken)


def send_code(client: FlaskClient, path: str, value: str, form_page: str | None = None, **extra):
    token = csrf_token(client, form_page or path)
    return client.post(path, data={"csrf_token": token, "code": value, **extra})


def turn_on(client: FlaskClient, clock: Clock) -> tuple[str, list[str]]:
    """Set up the authenticator on a signed-in client; return the secret and recovery codes."""
    secret = secret_on_page(client.get(SET_UP).get_data(as_text=True))
    answer = send_code(client, SET_UP, code(secret, clock))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    codes = RECOVERY_PATTERN.findall(answer.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def sign_in_with_code(client: FlaskClient, email: str, secret: str, clock: Clock):
    """Sign in with the password, then the app's code of the next step (the last one is used)."""
    assert login(client, email, PASSWORD).headers["Location"] == CODE_PAGE
    clock.advance(seconds=30)
    return send_code(client, CODE_PAGE, code(secret, clock))


def uri_on_page(page: str) -> str:
    match = URI_PATTERN.search(page)
    assert match, "no otpauth:// address on the set-up page"
    return html.unescape(match.group(1))
