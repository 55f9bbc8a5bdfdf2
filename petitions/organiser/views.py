"""Organisers' pages: sign in, write and publish petitions, watch them, moderate, close.

Every route but the sign-in, password-reset and invitation pages requires a signed-in organiser
(enforced for the whole blueprint, the second factor too: see `second_factor.check`), and every
route that names a petition is checked against the organiser's role on it before the view runs
(`petitions.organiser.access`): a petition whose team the organiser is not on answers 404,
exactly as one that does not exist.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from petitions.extensions import db, limiter, login_manager
from petitions.models import (
    Delivery,
    DeliveryChannel,
    DeliveryKind,
    Petition,
    PetitionState,
    RecipientKind,
    SessionEnd,
    SignatureState,
    utcnow,
)
from petitions.notifications import queue_password_reset
from petitions.organiser import bp, factors, second_factor, sessions
from petitions.organiser.charts import day_chart
from petitions.organiser.display import SEALED_NAMES
from petitions.organiser.forms import (
    AccountForm,
    ConfirmForm,
    DeliveryForm,
    IdListForm,
    LoginForm,
    PetitionForm,
    ReasonForm,
    RegistrationForm,
    ResetPasswordForm,
    ResetRequestForm,
    SealForm,
)
from petitions.rendering import render_markdown
from petitions.sealing import SealingPublicKey
from petitions.security import safe_next
from petitions.services import (
    accounts,
    applicants,
    export,
    lifecycle,
    moderation,
    news,
    paper,
    queries,
    teams,
    tokens,
    two_factor,
)
from petitions.services import sessions as session_records
from petitions.services.privacy import keyring

#: Routes reachable without signing in.
OPEN_ENDPOINTS = {
    "organiser.login",
    "organiser.login_code",
    "organiser.login_passkey_options",
    "organiser.login_passkey",
    "organiser.request_reset",
    "organiser.reset_password",
    "organiser.accept_invitation",
}
LOGIN_LIMIT_PER_ADDRESS = "10 per minute;100 per day"
LOGIN_LIMIT_PER_ACCOUNT = "10 per hour"
RESET_LIMIT_PER_ADDRESS = "5 per hour"


login_manager.user_loader(sessions.load_organiser)


@bp.before_request
def require_organiser():
    """Send anyone not signed in to the sign-in page, whatever organiser page they asked for, or
    to the code page when only the password was given; then judge the second factor."""
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        if factors.pending_organiser(factors.now()) is not None:
            return redirect(url_for("organiser.login_code"))
        return login_manager.unauthorized()
    return second_factor.check()


def _petition() -> Petition:
    """The petition the route names, loaded and checked against the role before the view."""
    return g.petition


def _account_key() -> str:
    email = (request.form.get("email") or "").strip().lower()
    return "login:" + keyring().keyed_hash("login", email).hex()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT_PER_ADDRESS, methods=["POST"])
@limiter.limit(
    LOGIN_LIMIT_PER_ACCOUNT, methods=["POST"], key_func=_account_key, scope="login-account"
)
def login():
    """Sign an organiser in."""
    form = LoginForm()
    if form.validate_on_submit():
        organiser = accounts.authenticate(form.email.data, form.password.data, sessions.now())
        if organiser is not None:
            target = (
                safe_next(request.args.get("next"))
                if request.args.get("next")
                else url_for("organiser.list_petitions")
            )
            if two_factor.is_on(organiser):
                # The password alone is no sign-in: nothing is recorded, nothing opens, until
                # the code is given on the next page (and whoever this browser had signed in
                # is signed out).
                db.session.rollback()
                sessions.sign_out()
                factors.begin_sign_in(organiser, factors.now(), target)
                return redirect(url_for("organiser.login_code"), code=303)
            factors.forget()
            sessions.sign_in(organiser)
            db.session.commit()
            return redirect(target, code=303)
        flash(_("The email address or the password is wrong."), "error")
        return render_template("organiser/login.html", form=form), 401
    return render_template("organiser/login.html", form=form)


@bp.post("/logout")
def logout():
    """Sign the organiser out."""
    if ConfirmForm().validate_on_submit():
        sessions.sign_out()
        factors.forget()
    return redirect(url_for("organiser.login"), code=303)


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(RESET_LIMIT_PER_ADDRESS, methods=["POST"])
def request_reset():
    """Email a password-reset link, saying the same whether or not the account exists."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        organiser = accounts.find_organiser(form.email.data)
        if organiser is not None and organiser.is_active:
            queue_password_reset(organiser)
            db.session.commit()
        flash(
            _(
                "If an account uses this address, a link to choose a new password is on its way. "
                "It works for one hour."
            ),
            "info",
        )
        return redirect(url_for("organiser.login"), code=303)
    return render_template("organiser/request_reset.html", form=form)


@bp.route("/reset/<rest:token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password through an emailed link."""
    organiser = accounts.organiser_for_reset_token(token)
    if organiser is None:
        return render_template("organiser/reset_invalid.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        accounts.set_password(organiser, form.password.data, sessions.now())
        db.session.commit()
        flash(_("Your password has been changed. Sign in with it now."), "info")
        return redirect(url_for("organiser.login"), code=303)
    return render_template("organiser/reset_password.html", form=form)


@bp.route("/account", methods=["GET", "POST"])
def edit_account():
    """Set the public name and contact that signers see; list the account's open sessions."""
    form = AccountForm(obj=current_user)
    if form.validate_on_submit():
        accounts.set_public_identity(current_user, form.public_name.data, form.public_contact.data)
        db.session.commit()
        flash(_("Saved. Your petitions' pages show this from now on."), "info")
        return redirect(url_for("organiser.edit_account"), code=303)
    return render_template(
        "organiser/edit_account.html",
        form=form,
        open_sessions=session_records.open_sessions(
            current_user, sessions.now(), sessions.limits()
        ),
        this_session=current_user.current_session,
        zone=current_app.config["SETTINGS"].default_timezone,
        browser_label=session_records.browser_label,
        confirm_form=ConfirmForm(),
    )


@bp.post("/account/sessions/<int:session_id>/end")
def end_session(session_id: int):
    """End one of the organiser's open sessions: its browser is signed out at its next request."""
    if ConfirmForm().validate_on_submit():
        ended = session_records.end_one(current_user, session_id, sessions.now(), sessions.limits())
        db.session.commit()
        if ended is None:
            flash(_("That session had already ended."), "info")
        elif ended.id == current_user.current_session.id:
            sessions.forget()
            return redirect(url_for("organiser.login"), code=303)
        else:
            flash(_("The session was ended: that browser is signed out."), "info")
    return redirect(url_for("organiser.edit_account", _anchor="sessions"), code=303)


@bp.post("/account/sessions/end-others")
def end_other_sessions():
    """End every open session of the organiser's but this browser's."""
    if ConfirmForm().validate_on_submit():
        count = session_records.end_others(
            current_user,
            current_user.current_session,
            sessions.now(),
            SessionEnd.ENDED,
            sessions.limits(),
        )
        db.session.commit()
        flash(_("%(num)s other session(s) ended.", num=format_decimal(count)), "info")
    return redirect(url_for("organiser.edit_account", _anchor="sessions"), code=303)


@bp.get("/")
def list_petitions():
    """List every petition the organiser is a member of, with the role and the counts."""
    memberships = teams.member_petitions(current_user.id)
    counts = queries.confirmed_counts([member.petition.id for member in memberships])
    return render_template(
        "organiser/list_petitions.html", memberships=memberships, counts=counts, now=utcnow()
    )


def _draft_from(form: PetitionForm, now: datetime) -> lifecycle.PetitionDraft:
    opens_at, closes_at = form.window(now)
    return lifecycle.PetitionDraft(
        title=form.title.data,
        slug=form.slug.data or "",
        summary=form.summary.data,
        body=form.body.data,
        recipient=form.recipient.data,
        language=form.language.data,
        goal=form.goal.data,
        timezone=form.timezone.data,
        opens_at=opens_at,
        closes_at=closes_at,
        recipient_kind=RecipientKind(form.recipient_kind.data),
        applicant=form.applicant(),
    )


def _editor(form: PetitionForm, petition: Petition | None, status: int = 200, seal_form=None):
    preview = render_markdown(form.body.data or "") if "preview" in request.form else None
    signed = petition is not None and lifecycle.has_signatures(petition)
    frozen = signed and petition.state != PetitionState.DRAFT
    sealable = petition is not None and not signed and petition.state in lifecycle.SEALABLE_STATES
    return render_template(
        "organiser/edit_petition.html",
        form=form,
        petition=petition,
        preview=preview,
        frozen=frozen,
        seal_form=seal_form or (SealForm() if sealable else None),
        sealing_key=SealingPublicKey.parse(petition.sealing_key)
        if petition is not None and petition.sealing_key
        else None,
    ), status


@bp.route("/petitions/new", methods=["GET", "POST"])
def new_petition():
    """Write a new draft."""
    form = PetitionForm()
    if request.method == "GET":
        form.timezone.data = current_app.config["SETTINGS"].default_timezone
    if not form.validate_on_submit() or "preview" in request.form:
        return _editor(form, None, 422 if form.errors else 200)
    petition = lifecycle.create_draft(current_user, _draft_from(form, utcnow()))
    db.session.commit()
    flash(_("Draft saved."), "info")
    return redirect(url_for("organiser.show_petition", petition_id=petition.id), code=303)


def _fill(form: PetitionForm, petition: Petition) -> None:
    zone = petition.zone
    for name in ("title", "slug", "summary", "body", "recipient", "language", "goal", "timezone"):
        getattr(form, name).data = getattr(petition, name)
    form.recipient_kind.data = petition.recipient_kind.value
    form.fill_applicant(petition.applicant)
    form.opens_at.data = petition.opens_at.astimezone(zone).replace(tzinfo=None)
    form.closes_at.data = petition.closes_at.astimezone(zone).replace(tzinfo=None)
    form.duration.data = "custom"


@bp.route("/petitions/<int:petition_id>/edit", methods=["GET", "POST"])
def edit_petition(petition_id: int):
    """Edit a petition within the rules: a signed text is frozen, a published window too."""
    petition = _petition()
    form = PetitionForm()
    if request.method == "GET":
        _fill(form, petition)
    if not form.validate_on_submit() or "preview" in request.form:
        return _editor(form, petition, 422 if form.errors else 200)
    draft = _draft_from(form, utcnow())
    if draft.applicant is not None and petition.applicant is not None:
        # The demo's mark stays with its applicant however it is edited.
        draft.applicant = dataclasses.replace(
            draft.applicant, demonstration=petition.applicant.demonstration
        )
    if petition.state != PetitionState.DRAFT:
        # Shown but not editable once published: keep them exactly, seconds included.
        draft.slug, draft.opens_at, draft.closes_at = (
            petition.slug,
            petition.opens_at,
            petition.closes_at,
        )
    try:
        changed = lifecycle.update_petition(petition, draft, current_user)
    except lifecycle.PetitionError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _editor(form, petition, 409)
    db.session.commit()
    flash(_("Saved.") if changed else _("Nothing changed."), "info")
    return redirect(url_for("organiser.show_petition", petition_id=petition.id), code=303)


@bp.post("/petitions/<int:petition_id>/seal")
def seal_petition(petition_id: int):
    """Seal a petition to the organiser's public key, pasted or uploaded, before anyone signs."""
    petition = _petition()
    seal_form = SealForm()
    key_text = seal_form.key_text() if seal_form.validate_on_submit() else None
    if key_text is not None:
        try:
            key = lifecycle.seal(petition, key_text, current_user)
        except lifecycle.PetitionError as error:
            db.session.rollback()
            seal_form.public_key.errors.append(str(error))
        else:
            db.session.commit()
            flash(
                # No-break spaces: the four groups stay on one line, to be compared at a glance.
                _(
                    "Sealed to the key %(fingerprint)s.",
                    fingerprint=key.fingerprint.replace(" ", "\u00a0"),
                ),
                "info",
            )
            return redirect(url_for("organiser.edit_petition", petition_id=petition.id), code=303)
    form = PetitionForm()
    _fill(form, petition)
    return _editor(form, petition, 422, seal_form=seal_form)


def _attempt(change: Callable[[], None], done: str) -> None:
    """Apply one lifecycle change and commit it, or roll back and show why it was refused."""
    try:
        change()
        db.session.commit()
        flash(done, "info")
    except lifecycle.PetitionError as error:
        db.session.rollback()
        flash(str(error), "error")


@bp.post("/petitions/<int:petition_id>/publish")
def publish_petition(petition_id: int):
    """Open a draft for signing."""
    petition = _petition()
    if ConfirmForm().validate_on_submit():
        _attempt(
            lambda: lifecycle.publish(petition, current_user, utcnow()),
            _("Published: the petition is open for signing."),
        )
    return redirect(url_for("organiser.show_petition", petition_id=petition.id), code=303)


@bp.post("/petitions/<int:petition_id>/close")
def close_petition(petition_id: int):
    """Close an open petition before its deadline, with a reason."""
    petition = _petition()
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason for closing early."), "error")
    else:
        _attempt(
            lambda: lifecycle.close_early(petition, current_user, utcnow(), form.reason.data),
            _("Closed. Signing has stopped."),
        )
    return redirect(url_for("organiser.show_petition", petition_id=petition.id), code=303)


@bp.get("/petitions/<int:petition_id>")
def show_petition(petition_id: int):
    """Show a petition's dashboard: counts, the days, the countries, clusters and the log."""
    petition = _petition()
    board = queries.dashboard(petition, utcnow())
    final = export.kind_of(petition, board.now) == DeliveryKind.FINAL
    return render_template(
        "organiser/show_petition.html",
        petition=petition,
        now=board.now,
        counts=board.counts,
        sources=board.sources,
        chart=day_chart(list(board.days)),
        countries=board.countries,
        addresses=board.addresses,
        domains=board.domains,
        events=board.events,
        since=board.since,
        deliveries=board.deliveries,
        busy=board.exporting,
        confirm_form=ConfirmForm(),
        close_form=ReasonForm(),
        delivery_form=DeliveryForm(),
        registration_form=RegistrationForm(),
        needs_applicant=final and petition.applicant is None,
        no_applicant=applicants.NO_APPLICANT,
        news=news.board(petition.id),
    )


def _local_moment(text: str, zone: ZoneInfo) -> datetime | None:
    """Read a time typed in the petition's zone (as its table shows them) as an instant in UTC."""
    try:
        moment = datetime.fromisoformat(text)
        return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or one at the edge of the calendar
        return None


def _filter_from_request(petition: Petition) -> moderation.SignatureFilter:
    values = request.values
    zone = petition.zone
    state = values.get("state", "")
    return moderation.SignatureFilter(
        name=values.get("name", "")[:120],
        email_domain=values.get("domain", "")[:254],
        address_hash=values.get("address", "")[:64],
        since=_local_moment(values.get("since", ""), zone),
        until=_local_moment(values.get("until", ""), zone),
        state=SignatureState(state) if state in set(SignatureState) else None,
    )


def _local_inputs(wanted: moderation.SignatureFilter, zone: ZoneInfo) -> dict[str, str]:
    """Give the filter's times back as the form's fields hold them: in the petition's zone."""
    return {
        name: moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if moment else ""
        for name, moment in (("since", wanted.since), ("until", wanted.until))
    }


def _signatures_page(petition: Petition, id_form: IdListForm | None = None, status: int = 200):
    wanted = _filter_from_request(petition)
    # A sealed petition holds no names to compare: the page says so instead of the name field.
    name_refused = petition.is_sealed and bool(wanted.name)
    if name_refused:
        wanted = dataclasses.replace(wanted, name="")
    return render_template(
        "organiser/signatures.html",
        petition=petition,
        wanted=wanted,
        name_refused=name_refused,
        local=_local_inputs(wanted, petition.zone),
        result=moderation.search(petition, wanted),
        form=ReasonForm(),
        id_form=id_form or IdListForm(formdata=None),
        confirm_form=ConfirmForm(),
        states=list(SignatureState),
        repeats=paper.repeats(petition),
    ), status


@bp.get("/petitions/<int:petition_id>/signatures")
def list_signatures(petition_id: int):
    """Search a petition's signatures to find fraud."""
    return _signatures_page(_petition())


def _back_to_search(petition: Petition):
    query = {
        key: value
        for key, value in request.form.items()
        if key in {"name", "domain", "address", "since", "until", "state"} and value
    }
    return redirect(
        url_for("organiser.list_signatures", petition_id=petition.id, **query), code=303
    )


def _chosen_ids() -> list[int]:
    # ASCII digits only ("²" is a digit to Python, but not to int()), and no more than a row id
    # has: int() refuses thousands of digits, and the database a number past 64 bits.
    return [
        int(value)
        for value in request.form.getlist("ids")
        if value.isascii() and value.isdigit() and len(value) <= 19
        if 0 < int(value) <= tokens.MAX_ROW_ID
    ]


@bp.post("/petitions/<int:petition_id>/signatures/invalidate")
def invalidate_signatures(petition_id: int):
    """Invalidate the chosen signatures, or every one matching the search, with a reason."""
    petition = _petition()
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason for invalidating."), "error")
        return _back_to_search(petition)
    everything = request.form.get("scope") == "all"
    if everything and petition.is_sealed and request.form.get("name"):
        flash(str(SEALED_NAMES), "error")
        return _back_to_search(petition)
    ids = None if everything else _chosen_ids()
    if not everything and not ids:
        flash(_("Choose at least one signature."), "error")
        return _back_to_search(petition)
    try:
        count, _action = moderation.invalidate(
            petition,
            current_user,
            form.reason.data,
            utcnow(),
            ids=ids,
            wanted=_filter_from_request(petition) if everything else None,
        )
    except moderation.ScanLimitReached as error:
        db.session.rollback()
        flash(
            _(
                "Nothing was invalidated: a name search checks at most %(num)s signatures and "
                "this one has more. Narrow it with dates, a domain or an address first.",
                num=format_decimal(error.limit),
            ),
            "error",
        )
        return _back_to_search(petition)
    db.session.commit()
    flash(_("%(num)s signature(s) invalidated.", num=format_decimal(count)), "info")
    return _back_to_search(petition)


@bp.post("/petitions/<int:petition_id>/signatures/invalidate-ids")
def invalidate_signature_ids(petition_id: int):
    """Invalidate signatures named by id, typed or in the unsealed rows CSV: all or none."""
    petition = _petition()
    form = IdListForm()
    ids = form.ids() if form.validate_on_submit() else None
    if ids is None:
        return _signatures_page(petition, form, 422)
    try:
        done = moderation.invalidate_ids(petition, current_user, form.reason.data, utcnow(), ids)
    except moderation.IdListError as error:
        db.session.rollback()
        form.id_list.errors.append(error.user_message)
        return _signatures_page(petition, form, 422)
    db.session.commit()
    flash(
        _(
            "%(num)s signature(s) invalidated, %(already)s already invalid.",
            num=format_decimal(done.invalidated),
            already=format_decimal(done.already_invalid),
        ),
        "info",
    )
    if done.withdrawn:
        flash(
            _(
                "%(num)s withdrawn by their signers, left as they are.",
                num=format_decimal(done.withdrawn),
            ),
            "info",
        )
    return redirect(url_for("organiser.list_signatures", petition_id=petition.id), code=303)


@bp.post("/petitions/<int:petition_id>/signatures/restore")
def restore_signatures(petition_id: int):
    """Undo invalidations: of the chosen signatures, or of one whole earlier action."""
    petition = _petition()
    if ConfirmForm().validate_on_submit():
        action_id = request.form.get("action", "")[:32]
        ids = None if action_id else _chosen_ids()
        count = moderation.restore(petition, current_user, ids=ids, action_id=action_id)
        db.session.commit()
        flash(_("%(num)s signature(s) restored.", num=format_decimal(count)), "info")
    if request.form.get("action"):
        return redirect(url_for("organiser.show_petition", petition_id=petition.id), code=303)
    return _back_to_search(petition)


def _own_delivery(petition: Petition, delivery_id: int) -> Delivery:
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or delivery.petition_id != petition.id:
        abort(404)
    return delivery


@bp.post("/petitions/<int:petition_id>/exports")
def export_petition(petition_id: int):
    """Ask for the signed bundle; the worker builds it and this page follows its progress."""
    petition = _petition()
    if petition.state == PetitionState.DRAFT:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            export.queue_export(petition, current_user, utcnow())
        except applicants.MissingApplicant as error:
            db.session.rollback()
            flash(str(error.user_message), "error")
            return redirect(
                url_for("organiser.show_petition", petition_id=petition.id, _anchor="exports"),
                code=303,
            )
        db.session.commit()
        flash(_("The export is being prepared. This page shows its progress."), "info")
    return redirect(
        url_for("organiser.show_petition", petition_id=petition.id, _anchor="exports"), code=303
    )


@bp.get("/petitions/<int:petition_id>/exports/<int:delivery_id>/download")
def download_export(petition_id: int, delivery_id: int):
    """Download a finished bundle."""
    delivery = _own_delivery(_petition(), delivery_id)
    path = export.bundle_path(delivery)
    if path is None:
        abort(404)
    return send_file(
        path,
        mimetype="application/zip",
        as_attachment=True,
        download_name=delivery.bundle_filename,
        max_age=0,
    )


def _delivery_form_problem(form: DeliveryForm) -> str:
    """Say what is wrong with a delivery's details, the first problem first."""
    if form.delivered_on.errors or not form.errors:
        return _("Give the date of delivery.")
    fields = (form.channel, form.registered_on, form.registration_number, form.reference)
    return _first_problem(form, fields)


def _first_problem(form, fields) -> str:
    """Say the first problem of `fields` that has one, else of the form, as "Label: problem"."""
    for field in fields:
        if field.errors:
            return f"{field.label.text}: {field.errors[0]}"
    name, errors = next(iter(form.errors.items()))
    return f"{form[name].label.text}: {errors[0]}"


@bp.post("/petitions/<int:petition_id>/exports/<int:delivery_id>/registration")
def record_registration(petition_id: int, delivery_id: int):
    """Add the office's registration number and date to a recorded delivery, once."""
    petition = _petition()
    delivery = _own_delivery(petition, delivery_id)
    form = RegistrationForm()
    if not form.validate_on_submit():
        flash(_first_problem(form, (form.registration_number, form.registered_on)), "error")
    else:
        try:
            export.record_registration(
                delivery, form.registration_number.data, form.registered_on.data, current_user
            )
            db.session.commit()
            flash(_("Registration recorded. The public record now shows it."), "info")
        except export.ExportError as error:
            db.session.rollback()
            flash(str(error), "error")
    return redirect(
        url_for("organiser.show_petition", petition_id=petition.id, _anchor="exports"), code=303
    )


@bp.post("/petitions/<int:petition_id>/exports/<int:delivery_id>/delivered")
def record_delivery(petition_id: int, delivery_id: int):
    """Record when, how and to whom a final bundle was delivered."""
    petition = _petition()
    delivery = _own_delivery(petition, delivery_id)
    form = DeliveryForm()
    if not form.validate_on_submit():
        flash(_delivery_form_problem(form), "error")
    else:
        record = export.DeliveryRecord(
            delivered_at=datetime.combine(
                form.delivered_on.data, time(12), petition.zone
            ).astimezone(UTC),
            delivered_to=form.delivered_to.data,
            channel=DeliveryChannel(form.channel.data),
            registration_number=form.registration_number.data,
            registered_on=form.registered_on.data,
            reference=form.reference.data,
        )
        try:
            export.record_delivery(delivery, record, current_user)
            db.session.commit()
            flash(
                _("Delivery recorded. The public page now says the petition was delivered."), "info"
            )
        except export.ExportError as error:
            db.session.rollback()
            flash(str(error), "error")
    return redirect(
        url_for("organiser.show_petition", petition_id=petition.id, _anchor="exports"), code=303
    )
