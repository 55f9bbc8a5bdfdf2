"""Organisers' second factor: setting it up, the code after the password, and giving it again.

`check()` is called by the blueprint's `require_organiser` for every signed-in request: it sends an
organiser without a factor to set one up when REQUIRE_TWO_FACTOR says so, ends a session that the
password alone opened, and asks for the factor again before the actions in
`factors.FRESH_FACTOR_ENDPOINTS`. A GET is sent to the page asking for it and back; a POST is
answered with that page in place, carrying the form's fields, and once the code is right the
browser repeats the same POST (307) to where it was going.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import segno
from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from petitions.extensions import db, limiter, login_manager
from petitions.models import SessionEnd
from petitions.organiser import bp, factors, sessions
from petitions.organiser.forms import (
    AddPasskeyForm,
    CodeForm,
    NewRecoveryCodesForm,
    PasskeyAnswerForm,
    RemovePasskeyForm,
    TurnOffFactorForm,
)
from petitions.security import safe_next
from petitions.services import passkeys, two_factor
from petitions.services import sessions as session_records
from petitions.services.passkeys import Refusal
from petitions.services.two_factor import Verdict

#: Like the password: per address, and per account from anywhere, every route that takes a code
#: counting together.
CODE_LIMIT_PER_ADDRESS = "10 per minute;100 per day"
CODE_LIMIT_PER_ACCOUNT = "10 per hour"
#: What an organiser without a second factor may still do while REQUIRE_TWO_FACTOR holds.
SETUP_ENDPOINTS = frozenset({"organiser.two_factor", "organiser.logout"})
#: Fields of the page asking again that are its own, not the carried form's.
_OWN_FIELDS = frozenset({"csrf_token", "code", "next", "resend", "credential"})


def _account_key() -> str:
    """Count codes per account, whether signed in or between the password and the code."""
    if current_user.is_authenticated:
        return f"factor:{current_user.id}"
    pending = factors.pending_organiser(factors.now())
    return f"factor:{pending.id if pending is not None else '-'}"


def _limited(view):
    view = limiter.limit(CODE_LIMIT_PER_ADDRESS, methods=["POST"], scope="factor-address")(view)
    return limiter.shared_limit(
        CODE_LIMIT_PER_ACCOUNT, scope="factor-account", key_func=_account_key, methods=["POST"]
    )(view)


def _refusal(verdict: Verdict) -> str:
    if verdict is Verdict.REPLAYED:
        return _("This code has already been used. Wait for your app to show the next one.")
    if verdict is Verdict.USED:
        return _("This recovery code has already been used: each one works once.")
    return _(
        "This code is not right. Enter the code your authenticator app shows now, or one of "
        "your recovery codes."
    )


def _private(body: str, status: int = 200) -> Response:
    """Answer a page that shows a secret or a code: never kept by a cache or the browser."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def check() -> Response | None:
    """Judge a signed-in organiser's request against their second factor (see the module)."""
    if not two_factor.is_on(current_user):
        settings = current_app.config["SETTINGS"]
        if settings.require_two_factor and request.endpoint not in SETUP_ENDPOINTS:
            flash(
                _("Set up a second factor first: a password alone must not open your account."),
                "info",
            )
            return redirect(url_for("organiser.two_factor"))
        return None
    if factors.given_at() is None:
        # Signed in before the factor was turned on, elsewhere: the password alone opened it.
        sessions.end_current(SessionEnd.ENDED)
        return login_manager.unauthorized()
    fresh = factors.given_within(factors.now(), factors.fresh_age())
    if request.endpoint not in factors.FRESH_FACTOR_ENDPOINTS or fresh:
        return None
    target = request.full_path.rstrip("?")
    if request.method == "GET":
        return redirect(url_for("organiser.confirm_factor", next=target), code=303)
    carried = [(k, v) for k, v in request.form.items(multi=True) if k not in _OWN_FIELDS]
    return _ask_again(CodeForm(formdata=None), target, carried, resend=True, status=401)


def _ask_again(
    form, target: str, carried, *, resend: bool, status: int = 200, passkey_error=None
) -> Response:
    page = render_template(
        "organiser/confirm_factor.html",
        form=form,
        next=target,
        carried=carried,
        resend=resend,
        files=resend and bool(request.files),
        passkey_form=PasskeyAnswerForm(formdata=None),
        has_passkeys=bool(passkeys.passkeys_of(current_user)),
        passkey_error=passkey_error,
    )
    return _private(page, status)


# Setting it up ----------------------------------------------------------------------------------


def _issuer() -> str:
    """Name this site in the authenticator app by its host, which does not change with language."""
    return urlsplit(current_app.config["SETTINGS"].base_url).hostname or "petitions"


def _qr_code(uri: str) -> Markup:
    """Draw the address as a QR code, an inline SVG made here (nothing leaves the server)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=4,
        dark="#000",
        light="#fff",
        svgclass="qr-code",
        title=_("QR code of the set-up address, for an authenticator app"),
    )
    # Our own drawing of our own data; segno escapes the title.
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704


def _set_up_page(form: CodeForm, status: int = 200) -> Response:
    secret = two_factor.pending_secret(current_user, factors.now())
    db.session.commit()
    uri = two_factor.provisioning_uri(secret, current_user.email, _issuer())
    page = render_template(
        "organiser/two_factor.html",
        form=form,
        uri=uri,
        groups=[secret[i : i + 4] for i in range(0, len(secret), 4)],
        qr_code=_qr_code(uri),
    )
    return _private(page, status)


def _status_page(
    new_codes_form=None, turn_off_form=None, add_passkey_form=None, status: int = 200
) -> Response:
    page = render_template(
        "organiser/two_factor_on.html",
        factor=two_factor.factor_of(current_user),
        codes_left=two_factor.recovery_codes_left(current_user),
        new_codes_form=new_codes_form or NewRecoveryCodesForm(formdata=None),
        turn_off_form=turn_off_form or TurnOffFactorForm(formdata=None),
        add_passkey_form=add_passkey_form or AddPasskeyForm(formdata=None),
        remove_passkey_form=RemovePasskeyForm(formdata=None),
        passkeys=passkeys.passkeys_of(current_user),
        most_passkeys=passkeys.MOST_PASSKEYS,
    )
    return _private(page, status)


def _recovery_codes_page(codes: list[str], first: bool) -> Response:
    return _private(render_template("organiser/recovery_codes.html", codes=codes, first=first))


@bp.route("/account/two-factor", methods=["GET", "POST"], endpoint="two_factor")
@_limited
def two_factor_page():
    """Set up the authenticator app; it is turned on only by a right code from it."""
    if two_factor.is_on(current_user):
        return _status_page()
    form = CodeForm()
    if not form.validate_on_submit():
        return _set_up_page(form, 422 if form.errors else 200)
    now = factors.now()
    codes = two_factor.turn_on(current_user, form.code.data, now)
    if codes is None:
        db.session.rollback()
        form.code.errors.append(
            _("This code is not right. Enter the six digits your app shows now for this account.")
        )
        return _set_up_page(form, 422)
    factors.mark_given(now)
    # The password alone opened the organiser's other sessions: they end now.
    session_records.end_others(current_user, current_user.current_session, now, SessionEnd.ENDED)
    db.session.commit()
    return _recovery_codes_page(codes, first=True)


def _given(form) -> Verdict | None:
    """Judge the code of a submitted form; None when the form itself was refused."""
    if not form.validate_on_submit():
        return None
    verdict = two_factor.check_code(current_user, form.code.data, factors.now())
    if verdict is not Verdict.ACCEPTED:
        db.session.rollback()
        form.code.errors.append(_refusal(verdict))
    return verdict


@bp.post("/account/two-factor/recovery-codes")
@_limited
def new_recovery_codes():
    """Replace the recovery codes, after a fresh code."""
    if not two_factor.is_on(current_user):
        return redirect(url_for("organiser.two_factor"), code=303)
    form = NewRecoveryCodesForm()
    if _given(form) is not Verdict.ACCEPTED:
        return _status_page(new_codes_form=form, status=422)
    now = factors.now()
    codes = two_factor.new_recovery_codes(current_user, now)
    factors.mark_given(now)
    db.session.commit()
    return _recovery_codes_page(codes, first=False)


@bp.post("/account/two-factor/off")
@_limited
def turn_off_two_factor():
    """Turn the second factor off, after a fresh code."""
    if not two_factor.is_on(current_user):
        return redirect(url_for("organiser.two_factor"), code=303)
    form = TurnOffFactorForm()
    if _given(form) is not Verdict.ACCEPTED:
        return _status_page(turn_off_form=form, status=422)
    two_factor.turn_off(current_user)
    db.session.commit()
    flash(_("The second factor is off: your password alone now opens your account."), "info")
    return redirect(url_for("organiser.two_factor"), code=303)


# Signing in, and giving it again ----------------------------------------------------------------


def _sign_in(organiser, now) -> Response:
    """Complete a sign-in whose second factor was just given, a code or a passkey alike."""
    organiser.last_login_at = now
    target = factors.end_sign_in() or url_for("organiser.list_petitions")
    sessions.sign_in(organiser)
    factors.mark_given(now)
    db.session.commit()
    return redirect(safe_next(target), code=303)


def _code_page(organiser, form, passkey_error: str | None = None, status: int = 200) -> Response:
    page = render_template(
        "organiser/login_code.html",
        form=form,
        passkey_form=PasskeyAnswerForm(formdata=None),
        has_passkeys=bool(passkeys.passkeys_of(organiser)),
        passkey_error=passkey_error,
    )
    return _private(page, status)


def _no_sign_in_under_way() -> Response:
    if factors.end_sign_in() is not None:
        flash(_("Sign in again: the code was not given within five minutes."), "error")
    return redirect(url_for("organiser.login"), code=303)


@bp.route("/login/code", methods=["GET", "POST"])
@_limited
def login_code():
    """Ask for the second factor after the right password; sign in only with a right code."""
    now = factors.now()
    organiser = factors.pending_organiser(now)
    if organiser is None:
        return _no_sign_in_under_way()
    form = CodeForm()
    if form.validate_on_submit():
        verdict = two_factor.check_code(organiser, form.code.data, now)
        if verdict is Verdict.ACCEPTED:
            return _sign_in(organiser, now)
        db.session.rollback()
        form.code.errors.append(_refusal(verdict))
    status = 401 if form.errors and request.method == "POST" else 200
    return _code_page(organiser, form, status=status)


@bp.route("/account/confirm", methods=["GET", "POST"])
@_limited
def confirm_factor():
    """Ask for the second factor again, then go on to where the organiser was going."""
    target = safe_next(request.values.get("next"))
    resend = request.form.get("resend") == "1"
    if not two_factor.is_on(current_user):
        return redirect(target, code=303)
    form = CodeForm()
    carried = [(k, v) for k, v in request.form.items(multi=True) if k not in _OWN_FIELDS]
    verdict = _given(form)
    if verdict is Verdict.ACCEPTED:
        factors.mark_given(factors.now())
        db.session.commit()
        # 307: the browser sends the same form again, with its fields, to the action it was for.
        return redirect(target, code=307 if resend else 303)
    status = 401 if verdict is not None or form.errors else 200
    return _ask_again(form, target, carried, resend=resend, status=status)


# Passkeys ---------------------------------------------------------------------------------------

#: The browser's signed session keeps the challenge it was given, by what it is for.
_CHALLENGE = "passkey_challenge"


def _relying_party() -> passkeys.RelyingParty:
    return passkeys.relying_party(current_app.config["SETTINGS"], _issuer())


def _passkey_refusal(refusal: Refusal) -> str:
    if refusal is Refusal.CHALLENGE:
        return _(
            "This passkey request is no longer valid: it was already answered, or is more than "
            "five minutes old. Try again."
        )
    if refusal is Refusal.UNKNOWN:
        return _("This passkey is not one of this account's. Use another, or a code.")
    if refusal is Refusal.COUNTER:
        return _(
            "This passkey was refused: its use counter went backwards, as happens when a passkey "
            "has been copied. Use a code, and remove the passkey if you do not trust it."
        )
    if refusal is Refusal.DUPLICATE:
        return _(
            "This passkey is already added, or this account has the most passkeys allowed "
            "(%(most)s).",
            most=passkeys.MOST_PASSKEYS,
        )
    return _("The passkey's answer could not be checked for this site. Try again, or use a code.")


def _options(organiser, purpose: str) -> Response:
    """Answer a passkey ceremony's options as JSON, keeping their challenge for one use."""
    now = factors.now()
    rp = _relying_party()
    if purpose == passkeys.REGISTER:
        options, challenge = passkeys.registration_options(organiser, rp, now)
    else:
        options, challenge = passkeys.authentication_options(organiser, rp, now, purpose)
    db.session.commit()
    session[_CHALLENGE] = {"purpose": purpose, "challenge": challenge}
    response = make_response(options, 200)
    response.mimetype = "application/json"
    response.headers["Cache-Control"] = "no-store"
    return response


def _json_error(error: str, status: int) -> Response:
    response = jsonify(error=error)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _taken_challenge(organiser, purpose: str) -> bytes | None:
    kept = session.pop(_CHALLENGE, None)
    if not isinstance(kept, dict) or kept.get("purpose") != purpose:
        return None
    return passkeys.take_challenge(organiser, purpose, kept.get("challenge"), factors.now())


@bp.post("/login/passkey/options")
@_limited
def login_passkey_options():
    """Options for giving a passkey after the right password (JSON, for static/js/passkeys.js)."""
    organiser = factors.pending_organiser(factors.now())
    if organiser is None:
        return _json_error("no sign-in under way", 401)
    if not passkeys.passkeys_of(organiser):
        return _json_error("no passkey", 404)
    return _options(organiser, passkeys.SIGN_IN)


@bp.post("/login/passkey")
@_limited
def login_passkey():
    """Sign in with a passkey after the right password, exactly as with a right code."""
    now = factors.now()
    organiser = factors.pending_organiser(now)
    if organiser is None:
        return _no_sign_in_under_way()
    form = PasskeyAnswerForm()
    if not form.validate_on_submit():
        return _code_page(
            organiser, CodeForm(formdata=None), _passkey_refusal(Refusal.INVALID), 401
        )
    challenge = _taken_challenge(organiser, passkeys.SIGN_IN)
    if challenge is None:
        db.session.commit()
        refusal = Refusal.CHALLENGE
    else:
        # The challenge stays taken whatever the answer: commit its DELETE even on a refusal.
        answer = passkeys.authenticate(
            organiser, form.credential.data, challenge, _relying_party(), now
        )
        if not isinstance(answer, Refusal):
            return _sign_in(organiser, now)
        db.session.commit()
        refusal = answer
    return _code_page(organiser, CodeForm(formdata=None), _passkey_refusal(refusal), 401)


@bp.post("/account/passkeys/options")
@_limited
def add_passkey_options():
    """Options for adding a passkey (JSON); the code is asked for with the answer."""
    if not two_factor.is_on(current_user):
        return _json_error("the second factor is off", 409)
    return _options(current_user, passkeys.REGISTER)


@bp.post("/account/passkeys")
@_limited
def add_passkey():
    """Add a passkey: the browser's answer, with a fresh code from the app."""
    if not two_factor.is_on(current_user):
        return redirect(url_for("organiser.two_factor"), code=303)
    form = AddPasskeyForm()
    if _given(form) is not Verdict.ACCEPTED:
        return _status_page(add_passkey_form=form, status=422)
    now = factors.now()
    # The code was right: it counts as given now, whatever becomes of the passkey.
    factors.mark_given(now)
    db.session.commit()
    if not form.credential.data:
        form.credential.errors.append(
            _("Your browser gave no passkey: adding one needs JavaScript and a passkey.")
        )
        return _status_page(add_passkey_form=form, status=422)
    challenge = _taken_challenge(current_user, passkeys.REGISTER)
    if challenge is None:
        answer: object = Refusal.CHALLENGE
    else:
        answer = passkeys.register(
            current_user, form.credential.data, challenge, _relying_party(), form.name.data, now
        )
    if isinstance(answer, Refusal):
        db.session.commit()
        form.credential.errors.append(_passkey_refusal(answer))
        return _status_page(add_passkey_form=form, status=422)
    db.session.commit()
    flash(_("The passkey “%(name)s” is added.", name=form.name.data), "info")
    return redirect(url_for("organiser.two_factor"), code=303)


@bp.post("/account/passkeys/<int:passkey_id>/remove")
@_limited
def remove_passkey(passkey_id: int):
    """Remove one of the organiser's own passkeys (after a fresh factor: FRESH_FACTOR_ENDPOINTS)."""
    form = RemovePasskeyForm()
    if not form.validate_on_submit():
        abort(400)
    if not passkeys.remove(current_user, passkey_id):
        abort(404)
    db.session.commit()
    flash(_("The passkey is removed."), "info")
    return redirect(url_for("organiser.two_factor"), code=303)


@bp.post("/account/confirm/passkey/options")
@_limited
def confirm_passkey_options():
    """Options for giving a passkey again before an action (JSON)."""
    if not passkeys.passkeys_of(current_user):
        return _json_error("no passkey", 404)
    return _options(current_user, passkeys.CONFIRM)


@bp.post("/account/confirm/passkey")
@_limited
def confirm_passkey():
    """Give the second factor again with a passkey, then go on as a right code does."""
    target = safe_next(request.form.get("next"))
    resend = request.form.get("resend") == "1"
    carried = [(k, v) for k, v in request.form.items(multi=True) if k not in _OWN_FIELDS]
    now = factors.now()
    form = PasskeyAnswerForm()
    refusal = Refusal.INVALID
    if form.validate_on_submit():
        challenge = _taken_challenge(current_user, passkeys.CONFIRM)
        if challenge is None:
            refusal = Refusal.CHALLENGE
        else:
            answer = passkeys.authenticate(
                current_user, form.credential.data, challenge, _relying_party(), now
            )
            if not isinstance(answer, Refusal):
                factors.mark_given(now)
                db.session.commit()
                return redirect(target, code=307 if resend else 303)
            refusal = answer
    db.session.commit()
    return _ask_again(
        CodeForm(formdata=None),
        target,
        carried,
        resend=resend,
        status=401,
        passkey_error=_passkey_refusal(refusal),
    )
