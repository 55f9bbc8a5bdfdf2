"""The emails the application writes: rendered in the recipient's language, queued in the outbox."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from petitions.extensions import db
from petitions.i18n import format_day, format_day_in_zone, format_in_zone
from petitions.models import (
    INVITATION_AGE,
    Invitation,
    Membership,
    Organiser,
    OrganiserSession,
    OutboxMessage,
    Signature,
    utcnow,
)
from petitions.onion import names_onion_host
from petitions.rendering import render_markdown
from petitions.services import mail, news, queries
from petitions.services.accounts import RESET_LINK_AGE, reset_token
from petitions.services.milestones import TeamNotice
from petitions.services.receipts import code_of
from petitions.services.sessions import browser_label, known_language
from petitions.services.signing import (
    CONFIRMATION_GRACE,
    CONFIRMATION_LINK_AGE,
    Notice,
    SignOutcome,
    confirmation_token,
    withdrawal_token,
)
from petitions.services.subscriptions import unsubscribe_token


def external_url(endpoint: str, **values: object) -> str:
    """Return an absolute link on BASE_URL, whatever host the request named."""
    return links_on(current_app.config["SETTINGS"].base_url)(endpoint, **values)


def links_on(base_url: str) -> Callable[..., str]:
    """Return a builder of absolute links on a base URL, for use outside any request.

    The URL map is bound the way Flask binds it from SERVER_NAME, APPLICATION_ROOT and
    PREFERRED_URL_SCHEME when there is no request; here the three come from the base URL
    recorded with the message, so the worker needs no request of its own.
    """
    parts = urlsplit(base_url)
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "https"
    )
    return lambda endpoint, **values: adapter.build(endpoint, values, force_external=True)


def signer_base_url() -> str:
    """Return the base of the links mailed to a signer: the onion service's address when they
    signed on it (where the open site may be blocked), BASE_URL otherwise."""
    settings = current_app.config["SETTINGS"]
    if names_onion_host():
        return settings.onion_base_url
    return settings.base_url


def _subject(notice: Notice, title: str) -> str:
    if notice == Notice.CONFIRM:
        return _("Confirm your signature: %(title)s", title=title)
    return _("You have already signed: %(title)s", title=title)


def queue_signature_notice(outcome: SignOutcome) -> None:
    """Queue the confirmation link, or the "already signed" note, that a submission calls for.

    Only who and what go into the outbox now; the mail worker writes the email when it sends it
    (`render_message`), off the signer's request, and with the signature's newest link.
    """
    if outcome.notice == Notice.NONE:
        return
    base_url = signer_base_url()
    mail.enqueue(
        str(outcome.notice),
        outcome.email,
        payload={"signature_id": outcome.signature_id, "base_url": base_url},
        signature_id=outcome.signature_id,
        sealed=outcome.sealed,
    )


def _signature_email(
    kind: str, signature: Signature, link: Callable[..., str]
) -> tuple[str, str, str]:
    petition = signature.petition
    context = {
        "signature": signature,
        "petition": petition,
        # A sealed petition's server knows no name to greet with (only one shown publicly, which
        # the email does not repeat either: the outbox keeps as little as it can).
        "greeting_name": None if petition.is_sealed else signature.name,
        "petition_url": link("public.show_petition", slug=petition.slug),
        "link_days": CONFIRMATION_LINK_AGE.days,
        "grace_hours": int(CONFIRMATION_GRACE.total_seconds() // 3600),
    }
    if kind == Notice.CONFIRM:
        token = confirmation_token(signature)
        context["confirm_url"] = link("public.confirm_signature", token=token)
    # Every email a signer gets lets them change their mind while the petition is open.
    context["withdraw_url"] = link("public.withdraw_signature", token=withdrawal_token(signature))
    # and find their receipt; signatures made before receipts have no leaf to be found by.
    if signature.receipt_leaf is not None:
        code = code_of(signature.public_id)
        context["receipt_url"] = link("public.show_receipt", slug=petition.slug, code=code)
    return (
        _subject(Notice(kind), petition.title),
        render_template(f"email/{kind}.txt", **context),
        render_template(f"email/{kind}.html", **context),
    )


def render_message(kind: str, payload: dict) -> tuple[str, str, str | None] | None:
    """Write a queued email: (subject, text, html), or None if there is nothing left to say."""
    if kind in _TEAM_KINDS:
        return _team_email(TeamNotice(kind), payload)
    signature = db.session.get(Signature, payload.get("signature_id"))
    if signature is None or kind not in (Notice.CONFIRM, Notice.ALREADY_SIGNED):
        return None
    with force_locale(signature.locale):
        return _signature_email(kind, signature, links_on(payload["base_url"]))


_TEAM_KINDS = frozenset(str(notice) for notice in TeamNotice)


def _team_subject(notice: TeamNotice, title: str) -> str:
    if notice == TeamNotice.GOAL_REACHED:
        return _("Goal reached: %(title)s", title=title)
    return _("Signing has closed: %(title)s", title=title)


def _team_email(notice: TeamNotice, payload: dict) -> tuple[str, str, None] | None:
    """Write a team member's email about their petition, in the language of the browser they
    used last (organisers have no language of their own), else the petition's."""
    membership = db.session.scalar(
        sa.select(Membership).where(
            Membership.petition_id == payload.get("petition_id"),
            Membership.organiser_id == payload.get("organiser_id"),
        )
    )
    if membership is None:
        return None  # they left the team, or the petition is gone: nothing to tell them
    petition, organiser = membership.petition, membership.organiser
    now = utcnow()
    with force_locale(known_language(organiser.id) or petition.language):
        context = {
            "organiser": organiser,
            "petition": petition,
            "count": queries.confirmed_count(petition),
            "is_open": petition.accepts_signatures_at(now),
            "closes_at": format_in_zone(petition.closes_at, petition.timezone),
            "closed_at": format_in_zone(
                petition.collection_ended_at(now) or petition.closes_at, petition.timezone
            ),
            "grace_hours": int(CONFIRMATION_GRACE.total_seconds() // 3600),
            "dashboard_url": external_url("organiser.show_petition", petition_id=petition.id),
        }
        text = render_template(f"email/{notice}.txt", **context)
        return _team_subject(notice, petition.title), text, None


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
        subject=_("Choose a new password"),
        text=render_template("email/password_reset.txt", **context),
    )


def queue_new_browser(organiser: Organiser, session: OrganiserSession, language: str) -> None:
    """Queue the warning that the account was signed into from a browser it had not used.

    Written in `language`, the one last used in a browser the organiser is known by, since the
    new browser may be someone else's.
    """
    zone = current_app.config["SETTINGS"].default_timezone
    with force_locale(language):
        context = {
            "organiser": organiser,
            "when": format_in_zone(session.created_at, zone),
            "zone": zone,
            "browser": browser_label(session.browser, session.platform),
            "login_url": external_url("organiser.login"),
            "account_url": external_url("organiser.edit_account"),
            "reset_url": external_url("organiser.request_reset"),
        }
        mail.enqueue(
            "new_browser",
            organiser.email,
            subject=_("A new browser signed in to your organiser account"),
            text=render_template("email/new_browser.txt", **context),
        )


def queue_invitation(invitation: Invitation, token: str, inviter: Organiser) -> None:
    """Queue the email that invites an address to a petition's team, in the inviter's language."""
    context = {
        "inviter": inviter,
        "petition": invitation.petition,
        "role": invitation.role.label,
        "accept_url": external_url("organiser.accept_invitation", token=token),
        "days": INVITATION_AGE.days,
    }
    title = invitation.petition.title
    mail.enqueue(
        "invitation",
        invitation.email,
        subject=_("Invitation to the team of a petition: %(title)s", title=title),
        text=render_template("email/invitation.txt", **context),
    )


def render_news(message: OutboxMessage) -> mail.Email | str:
    """Write a news email from its subscription and item now, or say why it is dropped."""
    found = news.letter(message)
    if isinstance(found, str):
        return found
    link = links_on(current_app.config["SETTINGS"].base_url)
    unsubscribe_url = link(
        "public.unsubscribe_page", token=unsubscribe_token(found.subscription.public_id)
    )
    with force_locale(found.subscription.locale):
        subject, context = _news_context(found)
        context |= {
            "locale": found.subscription.locale,
            "petition_url": link("public.show_petition", slug=found.petition.slug),
            "unsubscribe_url": unsubscribe_url,
        }
        text = render_template("email/news.txt", **context)
        html = render_template("email/news.html", **context)
    return mail.Email(
        found.subscription.email,
        subject,
        text,
        html,
        headers=(
            # RFC 8058: a mail program may offer unsubscribing with one POST to this address.
            ("List-Unsubscribe", f"<{unsubscribe_url}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("Precedence", "bulk"),
        ),
    )


def _news_context(found: news.Letter) -> tuple[str, dict]:
    """Return the subject of a news email and what its templates show of the item."""
    petition, update, outcome = found.petition, found.update, found.outcome
    if update is not None:
        subject = _(
            "News of the petition “%(title)s”: %(update)s",
            title=petition.title,
            update=update.title,
        )
        return subject, {
            "petition": petition,
            "update": update,
            "posted_on": format_day_in_zone(update.posted_at, petition.timezone),
            "body_html": render_markdown(update.body),
        }
    label = str(outcome.outcome.label)
    subject = _(
        "The answer to the petition “%(title)s”: %(outcome)s", title=petition.title, outcome=label
    )
    safe_link = outcome.link if urlsplit(outcome.link or "").scheme in {"http", "https"} else None
    return subject, {
        "petition": petition,
        "outcome": outcome,
        "outcome_label": label,
        "answered_on": format_day(outcome.answered_on) if outcome.answered_on else None,
        "outcome_link": safe_link,
    }
