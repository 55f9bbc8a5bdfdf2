"""Error pages: every failure answers a readable page (or JSON for the API), never a traceback."""

from __future__ import annotations

import contextlib
import logging
import time

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from petitions.extensions import db, limiter

log = logging.getLogger("petitions")

#: Exceptions that mean the database cannot be reached right now, not that the code is wrong.
DATABASE_OUTAGES = (OperationalError, InterfaceError, PoolTimeoutError)


def _wants_json() -> bool:
    return request.blueprint == "api" or request.path.endswith(".json")


def _titles() -> dict[int, str]:
    return {
        400: _("Bad request"),
        403: _("Not allowed"),
        404: _("Page not found"),
        405: _("Method not allowed"),
        410: _("No longer available"),
        413: _("Too much data"),
        429: _("Too many requests"),
        500: _("Something went wrong"),
        503: _("Temporarily unavailable"),
    }


def _explanations() -> dict[int, str]:
    return {
        400: _("The form could not be read. Please go back, reload the page and try again."),
        404: _("There is no page at this address. It may have moved, or the link is wrong."),
        413: _("The form sent more data than we accept. Please shorten it and try again."),
        429: _("Too many attempts from your network. Please wait a little and try again."),
        500: _("We could not finish your request. Nothing was saved. Please try again later."),
        503: _(
            "The service is briefly unavailable. Nothing was lost. Please try again in a "
            "few minutes."
        ),
    }


def render_error(status: int, message: str | None = None) -> Response:
    """Answer an error page (or JSON) for a status code."""
    title = _titles().get(status, _("Error"))
    message = message or _explanations().get(status, "")
    if _wants_json():
        body = jsonify(error=title, message=message, status=status)
    else:
        body = render_template("errors/error.html", status=status, title=title, message=message)
    return make_response(body, status)


def _handle_http(error: HTTPException) -> Response | HTTPException:
    if error.code is None or error.code < 400:
        return error
    response = render_error(error.code)
    if error.code == 429:
        response.headers["Retry-After"] = str(_seconds_until_reset())
    return response


def _seconds_until_reset() -> int:
    """Say when the breached limit lets the client in again.

    Flask-Limiter's own headers are off (they cost a storage round trip on every allowed request),
    so the one answer that needs Retry-After asks for it here, once.
    """
    breached = limiter.current_limit
    if breached is None:
        return 60
    # reset_at is rounded up to the next second; never say more than the limit's own window.
    return max(1, min(breached.limit.get_expiry(), breached.reset_at - int(time.time())))


def _handle_database_outage(error: Exception) -> Response:
    log.error("database unavailable: %s", type(error).__name__)
    with contextlib.suppress(DATABASE_OUTAGES):
        db.session.rollback()
    response = render_error(503)
    response.headers["Retry-After"] = "30"
    return response


def init_app(app: Flask) -> None:
    """Register the error handlers; Flask turns any other exception into a logged 500."""
    app.register_error_handler(HTTPException, _handle_http)
    for outage in DATABASE_OUTAGES:
        app.register_error_handler(outage, _handle_database_outage)
