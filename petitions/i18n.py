"""Languages: choosing the signer's language, switching it, and showing dates and countries."""

from __future__ import annotations

import functools
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_timezone, get_timezone_location
from flask import Blueprint, Flask, current_app, has_request_context, redirect, request
from flask_babel import format_decimal, format_timedelta, get_locale
from flask_babel import lazy_gettext as _l

from petitions.models import LANGUAGES
from petitions.security import safe_next

LANGUAGE_COOKIE = "lang"
#: Each language named in itself, as a switcher shows it.
LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}
#: How long a language is kept when the visitor asks for it; otherwise it ends with the browser.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
#: Two-letter CLDR territories that are not ISO 3166-1 countries (regions, reserved codes).
NOT_COUNTRIES = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}
)

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """Pick the explicit choice from the cookie, then the browser's preference, then English."""
    if not has_request_context():
        return "en"
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


@bp.get("/language/<code>")
def choose_language(code: str):
    """Remember the chosen language until the browser closes, or a year if asked, and go back.

    A cookie that outlives the visit is a trace of it on the device, which matters to a signer
    whose phone may be searched: it is kept only when the visitor follows "remember" (`keep=1`).
    """
    response = redirect(safe_next(request.args.get("next")), code=303)
    if code in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            code,
            max_age=LANGUAGE_COOKIE_AGE if request.args.get("keep") == "1" else None,
            samesite="Lax",
            httponly=True,
            secure=current_app.config["SETTINGS"].is_production,
        )
    return response


def format_in_zone(moment: datetime, zone: str) -> str:
    """Show an instant in a petition's time zone, in the current language, to the minute."""
    local = moment.astimezone(ZoneInfo(zone))
    locale = get_locale() or Locale("en")
    return (
        f"{format_date(local, 'long', locale=locale)}, {format_time(local, 'short', locale=locale)}"
    )


def format_day_in_zone(moment: datetime, zone: str) -> str:
    """Show the day of an instant in a petition's time zone, in the current language, in full."""
    local = moment.astimezone(ZoneInfo(zone))
    return format_date(local, "long", locale=get_locale() or Locale("en"))


def format_day(day: date) -> str:
    """Show a calendar day in the current language, e.g. "20 сент. 2099 г."."""
    return format_date(day, "medium", locale=get_locale() or Locale("en"))


def zone_name(zone: str) -> str:
    """Name a time zone by its city in the current language ("Алматы" for Asia/Almaty)."""
    return _zone_name(zone, str(get_locale() or "en"))


@functools.cache
def _zone_name(zone: str, language: str) -> str:
    try:
        return get_timezone_location(get_timezone(zone), locale=language, return_city=True)
    except LookupError:  # a zone CLDR does not know: its identifier is still exact
        return zone


def country_name(code: str) -> str:
    """Return a country's name in the current language."""
    locale: Locale = get_locale() or Locale("en")
    return locale.territories.get(code.upper(), code.upper())


COUNTRY_CODES = frozenset(
    code
    for code in Locale("en").territories
    if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES
)


def country_choices() -> list[tuple[str, str]]:
    """Return (code, localised name) for every ISO 3166-1 country, sorted by name."""
    return list(_country_choices(str(get_locale() or "en")))


@functools.cache
def _country_choices(language: str) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(language).territories
    pairs = ((code, names[code]) for code in COUNTRY_CODES)
    return tuple(sorted(pairs, key=lambda pair: pair[1].casefold()))


def init_app(app: Flask) -> None:
    """Register the switcher and the template helpers."""
    app.register_blueprint(bp)

    @app.context_processor
    def languages():
        return {
            "languages": LANGUAGE_NAMES,
            "current_language": str(get_locale() or "en"),
            "site_name": _l("Petitions"),
        }

    app.jinja_env.filters["in_zone"] = format_in_zone
    app.jinja_env.filters["day"] = format_day
    app.jinja_env.filters["day_in_zone"] = format_day_in_zone
    app.jinja_env.filters["country_name"] = country_name
    app.jinja_env.filters["zone_name"] = zone_name
    app.jinja_env.filters["number"] = format_decimal
    app.jinja_env.filters["time_left"] = lambda delta: format_timedelta(
        delta, threshold=1.1, add_direction=True
    )
