"""Organisers' pages for what happened next: a petition's updates, and the recipient's answer.

Owners and editors use them (`petitions.organiser.access`). An update of another petition, or
one removed, answers 404 like a petition of another team.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from petitions.extensions import db
from petitions.models import Petition, PetitionUpdate, utcnow
from petitions.organiser import bp
from petitions.organiser.forms import ConfirmForm, OutcomeForm, UpdateForm
from petitions.organiser.views import _petition
from petitions.rendering import render_markdown
from petitions.services import updates


def _refusal(form: FlaskForm, error: updates.NewsError) -> tuple[str | None, int]:
    """Put each problem beside its field; return the petition's own problem and the status."""
    db.session.rollback()
    for name, problem in error.problems.items():
        if name is not None:
            form[name].errors = [*form[name].errors, problem]
    refusal = error.problems.get(None)
    return (str(refusal) if refusal is not None else None), 409 if refusal is not None else 422


def _unless(allowed: bool, refusal) -> str | None:
    return None if allowed else str(refusal)


def _updates_page(petition: Petition, form: UpdateForm, status: int = 200, refusal=None):
    return render_template(
        "organiser/list_updates.html",
        petition=petition,
        form=form,
        updates=updates.shown_updates(petition),
        outcome=updates.outcome_of(petition),
        may_post=updates.may_post_update(petition, utcnow()),
        preview=render_markdown(form.body.data or "") if "preview" in request.form else None,
        refusal=refusal
        or _unless(updates.may_post_update(petition, utcnow()), updates.NOT_PUBLISHED),
    ), status


@bp.get("/petitions/<int:petition_id>/updates")
def list_updates(petition_id: int):
    """List the petition's updates, newest first, with the form to post one."""
    return _updates_page(_petition(), UpdateForm(formdata=None))


# Not the list's own path: two rules on one path answer an id out of range with 405, not 404.
@bp.post("/petitions/<int:petition_id>/updates/new")
def post_update(petition_id: int):
    """Post an update, or show its preview."""
    petition, form = _petition(), UpdateForm()
    if not form.validate_on_submit() or "preview" in request.form:
        return _updates_page(petition, form, 422 if form.errors else 200)
    try:
        updates.post_update(petition, form.draft(), current_user, utcnow())
    except updates.NewsError as error:
        refusal, status = _refusal(form, error)
        return _updates_page(petition, form, status, refusal)
    db.session.commit()
    flash(_("Update posted. It is on the public page now."), "info")
    return redirect(url_for("organiser.list_updates", petition_id=petition.id), code=303)


def _own_update(petition: Petition, update_id: int) -> PetitionUpdate:
    update = updates.update_of(petition, update_id)
    if update is None:
        abort(404)
    return update


def _edit_page(petition, update, form, status: int = 200, refusal=None):
    return render_template(
        "organiser/edit_update.html",
        petition=petition,
        update=update,
        form=form,
        preview=render_markdown(form.body.data or "") if "preview" in request.form else None,
        refusal=refusal,
    ), status


@bp.route("/petitions/<int:petition_id>/updates/<int:update_id>/edit", methods=["GET", "POST"])
def edit_update(petition_id: int, update_id: int):
    """Change an update's title or text; the public page then says it was edited."""
    petition = _petition()
    update = _own_update(petition, update_id)
    form = UpdateForm(obj=update if request.method == "GET" else None)
    if not form.validate_on_submit() or "preview" in request.form:
        return _edit_page(petition, update, form, 422 if form.errors else 200)
    try:
        changed = updates.edit_update(update, form.draft(), current_user, utcnow())
    except updates.NewsError as error:
        refusal, status = _refusal(form, error)
        return _edit_page(petition, update, form, status, refusal)
    db.session.commit()
    flash(_("Update saved.") if changed else _("Nothing changed."), "info")
    return redirect(url_for("organiser.list_updates", petition_id=petition.id), code=303)


@bp.route("/petitions/<int:petition_id>/updates/<int:update_id>/remove", methods=["GET", "POST"])
def remove_update(petition_id: int, update_id: int):
    """Ask before removing an update, then take it off the public page."""
    petition = _petition()
    update = _own_update(petition, update_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template(
            "organiser/remove_update.html", petition=petition, update=update, form=form
        )
    try:
        updates.remove_update(update, current_user, utcnow())
    except updates.NewsError as error:
        db.session.rollback()
        flash(str(error.problems[None]), "error")
    else:
        db.session.commit()
        flash(_("Update removed. It is no longer on the public page."), "info")
    return redirect(url_for("organiser.list_updates", petition_id=petition.id), code=303)


def _outcome_page(petition, form, status: int = 200, refusal=None):
    return render_template(
        "organiser/record_outcome.html",
        petition=petition,
        form=form,
        outcome=updates.outcome_of(petition),
        may_record=updates.may_record_outcome(petition, utcnow()),
        refusal=refusal
        or _unless(updates.may_record_outcome(petition, utcnow()), updates.NOT_ENDED),
    ), status


@bp.route("/petitions/<int:petition_id>/outcome", methods=["GET", "POST"])
def record_outcome(petition_id: int):
    """Record the recipient's answer and the outcome, or correct what was recorded."""
    petition = _petition()
    recorded = updates.outcome_of(petition)
    form = OutcomeForm(obj=recorded if request.method == "GET" else None)
    if not form.validate_on_submit():
        return _outcome_page(petition, form, 422 if form.errors else 200)
    try:
        changed = updates.record_outcome(petition, form.draft(), current_user, utcnow())
    except updates.NewsError as error:
        refusal, status = _refusal(form, error)
        return _outcome_page(petition, form, status, refusal)
    db.session.commit()
    if recorded is None:
        flash(_("The answer is recorded and shown at the top of the public page."), "info")
    else:
        flash(_("The answer is saved.") if changed else _("Nothing changed."), "info")
    return redirect(url_for("organiser.list_updates", petition_id=petition.id), code=303)
