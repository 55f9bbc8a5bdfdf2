"""Helpers that act as a signer would: read the form's CSRF token, post the form."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
LINK_PATTERN = re.compile(r"https?://\S+/signatures/confirm/(\S+)")


def csrf_token(client: FlaskClient, path: str) -> str:
    """Open a page as a browser would and return the CSRF token of its form."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_PATTERN.search(page) or re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def link_form_token(client: FlaskClient) -> str:
    """Return a good token for the confirm and withdraw buttons, as their pages would give."""
    from petitions.public import form_token

    with client.application.test_request_context():
        return form_token.issue(form_token.LINK)


def signing_data(**fields: Any) -> dict[str, Any]:
    data = {
        "name": "Әлия Қасымқызы Үмбетова",
        "email": "aliya@example.org",
        "country": "KZ",
        "city": "Алматы",
        "consent": "y",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def sign(client: FlaskClient, slug: str, headers: dict | None = None, **fields: Any):
    """Fetch the petition page, then post the signing form with its token."""
    token = csrf_token(client, f"/petitions/{slug}")
    data = signing_data(csrf_token=token, **fields)
    return client.post(f"/petitions/{slug}/sign", data=data, headers=headers or {})


def confirm_path(text: str) -> str:
    """Return the path of the confirmation link found in an email's text."""
    match = LINK_PATTERN.search(text)
    assert match, "no confirmation link in the email"
    return f"/signatures/confirm/{match.group(1)}"


def login(client: FlaskClient, email: str, password: str):
    """Sign in through the real form."""
    token = csrf_token(client, "/organiser/login")
    return client.post(
        "/organiser/login", data={"csrf_token": token, "email": email, "password": password}
    )


def post_form(client: FlaskClient, path: str, data: dict[str, Any] | None = None, form_page=None):
    """Post to an organiser action with a CSRF token taken from a page the organiser sees."""
    token = csrf_token(client, form_page or "/organiser/petitions/new")
    return client.post(path, data={"csrf_token": token, **(data or {})})


def written_email(message) -> tuple[str, str, str | None]:
    """Return (subject, text, html) of a queued email, writing it as the mail worker would."""
    import json

    from petitions.notifications import render_message

    if message.body_text is not None:
        return message.subject, message.body_text, message.body_html
    return render_message(message.kind, json.loads(message.payload))


#: A value for each id an organiser route's address may name besides the petition's.
_ROUTE_IDS = {
    "delivery_id": 1,
    "invitation_id": 1,
    "organiser_id": 1,
    "session_id": 1,
    "signature_id": 1,
    "passkey_id": 1,
    "update_id": 1,
}


def route_path(rule, petition_id: int) -> str:
    """Build a URL rule's path for this petition, with 1 for any other id it names."""
    values = {"petition_id": petition_id, **_ROUTE_IDS}
    return rule.build({name: values[name] for name in rule.arguments})[1]
