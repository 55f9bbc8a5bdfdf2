"""Organisers' buttons that send an update, or the outcome, to the petition's subscribers.

Guarded like every organiser page (`access.PETITION_ENDPOINTS`): owners and editors only, and
another organiser's petition or update answers 404. Each item goes out once; the first chunk is
queued at once and the mail worker queues the rest and sends at NEWS_RATE_LIMIT.
"""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from petitions.extensions import db
from petitions.models import utcnow
from petitions.organiser import bp
from petitions.organiser.forms import ConfirmForm
from petitions.organiser.views import _petition
from petitions.services import news


@bp.post("/petitions/<int:petition_id>/news/updates/<int:update_id>/send")
def send_update_news(petition_id: int, update_id: int):
    """Email one of the petition's updates to its subscribers."""
    return _send(update_id)


@bp.post("/petitions/<int:petition_id>/news/outcome/send")
def send_outcome_news(petition_id: int):
    """Email the petition's outcome to its subscribers."""
    return _send(None)


def _send(update_id: int | None):
    petition = _petition()
    try:
        item = news.item_of(petition, update_id)
    except news.NewsError:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            record = news.broadcast(petition, item, current_user, utcnow())
        except news.AlreadySent:
            db.session.rollback()
            flash(_("This was sent to the subscribers already: each item is sent once."), "error")
        else:
            count = record.queued if record.queued_at else news.active_count(petition.id)
            db.session.commit()
            flash(
                ngettext(
                    "Sending to %(count)s subscriber: the emails go out at the pace the server "
                    "allows, and this page counts them.",
                    "Sending to %(count)s subscribers: the emails go out at the pace the server "
                    "allows, and this page counts them.",
                    count,
                    count=format_decimal(count),
                ),
                "info",
            )
    return redirect(
        url_for("organiser.show_petition", petition_id=petition.id, _anchor="news"), 303
    )
