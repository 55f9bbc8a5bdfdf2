"""Views for signers: thin, each parses input, calls one service, commits once and answers."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import (
    Response,
    abort,
    after_this_request,
    copy_current_request_context,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from markupsafe import Markup

from petitions import cache
from petitions.errors import DATABASE_OUTAGES, render_error
from petitions.extensions import csrf, db, limiter
from petitions.models import Petition, utcnow
from petitions.notifications import (
    external_url,
    links_on,
    queue_signature_notice,
    signer_base_url,
)
from petitions.onion import came_through_tor
from petitions.public import bp, form_token
from petitions.public.forms import SignPetitionForm
from petitions.rendering import render_markdown
from petitions.services import queries, receipts, signing, subscriptions, updates
from petitions.services.privacy import email_hashes
from petitions.services.queries import PetitionSnapshot

#: Stands for the visitor's CSRF token in a cached page; cannot occur in a real token or text.
CSRF_MARKER = "\x00csrf-token\x00"


def _cache_seconds() -> float:
    return current_app.config["SETTINGS"].public_cache_seconds


def _petition_or_404(slug: str) -> PetitionSnapshot:
    petition = queries.petition_snapshot(slug, _cache_seconds())
    if petition is None:
        abort(404)
    return petition


#: How long an empty signing form, rendered once, is reused for the shared page.
SIGN_FORM_SECONDS = 3600


def _empty_sign_form(petition: Petition, form: SignPetitionForm) -> Markup:
    """Render the shared page's signing form once per language and petition, not every time.

    Empty and with the token's placeholder, it depends only on what the key names (the labels,
    the country names, the action and the recipient in the consent), yet it was a third of the
    time of rendering the whole page.
    """
    retention_days = current_app.config["SETTINGS"].retention_days
    # Everything the form shows of the petition and of the site: the key changes with any of it.
    shown = (
        petition.slug,
        petition.recipient,
        petition.organiser_name,
        petition.organiser_contact,
        petition.applicant_address,
        petition.sealing_key,
    )
    key = ("sign-form", str(get_locale() or "en"), *shown, retention_days)
    return cache.public.get(
        key,
        SIGN_FORM_SECONDS,
        lambda: Markup(  # noqa: S704 - our own template's output, escaped by it
            render_template(
                "public/_sign_form.html",
                petition=petition,
                form=form,
                sign_form_token=CSRF_MARKER,
                retention_days=retention_days,
            )
        ),
    )


def _render_petition(
    petition: PetitionSnapshot, form: SignPetitionForm, status: int = 200, token: str | None = None
):
    now = utcnow()
    # The total and what was taken from it, from one statement: the three always agree.
    counts = queries.public_counts(petition)
    page = render_template(
        "public/show_petition.html",
        petition=petition,
        form=form,
        # The shared page's form is empty; a form sent back with errors is rendered in full.
        sign_form_html=_empty_sign_form(petition, form) if token == CSRF_MARKER else None,
        body=render_markdown(petition.body),
        count=counts.signatures,
        counts=counts,
        deliveries=queries.public_deliveries(petition),
        outcome=updates.public_outcome(petition.id),
        updates=updates.public_updates(petition.id),
        recent_signers=queries.recent_public_signers(petition),
        is_open=petition.accepts_signatures_at(now),
        ended_at=petition.collection_ended_at(now),
        not_yet_open=petition.opens_at > now,
        time_left=petition.closes_at - now,
        page_url=external_url("public.show_petition", slug=petition.slug),
        grace_hours=int(signing.CONFIRMATION_GRACE.total_seconds() // 3600),
        retention_days=current_app.config["SETTINGS"].retention_days,
        sign_form_token=token or form_token.issue(form_token.SIGN),
    )
    return page, status


#: A cached page older than this share of its lifetime is rendered anew after the answer is sent.
REFRESH_AFTER = 0.9


def _cached_page(name: str, render: Callable[[], str | None]) -> str | None:
    """Serve a public page from the short cache, keyed by everything that changes its HTML.

    Each worker process renders its own copy, ten times the work of serving one; done inside a
    visitor's request, that render was most of the signing path's slowest hundredth
    (docs/benchmarks.md, 2026-12-03). So a copy near the end of its lifetime is still served,
    and rendered again once this answer has been sent: the visitor does not wait for it, and no
    copy is ever served older than its lifetime (an expired one is rendered in the request, as
    before).
    """
    key = (name, str(get_locale() or "en"), request.host, request.full_path)
    ttl = _cache_seconds()

    def shared_render() -> tuple[float, str | None]:
        g.shared_render = True  # base.html then leaves this visitor's flash messages out
        try:
            return cache.public.clock(), render()
        finally:
            g.shared_render = False

    rendered_at, page = cache.public.get(key, ttl, shared_render)
    if ttl > 0 and cache.public.clock() - rendered_at > ttl * REFRESH_AFTER:

        @copy_current_request_context
        def refresh() -> None:
            try:
                cache.public.put(key, ttl, shared_render())
            except Exception:  # the answer is gone; the copy expires and is rendered in a request
                logging.getLogger(__name__).exception("rendering %s again failed", name)

        @after_this_request
        def refresh_when_sent(response: Response) -> Response:
            response.call_on_close(refresh)
            return response

    return page


@bp.get("/")
def list_petitions():
    """List the petitions open for signing."""

    def render() -> str:
        petitions = queries.open_petitions(utcnow())
        counts = queries.confirmed_counts([petition.id for petition in petitions])
        return render_template("public/list_petitions.html", petitions=petitions, counts=counts)

    return _cached_page("list", render)


@bp.get("/petitions/<slug>")
def show_petition(slug: str):
    """Show one petition: its text, count, deadline and the signing form.

    The page is rendered once every few seconds per language and served from the cache; only the
    form's CSRF token, which is each visitor's own, is put in per request.
    """

    def render() -> str | None:
        # Read afresh: the page itself is cached, and a cached copy would make it staler.
        petition = queries.public_snapshot(slug)
        if petition is None:
            return None
        page, _status = _render_petition(petition, SignPetitionForm(), token=CSRF_MARKER)
        return page

    page = _cached_page("petition", render)
    if page is None:
        abort(404)
    return page.replace(CSRF_MARKER, form_token.issue(form_token.SIGN))


def _sign_limit() -> str:
    return current_app.config["SETTINGS"].sign_rate_limit


def _email_sign_limit() -> str:
    return current_app.config["SETTINGS"].sign_email_rate_limit


def _onion_sign_limit() -> str:
    return current_app.config["SETTINGS"].onion_sign_limit


def _global_sign_limit() -> str:
    return current_app.config["SETTINGS"].global_sign_limit


def _client_and_petition() -> str:
    return f"{request.remote_addr}|{request.view_args.get('slug')}"


def _email_and_petition() -> str:
    """Key a submission by the keyed hash of the email it gives, so that people who share an
    address (carrier NAT, the tor daemon) are counted apart and one mailbox is counted once.

    An email that cannot be read as one falls back on the client address, and through tor, where
    every client has the same address, on one bucket per petition.
    """
    slug = request.view_args.get("slug")
    try:
        hashed = email_hashes(request.form.get("email", "")).email
    except ValueError:
        sender = "onion" if came_through_tor() else f"address:{request.remote_addr}"
        return f"unreadable-email:{sender}|{slug}"
    return f"email:{hashed.hex()}|{slug}"


def _petition_only() -> str:
    return str(request.view_args.get("slug"))


def _not_through_tor() -> bool:
    return not came_through_tor()


def _admitted(response: Response) -> bool:
    """Count a submission against a limit only once every limit let it through: a client being
    turned away must not use up what the others with its address, its email, the onion service or
    the petition may still send."""
    return response.status_code != 429


def _closed_answer(petition: PetitionSnapshot):
    now = utcnow()
    return render_template(
        "public/closed.html",
        petition=petition,
        ended_at=petition.collection_ended_at(now),
        not_yet_open=petition.opens_at > now,
    ), 410


@bp.post("/petitions/<slug>/sign")
@limiter.limit(
    _sign_limit, key_func=_client_and_petition, exempt_when=came_through_tor, deduct_when=_admitted
)
@limiter.limit(
    _email_sign_limit, key_func=_email_and_petition, scope="sign-per-email", deduct_when=_admitted
)
@limiter.limit(
    _onion_sign_limit,
    key_func=_petition_only,
    scope="sign-through-tor",
    exempt_when=_not_through_tor,
    deduct_when=_admitted,
)
@limiter.limit(
    _global_sign_limit, key_func=_petition_only, scope="sign-all-clients", deduct_when=_admitted
)
def sign_petition(slug: str):
    """Take a signature; a new and a repeated one get exactly the same answer."""
    if not form_token.accepted(request.form.get("csrf_token"), form_token.SIGN):
        return render_error(400)
    petition = _petition_or_404(slug)
    if not petition.accepts_signatures_at(utcnow()):
        return _closed_answer(petition)
    form = SignPetitionForm()
    if not form.validate_on_submit():
        return _render_petition(petition, form, status=422)
    if not form.caught_a_bot:
        try:
            outcome = signing.sign(petition, _details(form))
        except signing.PetitionNotSignable:
            db.session.rollback()
            return _closed_answer(petition)
        queue_signature_notice(outcome)
        db.session.commit()
    return redirect(url_for("public.check_email", slug=petition.slug), code=303)


# The signing form carries its own token (form_token): Flask-WTF's session token stays for
# every other form.
csrf.exempt(sign_petition)


def _details(form: SignPetitionForm) -> signing.SignatureDetails:
    return signing.SignatureDetails(
        name=form.name.data,
        email=form.email.data,
        country=form.country.data,
        city=form.city.data,
        comment=form.comment.data or None,
        show_name=bool(form.show_name.data),
        news=bool(form.news.data),
        locale=str(get_locale() or "en"),
        # Through tor every signer has the tor daemon's address: stored, it would make them all
        # one "busy address" on the organisers' dashboard.
        client_address=None if came_through_tor() else request.remote_addr,
    )


@bp.get("/petitions/<slug>/check-email")
def check_email(slug: str):
    """Tell the signer to look for the confirmation email (the same page for everyone)."""
    petition = _petition_or_404(slug)
    return render_template(
        "public/check_email.html",
        petition=petition,
        link_days=signing.CONFIRMATION_LINK_AGE.days,
        grace_hours=int(signing.CONFIRMATION_GRACE.total_seconds() // 3600),
    )


@bp.get("/signatures/confirm/<rest:token>")
def confirm_signature_page(token: str):
    """Show a button that confirms; following the link alone changes nothing."""
    signature = signing.signature_for_token(token)
    if signature is None:
        return render_template("public/confirm_invalid.html"), 404
    return render_template(
        "public/confirm_signature.html",
        signature=signature,
        petition=signature.petition,
        link_form_token=form_token.issue(form_token.LINK),
    )


@bp.post("/signatures/confirm/<rest:token>")
def confirm_signature(token: str):
    """Confirm the signature behind the link, once."""
    if not form_token.accepted(request.form.get("csrf_token"), form_token.LINK):
        return render_error(400)
    result, signature = signing.confirm(token)
    db.session.commit()
    if result == signing.ConfirmResult.INVALID:
        return render_template("public/confirm_invalid.html"), 404
    if result == signing.ConfirmResult.TOO_LATE:
        return render_template("public/confirm_too_late.html", petition=signature.petition), 410
    # The thank-you page shows the receipt's link: only the address can carry it, since these
    # pages keep nothing on the signer's device.
    return redirect(
        url_for(
            "public.signature_confirmed",
            slug=signature.petition.slug,
            receipt=receipts.code_of(signature.public_id),
        ),
        code=303,
    )


@bp.get("/signatures/withdraw/<rest:token>")
def withdraw_signature_page(token: str):
    """Show a button that withdraws; following the link alone changes nothing."""
    signature = signing.signature_for_withdrawal(token)
    if signature is None:
        return render_template("public/confirm_invalid.html"), 404
    if not signature.petition.accepts_signatures_at(utcnow()):
        return _withdrawal_closed(signature.petition)
    return render_template(
        "public/withdraw_signature.html",
        petition=signature.petition,
        link_form_token=form_token.issue(form_token.LINK),
    )


def _withdrawal_closed(petition: Petition):
    ended_at = petition.collection_ended_at(utcnow())
    return render_template("public/withdraw_closed.html", petition=petition, ended_at=ended_at), 410


@bp.post("/signatures/withdraw/<rest:token>")
def withdraw_signature(token: str):
    """Withdraw the signature behind the link, while the petition is open."""
    if not form_token.accepted(request.form.get("csrf_token"), form_token.LINK):
        return render_error(400)
    result, signature = signing.withdraw(token)
    db.session.commit()
    if result == signing.WithdrawResult.INVALID:
        return render_template("public/confirm_invalid.html"), 404
    if result == signing.WithdrawResult.CLOSED:
        return _withdrawal_closed(signature.petition)
    return redirect(url_for("public.signature_withdrawn", slug=signature.petition.slug), code=303)


@bp.get("/petitions/<slug>/withdrawn")
def signature_withdrawn(slug: str):
    """Tell a signer their signature no longer counts (the same page for everyone)."""
    return render_template("public/signature_withdrawn.html", petition=_petition_or_404(slug))


def _receipt_limit() -> str:
    return current_app.config["SETTINGS"].receipt_rate_limit


def _client_address() -> str:
    return str(request.remote_addr)


def _no_receipt_asked() -> bool:
    return "receipt" not in request.args


# One count per client address for every page that looks a receipt code up, the thank-you page
# with one included: none of them may test codes faster than the others.
_receipt_limits = limiter.shared_limit(_receipt_limit, scope="receipt", key_func=_client_address)


@bp.get("/petitions/<slug>/thank-you")
@limiter.shared_limit(
    _receipt_limit, scope="receipt", key_func=_client_address, exempt_when=_no_receipt_asked
)
def signature_confirmed(slug: str):
    """Thank a signer whose signature now counts, with the link to its receipt."""
    petition = _petition_or_404(slug)
    code = request.args.get("receipt")
    signature = receipts.find_signature(petition, code) if code is not None else None
    return render_template(
        "public/signature_confirmed.html",
        petition=petition,
        count=queries.confirmed_count(petition),
        receipt_url=_receipt_url(petition.slug, code) if signature is not None else None,
    )


def _receipt_url(slug: str, code: str) -> str:
    """Return a receipt's link on the base this visitor's emails use (the onion one on it)."""
    return links_on(signer_base_url())("public.show_receipt", slug=slug, code=code)


#: A receipt's address is its secret: kept out of caches, search engines and Referer headers.
SECRET_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "no-referrer",
}
#: The pages whose address is a secret of one signer: a receipt's, and news' unsubscribe link.
_SECRET_ENDPOINTS = frozenset(
    {"public.show_receipt", "public.receipt_json", "public.unsubscribe_page", "public.unsubscribe"}
)


@bp.after_request
def _keep_receipts_secret(response: Response) -> Response:
    """Send the secret pages' headers with every answer at a receipt's or an unsubscribe link's
    address (their 404 and 429 too), and on the thank-you page that shows a receipt."""
    if request.endpoint in _SECRET_ENDPOINTS or (
        request.endpoint == "public.signature_confirmed" and "receipt" in request.args
    ):
        response.headers.update(SECRET_PAGE_HEADERS)
    return response


def _find_receipt(slug: str, code: str) -> tuple[PetitionSnapshot, receipts.Receipt | None]:
    """Find the receipt with this code: a malformed code and an unknown one cost the same."""
    petition = _petition_or_404(slug)
    signature = receipts.find_signature(petition, code)
    if signature is None:
        return petition, None
    return petition, receipts.receipt(signature, code, petition, _cache_seconds())


@bp.get("/petitions/<slug>/receipts/<code>")
@_receipt_limits
def show_receipt(slug: str, code: str):
    """Show a signature's receipt: its status and, for each export since, the proof of it."""
    petition, found = _find_receipt(slug, code)
    if found is None:
        return render_template("public/receipt_unknown.html", petition=petition), 404
    return render_template(
        "public/show_receipt.html",
        petition=petition,
        receipt=found,
        json_url=url_for("public.receipt_json", slug=petition.slug, code=code),
    )


@bp.get("/petitions/<segment:slug>/receipts/<code>.json")
@_receipt_limits
def receipt_json(slug: str, code: str):
    """Answer a signature's receipt as JSON, which `flask receipts verify` checks offline."""
    petition, found = _find_receipt(slug, code)
    if found is None:
        return render_error(404)
    return jsonify(found.document(petition.slug, petition.public_id))


@bp.get("/news/unsubscribe/<token>")
def unsubscribe_page(token: str):
    """Show a button that stops a signer's news; following the link alone changes nothing."""
    subscription = subscriptions.subscription_for_token(token)
    if subscription is None:
        return render_template("public/unsubscribe_unknown.html"), 404
    return render_template(
        "public/unsubscribe.html",
        petition=subscription.signature.petition,
        subscribed=subscription.unsubscribed_at is None,
        link_form_token=form_token.issue(form_token.LINK),
    )


#: The body of a one-click unsubscribe that a mail program POSTs (RFC 8058, section 3.1).
ONE_CLICK = "One-Click"


@bp.post("/news/unsubscribe/<token>")
def unsubscribe(token: str):
    """Stop a signer's news, from the page's button or a mail program's one-click POST."""
    one_click = request.form.get("List-Unsubscribe") == ONE_CLICK
    if not one_click and not form_token.accepted(request.form.get("csrf_token"), form_token.LINK):
        return render_error(400)
    subscription = subscriptions.subscription_for_token(token)
    if subscription is None:
        return render_template("public/unsubscribe_unknown.html"), 404
    subscriptions.unsubscribe(subscription, utcnow())
    db.session.commit()
    if one_click:
        return "", 204
    return render_template(
        "public/unsubscribe.html", petition=subscription.signature.petition, subscribed=False
    )


@bp.get("/livez")
def livez():
    """Answer that the process is up, touching nothing else (for load balancers, and as the
    baseline of the load benchmark)."""
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/healthz")
def healthz():
    """Answer 200 when the database answers, 503 when it does not."""
    try:
        queries.database_answers()
    except DATABASE_OUTAGES:
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


# These forms carry form_token's cookie-less token (the link's own signed token is the authority):
# opening the link writes no session cookie on the signer's device.
csrf.exempt(confirm_signature)
csrf.exempt(withdraw_signature)
# A one-click unsubscribe comes from the signer's mail program, with only the link's token.
csrf.exempt(unsubscribe)
