"""Organisers' pages for paper sheets: print them, enter them twice, settle differences.

Each has an endpoint of its own (`paper_*`), guarded like every organiser page: the petition is
looked up with its owner, and another organiser's answers 404.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from petitions.extensions import db
from petitions.models import utcnow
from petitions.notifications import external_url
from petitions.organiser import bp
from petitions.organiser.forms import ConfirmForm, PaperEntryForm, PaperSheetsForm, ReasonForm
from petitions.organiser.views import _petition
from petitions.services import moderation, paper

#: A form with a scan may be this large; every other request keeps the application's limit.
ENTRY_BODY_LIMIT = paper.MAX_SCAN_BYTES + 256 * 1024


@bp.url_value_preprocessor
def _allow_a_scan(endpoint: str | None, _values: dict | None) -> None:
    # Runs before the CSRF check reads the form, which would refuse a large body first.
    if endpoint == "organiser.enter_paper_sheet" and request.method == "POST":
        request.max_content_length = ENTRY_BODY_LIMIT


@bp.get("/petitions/<int:petition_id>/paper")
def paper_sheets(petition_id: int):
    """Show the petition's paper sheets: how each stands, and the differences to settle."""
    petition = _petition()
    form = PaperSheetsForm(formdata=None, first=paper.next_sheet_number(petition), count=1)
    return _sheets_page(petition, form)


def _sheets_page(petition, form, status: int = 200):
    return (
        render_template(
            "organiser/paper_sheets.html",
            petition=petition,
            form=form,
            sheets=paper.sheets(petition),
            lines_per_sheet=paper.LINES_PER_SHEET,
        ),
        status,
    )


@bp.get("/petitions/<int:petition_id>/paper/sheets.pdf")
def download_paper_sheets(petition_id: int):
    """Download printable sheets, numbered from `first`."""
    petition = _petition()
    form = PaperSheetsForm(request.args, meta={"csrf": False})
    if not form.validate():
        return _sheets_page(petition, form, 422)
    url = external_url("public.show_petition", slug=petition.slug)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "sheets.pdf"
        try:
            paper.write_sheet_pdf(petition, form.first.data, form.count.data, url, path)
        except paper.PaperError as error:
            form.first.errors.append(error.user_message)
            return _sheets_page(petition, form, 422)
        data = path.read_bytes()
    name = f"{petition.slug}-sheet-{form.first.data}.pdf"
    return send_file(
        io.BytesIO(data), mimetype="application/pdf", as_attachment=True, download_name=name
    )


def _typed_lines() -> list[paper.PaperLine]:
    """Read the entry form's rows: a row with a name or a city is a line."""
    lines = []
    for number in range(1, paper.LINES_PER_SHEET + 1):
        name = request.form.get(f"name-{number}", "")
        city = request.form.get(f"city-{number}", "")
        if name.strip() or city.strip():
            country = request.form.get(f"country-{number}", "")
            lines.append(paper.PaperLine(number, name, city, country))
    return lines


def _entry_page(petition, form, status: int = 200, typed=None, error=None):
    return (
        render_template(
            "organiser/enter_paper_sheet.html",
            petition=petition,
            form=form,
            lines_per_sheet=paper.LINES_PER_SHEET,
            typed=typed or {},
            entry_error=error,
        ),
        status,
    )


@bp.route("/petitions/<int:petition_id>/paper/enter", methods=["GET", "POST"])
def enter_paper_sheet(petition_id: int):
    """Enter one pass of a sheet; the form never shows an earlier pass."""
    petition = _petition()
    form = PaperEntryForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return _entry_page(petition, form, status, request.form if status == 422 else None)
    scan = _read_scan(form.scan.data)
    try:
        outcome = paper.enter_pass(
            petition,
            form.sheet.data,
            form.check_code.data,
            _typed_lines(),
            current_user,
            utcnow(),
            scan=scan,
        )
    except paper.PaperError as error:
        db.session.rollback()
        return _entry_page(petition, form, 422, request.form, error.user_message)
    db.session.commit()
    flash(_outcome_message(form.sheet.data, outcome), "info")
    return redirect(url_for("organiser.paper_sheets", petition_id=petition.id), code=303)


def _read_scan(upload) -> bytes | None:
    """Read an uploaded scan (at most the body's limit) and close its spooled file."""
    if not upload:
        return None
    try:
        return upload.read(paper.MAX_SCAN_BYTES + 1) or None
    finally:
        upload.close()


def _outcome_message(number: int, outcome: paper.PassOutcome) -> str:
    if outcome.result == paper.PassResult.COUNTED:
        return _(
            "Sheet %(number)s: the two passes agree. %(count)s lines counted.",
            number=number,
            count=format_decimal(outcome.counted),
        )
    if outcome.result == paper.PassResult.WAITING:
        return _(
            "Sheet %(number)s: first pass saved. It counts once it is entered again, "
            "identically (by someone else, or by you without looking at this one).",
            number=number,
        )
    return _(
        "Sheet %(number)s: this pass differs from the earlier one. Nothing is counted yet: "
        "compare the lines below with the paper sheet, then enter it once more.",
        number=number,
    )


@bp.post("/petitions/<int:petition_id>/paper/repeats/<int:signature_id>/keep")
def keep_paper_repeat(petition_id: int, signature_id: int):
    """Keep a paper line flagged as a likely repeat: a person looked and decided."""
    petition = _petition()
    if ConfirmForm().validate_on_submit():
        if not paper.keep_repeat(petition, signature_id, current_user, utcnow()):
            abort(404)
        db.session.commit()
        flash(_("The line is kept; it is no longer flagged."), "info")
    return redirect(url_for("organiser.list_signatures", petition_id=petition.id), code=303)


@bp.post("/petitions/<int:petition_id>/paper/lines/<int:signature_id>/invalidate")
def invalidate_paper_line(petition_id: int, signature_id: int):
    """Invalidate one paper line, with a reason recorded in the audit log."""
    petition = _petition()
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
    else:
        count, _action = moderation.invalidate(
            petition, current_user, form.reason.data, utcnow(), ids=[signature_id]
        )
        db.session.commit()
        flash(_("%(num)s signature(s) invalidated.", num=format_decimal(count)), "info")
    return redirect(url_for("organiser.list_signatures", petition_id=petition.id), code=303)
