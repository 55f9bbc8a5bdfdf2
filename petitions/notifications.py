"""The emails the application writes: rendered in the recipient's language, queued in the outbox."""

from __future__ import annotations

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from petitions.models import Organiser
from petitions.services import mail
from petitions.services.accounts import RESET_LINK_AGE, reset_token
from petitions.services.signing import (
    CONFIRMATION_GRACE,
    CONFIRMATION_LINK_AGE,
    Notice,
    SignOutcome,
    confirmation_token,
)


def external_url(endpoint: str, **values: object) -> str:
    """Return an absolute link, on BASE_URL when it is set (behind proxies, from workers)."""
    base_url = current_app.config["SETTINGS"].base_url
    if base_url:
        return base_url.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def _subject(notice: Notice, title: str) -> str:
    if notice == Notice.CONFIRM:
        return _("Confirm your signature: %(title)s", title=title)
    return _("You have already signed: %(title)s", title=title)


def queue_signature_notice(outcome: SignOutcome) -> None:
    """Queue the confirmation link, or the "already signed" note, that a submission calls for."""
    if outcome.notice == Notice.NONE:
        return
    signature = outcome.signature
    petition = signature.petition
    with force_locale(signature.locale):
        context = {
            "signature": signature,
            "petition": petition,
            "petition_url": external_url("public.show_petition", slug=petition.slug),
            "link_days": CONFIRMATION_LINK_AGE.days,
            "grace_hours": int(CONFIRMATION_GRACE.total_seconds() // 3600),
        }
        if outcome.notice == Notice.CONFIRM:
            token = confirmation_token(signature)
            context["confirm_url"] = external_url("public.confirm_signature", token=token)
        name = str(outcome.notice)
        mail.enqueue(
            name,
            signature.email,
            _subject(outcome.notice, petition.title),
            render_template(f"email/{name}.txt", **context),
            render_template(f"email/{name}.html", **context),
        )


def queue_password_reset(organiser: Organiser) -> None:
    """Queue an email with a link to choose a new password."""
    context = {
        "organiser": organiser,
        "reset_url": external_url("organiser.reset_password", token=reset_token(organiser)),
        "minutes": int(RESET_LINK_AGE.total_seconds() // 60),
    }
    mail.enqueue(
        "password_reset",
        organiser.email,
        _("Choose a new password"),
        render_template("email/password_reset.txt", **context),
        None,
    )
