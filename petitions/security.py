"""Response headers that keep pages from being framed, sniffed or made to load foreign code,
and the checks that keep requests and redirects within bounds."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_to_bytes, urlsplit

from flask import Flask, Response, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import SecurityError

#: Only our own origin may supply scripts, styles, images, fonts and form targets.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
HSTS = "max-age=63072000; includeSubDomains"


def add_security_headers(response: Response) -> Response:
    """Set the security headers on every response."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config["SETTINGS"].is_production:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def safe_next(target: str | None) -> str:
    """Return a local path to go back to; anything pointing elsewhere becomes the home page."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target:
        return "/"
    return target


def _carries_nul(values: object) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


def refuse_nul_characters() -> Response | None:
    """Refuse a request with a NUL character anywhere in its address or form, before any view.

    No name, address or text of a person contains NUL, and PostgreSQL cannot store or even
    compare it in text: let through, it would turn a lookup into a database error.
    """
    from petitions.errors import render_error

    if "\x00" in request.path or _carries_nul(request.args) or _carries_nul(request.form):
        return render_error(400, _("The request contained a NUL character, which we never accept."))
    return None


def _is_utf8(encoded: bytes) -> bool:
    """Tell whether a query string or form body decodes, once unquoted, as valid UTF-8."""
    try:
        unquote_to_bytes(encoded.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _refusal(status: int, message: str) -> Response:
    from petitions.errors import render_error

    return render_error(status, message)


#: The only routes that take an uploaded file, and the one field each takes it in: a sealing
#: public key, read as one line of text; a list of signature ids (the unsealed rows CSV); a
#: paper sheet's scan.
FILE_ENDPOINTS = {
    "organiser.seal_petition": frozenset({"key_file"}),
    "organiser.invalidate_signature_ids": frozenset({"id_file"}),
    # A paper sheet's scan or photo: only its SHA-256 is kept (services.paper.check_scan).
    "organiser.enter_paper_sheet": frozenset({"scan"}),
}


def refuse_unreadable_input() -> Response | None:
    """Refuse text that is not valid UTF-8, and files, on every route, before any view.

    Werkzeug decodes the address and the form with errors="replace": bytes that are not UTF-8,
    whether raw or percent-encoded, would reach the forms as U+FFFD and be stored so. The bytes
    are judged here, before parsing. Only the routes in FILE_ENDPOINTS take a file (each reads
    it as text itself); anywhere else a file part where text is expected would reach the text
    filters as a file object.
    """
    if not _is_utf8(request.query_string):
        return _refusal(400, _("The request was not valid UTF-8 text, which we never accept."))
    if request.mimetype == "application/x-www-form-urlencoded":
        # Cached: the form is parsed from the same bytes afterwards.
        if not _is_utf8(request.get_data(cache=True)):
            return _refusal(400, _("The request was not valid UTF-8 text, which we never accept."))
    elif set(request.files) - FILE_ENDPOINTS.get(request.endpoint, frozenset()):
        return _refusal(400, _("This form takes no files: please send text only."))
    elif any("\ufffd" in value for _key, value in request.form.items(multi=True)):
        # A multipart part's bytes are decoded by Werkzeug before we see them: a replacement
        # character there is the only trace of bytes that were not UTF-8.
        return _refusal(400, _("The request was not valid UTF-8 text, which we never accept."))
    return None


class RedactClientAddress(logging.Filter):
    """Drop the client address that the development server puts at the start of each line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _LEADING_ADDRESS.sub("-", record.msg, count=1)
        return True


_LEADING_ADDRESS = re.compile(r"^[0-9A-Fa-f:.]+(?= - - \[)")


def refuse_unknown_host() -> Response | None:
    """Answer a plain 400 to a request whose Host is not one of TRUSTED_HOSTS, before all else.

    Flask could not bind the URL map to such a host, so nothing that builds a link may run:
    no limiter, no view, no error page.
    """
    if isinstance(request.routing_exception, SecurityError):
        return Response(_("Bad request"), status=400, mimetype="text/plain")
    return None


def init_app(app: Flask) -> None:
    """Attach the headers to every response, and keep addresses out of the request log."""
    app.after_request(add_security_headers)
    # Before the CSRF check parses the form: the body's bytes are still unread.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unreadable_input)
    # First of all the before-request functions, the limiter's too: for an untrusted host Flask
    # binds no URL map, so nothing after this could even draw its error page.
    app.before_request_funcs[None].insert(0, refuse_unknown_host)
    app.before_request(refuse_nul_characters)
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactClientAddress) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(RedactClientAddress())
