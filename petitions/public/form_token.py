"""The signing form's CSRF token without a session: a signed double-submit cookie.

The page sets a random value in a cookie of its own (HttpOnly, SameSite=Lax) and puts
HMAC(SECRET_KEY, value) in the form; a POST must bring both, and they must match. Another site
can neither read the cookie nor compute the HMAC, so it cannot forge a signature from a visitor's
browser; and, unlike Flask-WTF's session-based token, a signer's page view writes no session:
the page can be cached and served with nothing but this one value put in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from flask import Response, after_this_request, current_app, request

COOKIE = "petitions_form"
_VALUE = re.compile(r"^[0-9a-f]{32}$")
#: Long enough for a signer who opens the page and signs the next day.
COOKIE_AGE = 7 * 24 * 3600


def _mac(value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(key, b"sign-form:" + value.encode("ascii"), hashlib.sha256).hexdigest()


def issue() -> str:
    """Return the token for this visitor's form, setting their cookie if they have none yet."""
    value = request.cookies.get(COOKIE, "")
    if not _VALUE.match(value):
        value = secrets.token_hex(16)
        settings = current_app.config["SETTINGS"]

        @after_this_request
        def remember(response: Response) -> Response:
            response.set_cookie(
                COOKIE,
                value,
                max_age=COOKIE_AGE,
                httponly=True,
                samesite="Lax",
                secure=settings.is_production,
            )
            return response

    return _mac(value)


def accepted(submitted: str | None) -> bool:
    """Tell whether a POST carries the token that matches its cookie."""
    value = request.cookies.get(COOKIE, "")
    if not submitted or not _VALUE.match(value):
        return False
    return hmac.compare_digest(_mac(value), submitted)
