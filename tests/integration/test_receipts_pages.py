"""Inclusion receipts as a signer meets them: the link in the email and on the thank-you page,
the receipt's page and JSON, and every export's proof, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import re
import secrets
from datetime import timedelta
from urllib.parse import quote, unquote

import pytest
import sqlalchemy as sa

from petitions.i18n import format_in_zone
from petitions.merkle import verify_inclusion
from petitions.models import (
    COUNTED_STATES,
    Delivery,
    DeliveryKind,
    ExportStatus,
    ReceiptChunk,
    Signature,
    SignatureState,
    utcnow,
)
from petitions.receipts import ReceiptError, check_receipt, receipt_leaf
from petitions.sealing import SealingIdentity
from petitions.services import lifecycle, moderation, receipts, retention
from tests.conftest import save
from tests.helpers import confirm_path, csrf_token, sign
from tests.html_check import checker, html_errors
from tests.receipt_fixtures import finished_export

SITE = "http://localhost"
SENTENCE = (
    "Keep this link: after the petition is delivered it shows whether your signature is in the "
    "bundle, with a proof anyone can check."
)
SECRET_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "no-referrer",
}
#: What the signer typed, which no receipt may show.
TYPED = {
    "name": "Әлия Қасымқызы Үмбетова",
    "email": "aliya.umbetova@example.org",
    "city": "Талдықорған",
    "comment": "Менің пікірім осындай",
}


@pytest.fixture
def app_overrides(smtp_port, request):
    overrides = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_port)}
    wanted = dict(getattr(request, "param", {}))
    if wanted.pop("limits", False):
        storage = request.getfixturevalue("limit_storage")
        overrides.update(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=storage)
    return {**overrides, **wanted}


def _sent(runner, smtp) -> tuple[str, str]:
    """Send what waits in the outbox over SMTP; return the newest email's text and HTML."""
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    message = smtp.messages[-1]
    text, html = (message.get_body((kind,)).get_content() for kind in ("plain", "html"))
    return text.replace("\r\n", "\n"), html.replace("\r\n", "\n")


def _receipt_path(slug: str, signature: Signature) -> str:
    return f"/petitions/{slug}/receipts/{receipts.code_of(signature.public_id)}"


def _export(db, petition, kind=DeliveryKind.FINAL, at=None) -> Delivery:
    """Record a finished export whose tree holds the counted signatures, in the bundle's order."""
    at = at or utcnow()
    rows = db.session.scalars(
        sa.select(Signature)
        .where(Signature.petition_id == petition.id, Signature.state.in_(COUNTED_STATES))
        .order_by(Signature.created_at, Signature.id)
    ).all()
    return finished_export(db, petition, kind, at, rows, secrets.token_hex(32), finished_at=at)


def _signed(client, db, runner, smtp, petition, **typed) -> tuple[Signature, str, str]:
    """Sign through the form; return the signature and the email's text and HTML."""
    assert sign(client, petition.slug, **typed).status_code == 303
    text, html = _sent(runner, smtp)
    signature = db.session.scalars(
        sa.select(Signature).where(Signature.petition_id == petition.id).order_by(Signature.id)
    ).all()[-1]
    return signature, text, html


def _confirm(client, text: str):
    link = confirm_path(text)
    return client.post(link, data={"csrf_token": csrf_token(client, link)})


def _included(document: dict, export: dict) -> bool:
    leaf = bytes.fromhex(document["leaf"])
    path = [bytes.fromhex(node) for node in export["audit_path"]]
    root = bytes.fromhex(export["root"])
    return verify_inclusion(leaf, export["leaf_index"], export["tree_size"], path, root)


def _when(app, moment, zone: str) -> str:
    with app.test_request_context():
        return format_in_zone(moment, zone)


# From the email to the proof ---------------------------------------------------------------------


def test_a_signer_follows_their_receipt_from_the_email_to_a_proof(
    app, client, db, runner, smtp, make_petition, make_signature
):
    petition = make_petition()
    signature, text, html = _signed(client, db, runner, smtp, petition)
    assert signature.receipt_leaf == receipts.leaf_of(petition.public_id, signature.public_id)
    code = receipts.code_of(signature.public_id)
    url = f"{SITE}/petitions/{petition.slug}/receipts/{code}"
    assert f"{SENTENCE}\n{url}\n" in text
    assert f'{SENTENCE}<br><a href="{url}">{url}</a>' in html
    path = url.removeprefix(SITE)

    pending = client.get(path)
    assert pending.status_code == 200
    assert "Not confirmed yet." in pending.get_data(as_text=True)
    assert client.get(f"{path}.json").json["status"] == "pending"

    confirmed = _confirm(client, text)
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == f"/petitions/{petition.slug}/thank-you?receipt={code}"
    thanks = client.get(confirmed.headers["Location"])
    assert thanks.status_code == 200
    thank_page = thanks.get_data(as_text=True)
    assert SENTENCE in thank_page and f'<a href="{url}">{url}</a>' in thank_page
    assert {name: thanks.headers.get(name) for name in SECRET_HEADERS} == SECRET_HEADERS
    page = client.get(path).get_data(as_text=True)
    assert "Confirmed on" in page and "No bundle of this petition has been exported" in page

    for _ in range(4):
        make_signature(petition)
    delivery = _export(db, petition)
    document = client.get(f"{path}.json").json
    assert document["status"] == "confirmed"
    (export,) = document["exports"]
    assert export["tree_size"] == delivery.tree_size == 5
    assert export["root"] == delivery.tree_root
    assert export["bundle_sha256"] == delivery.bundle_sha256
    assert export["kind"] == "final"
    assert export["leaf_index"] == 0
    assert _included(document, export)
    assert check_receipt(document).ok
    page = client.get(path).get_data(as_text=True)
    assert "Your signature is in this bundle: proof checked." in page
    assert delivery.tree_root in page and delivery.bundle_sha256 in page
    for node in export["audit_path"]:
        assert f"<code>{node}</code>" in page


def test_the_email_of_a_sealed_petition_carries_the_receipt_link_too(
    client, db, runner, smtp, make_organiser, make_petition
):
    organiser = make_organiser()
    petition = make_petition(organiser=organiser)
    lifecycle.seal(petition, SealingIdentity.generate().public_key.line, organiser)
    db.session.commit()
    signature, text, html = _signed(client, db, runner, smtp, petition)
    assert signature.sealed is not None and signature.email is None
    assert signature.receipt_leaf == receipts.leaf_of(petition.public_id, signature.public_id)
    url = SITE + _receipt_path(petition.slug, signature)
    assert f"{SENTENCE}\n{url}\n" in text and f'href="{url}"' in html
    assert client.get(url.removeprefix(SITE) + ".json").json["status"] == "pending"


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_the_receipt_link_is_explained_in_the_signer_s_language(
    client, db, runner, smtp, make_petition, language
):
    petition = make_petition()
    client.set_cookie("lang", language)
    signature, text, html = _signed(client, db, runner, smtp, petition)
    url = SITE + _receipt_path(petition.slug, signature)
    assert url in text and f'href="{url}"' in html
    assert SENTENCE not in text
    line_before = text[: text.index(url)].rstrip("\n").rsplit("\n", 1)[-1]
    assert re.search(r"[а-яәғқңөұүһі]", line_before), line_before


def test_an_already_signed_email_carries_the_receipt_link(client, db, runner, smtp, make_petition):
    petition = make_petition()
    signature, text, _html = _signed(client, db, runner, smtp, petition)
    assert _confirm(client, text).status_code == 303
    db.session.execute(sa.update(Signature).values(last_emailed_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    again, text, _html = _signed(client, db, runner, smtp, petition)
    assert again.id == signature.id
    assert "already signed" in text
    assert SITE + _receipt_path(petition.slug, signature) in text


# Withdrawn, invalidated, purged ------------------------------------------------------------------


def test_a_withdrawn_signature_says_so_and_is_in_no_later_tree(
    app, client, db, runner, smtp, make_petition, make_signature
):
    petition = make_petition()
    signature, text, _html = _signed(client, db, runner, smtp, petition)
    assert _confirm(client, text).status_code == 303
    make_signature(petition)
    first = _export(db, petition, DeliveryKind.INTERIM)
    withdraw = re.search(r"https?://[^/\s]+(/signatures/withdraw/\S+)", text)[1]
    token = {"csrf_token": csrf_token(client, withdraw)}
    assert client.post(withdraw, data=token).status_code == 303
    second = _export(db, petition, at=utcnow() + timedelta(seconds=1))
    path = _receipt_path(petition.slug, signature)
    document = client.get(f"{path}.json").json
    assert document["status"] == "withdrawn"
    assert [e["root"] for e in document["exports"]] == [first.tree_root, second.tree_root]
    earlier, later = document["exports"]
    assert earlier["kind"] == "interim" and _included(document, earlier)
    assert (later["leaf_index"], later["audit_path"], later["tree_size"]) == (None, None, 1)
    assert check_receipt(document).ok
    page = client.get(path).get_data(as_text=True)
    db.session.refresh(signature)
    when = _when(app, signature.withdrawn_at, petition.timezone)
    assert f"Withdrawn by you on {when}." in page
    assert "Your signature is not in this bundle." in page


def test_an_invalidated_signature_gives_the_date_and_the_organisers_reason(
    app, client, db, make_petition, make_signature
):
    petition = make_petition()
    signature = make_signature(petition)
    make_signature(petition)
    _export(db, petition, DeliveryKind.INTERIM)
    reason = "Two signatures from one household, the same address"
    moderation.invalidate_ids(petition, None, reason, utcnow(), [signature.public_id])
    db.session.commit()
    later = _export(db, petition, at=utcnow() + timedelta(seconds=1))
    path = _receipt_path(petition.slug, signature)
    document = client.get(f"{path}.json").json
    assert document["status"] == "invalidated"
    assert [e["leaf_index"] is None for e in document["exports"]] == [False, True]
    assert later.tree_size == 1
    page = client.get(path).get_data(as_text=True)
    db.session.refresh(signature)
    when = _when(app, signature.invalidated_at, petition.timezone)
    assert f"Invalidated by the organisers on {when}." in page
    assert f"The reason they gave: <q><bdi>{reason}</bdi></q>" in page


def test_after_the_purge_the_receipt_says_so_and_still_proves_inclusion(
    app, client, db, make_petition, make_signature
):
    from petitions.models import PetitionState

    petition = make_petition()
    signature = make_signature(petition, **TYPED)
    make_signature(petition)
    _export(db, petition)
    petition.state = PetitionState.CLOSED
    petition.closed_at = utcnow()
    retention.purge(petition, utcnow())
    db.session.commit()
    path = _receipt_path(petition.slug, signature)
    document = client.get(f"{path}.json").json
    assert document["status"] == "purged"
    assert _included(document, document["exports"][0]) and check_receipt(document).ok
    page = client.get(path).get_data(as_text=True)
    when = _when(app, petition.purged_at, petition.timezone)
    assert f"The signers' personal data was erased on {when}." in page


def test_exports_made_before_the_signature_are_not_listed(
    client, db, make_petition, make_signature
):
    petition = make_petition()
    make_signature(petition)
    _export(db, petition, at=utcnow() - timedelta(minutes=5))
    failed = Delivery(petition=petition, kind=DeliveryKind.FINAL, status=ExportStatus.FAILED)
    db.session.add(failed)
    signature = make_signature(petition)
    after = _export(db, petition)
    document = client.get(_receipt_path(petition.slug, signature) + ".json").json
    assert [export["root"] for export in document["exports"]] == [after.tree_root]


def test_a_proof_that_fails_on_the_server_is_shown_as_a_failure(
    client, db, make_petition, make_signature
):
    petition = make_petition()
    signature = make_signature(petition)
    make_signature(petition)
    delivery = _export(db, petition)
    # A stored tree that no longer leads to its root: the sibling leaf is changed.
    chunk = db.session.get(ReceiptChunk, (delivery.id, 0, 0))
    chunk.hashes = bytes(chunk.hashes[:32]) + b"\x01" * 32
    save(db)
    path = _receipt_path(petition.slug, signature)
    page = client.get(path).get_data(as_text=True)
    assert 'role="alert"><strong>The proof of this bundle FAILED' in page
    assert "proof checked" not in page
    assert not check_receipt(client.get(f"{path}.json").json).ok


# The JSON ----------------------------------------------------------------------------------------


def test_the_json_passes_the_offline_check_and_fails_it_when_tampered_with(
    client, db, make_petition, make_signature
):
    petition = make_petition()
    signatures = [make_signature(petition) for _ in range(7)]
    _export(db, petition, DeliveryKind.INTERIM)
    _export(db, petition, at=utcnow() + timedelta(seconds=1))
    signature = signatures[4]
    code = receipts.code_of(signature.public_id)
    document = client.get(f"/petitions/{petition.slug}/receipts/{code}.json").json
    assert set(document) == {"petition", "petition_id", "code", "status", "leaf", "exports"}
    assert (document["petition"], document["petition_id"]) == (petition.slug, petition.public_id)
    assert document["code"] == code
    assert document["leaf"] == receipt_leaf(petition.public_id, code).hex()
    assert [export["leaf_index"] for export in document["exports"]] == [4, 4]
    for export in document["exports"]:
        assert set(export) == {
            "exported_at",
            "kind",
            "bundle_sha256",
            "tree_size",
            "root",
            "leaf_index",
            "audit_path",
        }
    checked = check_receipt(document)
    assert checked.ok and checked.leaf_matches
    assert [(e.included, e.proof_holds) for e in checked.exports] == [(True, True)] * 2

    def tampered(change) -> dict:
        copied = copy.deepcopy(document)
        change(copied)
        return copied

    flip = {"0": "1", "1": "0"}

    def flipped(text: str) -> str:
        return flip.get(text[0], "0") + text[1:]

    changes = [
        lambda d: d["exports"][1].update(leaf_index=3),
        lambda d: d["exports"][0]["audit_path"].__setitem__(
            0, flipped(d["exports"][0]["audit_path"][0])
        ),
        lambda d: d["exports"][1].update(root=flipped(d["exports"][1]["root"])),
        lambda d: d["exports"][1].update(tree_size=5),
        lambda d: d.update(leaf=flipped(d["leaf"])),
        lambda d: d.update(code=("b" if d["code"][0] == "a" else "a") + d["code"][1:]),
        lambda d: d.update(petition_id=petition.public_id[::-1]),
    ]
    for number, change in enumerate(changes):
        assert not check_receipt(tampered(change)).ok, number
    with pytest.raises(ReceiptError):
        check_receipt(tampered(lambda d: d["exports"][0].update(audit_path="not a list")))


# What a receipt never tells ----------------------------------------------------------------------


def test_no_receipt_shows_the_signer_s_name_email_city_or_comment(
    client, db, runner, smtp, make_petition
):
    petition = make_petition()
    signature, text, _html = _signed(client, db, runner, smtp, petition, **TYPED)
    assert _confirm(client, text).status_code == 303
    assert signature.name == TYPED["name"] and signature.city == TYPED["city"]
    _export(db, petition)
    path = _receipt_path(petition.slug, signature)
    answers = [client.get(path), client.get(f"{path}.json")]
    for answer in answers:
        assert answer.status_code == 200
        body = answer.get_data(as_text=True)
        raw = answer.get_data()
        for value in TYPED.values():
            for part in value.split():
                assert part not in body, part
                assert part.encode("unicode_escape") not in raw, part
        assert "aliya" not in body.lower() and "example.org" not in body


# Unknown and malformed codes ---------------------------------------------------------------------


def _statements(db):
    """Count the SQL statements run while the block is open."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint", statement))

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    return seen, lambda: sa.event.remove(engine, "before_cursor_execute", count)


def _unechoed(answer, code: str) -> str:
    """The body with the address's code taken out: the language switcher's links repeat it."""
    body = answer.get_data(as_text=True)
    forms = {code, unquote(code), quote(unquote(code)), quote(unquote(code), safe="")}
    for form in sorted(forms, key=len, reverse=True):
        body = body.replace(form, "<the code>")
    return body


def test_an_unknown_code_answers_exactly_as_a_malformed_one(
    client, db, make_petition, make_signature
):
    petition = make_petition()
    other = make_petition()
    signature = make_signature(petition)
    elsewhere = make_signature(other)
    code = receipts.code_of(signature.public_id)
    codes = {
        "unknown": "a" * 24,
        "another petition's": receipts.code_of(elsewhere.public_id),
        "upper case": code.upper(),
        "too short": code[:-1],
        "too long": code + "a",
        "with a dot": code[:-1] + ".",
        "not base32": code[:-1] + "1",
        "percent-encoded": "%E2%80%AE" + code[3:],
    }
    client.get(f"/petitions/{petition.slug}")  # the petition's copy is cached alike for all
    for suffix in ("", ".json"):
        answers, queries = {}, {}
        for label, wrong in codes.items():
            seen, stop = _statements(db)
            try:
                answer = client.get(f"/petitions/{petition.slug}/receipts/{wrong}{suffix}")
            finally:
                stop()
            headers = {k: v for k, v in answer.headers.items() if k != "Content-Length"}
            answers[label] = (answer.status_code, _unechoed(answer, wrong), headers)
            queries[label] = seen
        assert {label: a[0] for label, a in answers.items()} == dict.fromkeys(codes, 404)
        assert len({a[1] for a in answers.values()}) == 1, suffix
        assert len({str(a[2]) for a in answers.values()}) == 1, suffix
        assert len({tuple(q) for q in queries.values()}) == 1, queries
        assert client.get(f"/petitions/{petition.slug}/receipts/{code}{suffix}").status_code == 200
    page = client.get(f"/petitions/{petition.slug}/receipts/{'a' * 24}").get_data(as_text=True)
    assert "No such receipt" in page
    assert client.get(f"/petitions/{petition.slug}/receipts/x.json").json["status"] == 404
    for suffix in ("", ".json"):
        assert client.get(f"/petitions/none-such/receipts/{code}{suffix}").status_code == 404


# Headers, cookies, the URL map -------------------------------------------------------------------


def _receipt_rules(app):
    return [rule for rule in app.url_map.iter_rules() if "/receipts/" in rule.rule]


def test_every_receipt_route_sends_the_secret_headers_and_no_cookie(
    app, db, make_petition, make_signature
):
    petition = make_petition()
    signature = make_signature(petition)
    code = receipts.code_of(signature.public_id)
    rules = _receipt_rules(app)
    assert sorted(rule.endpoint for rule in rules) == ["public.receipt_json", "public.show_receipt"]
    adapter = app.url_map.bind("localhost")
    paths = []
    for rule in rules:
        for wanted in (code, "a" * 24, "bad"):
            paths.append(adapter.build(rule.endpoint, {"slug": petition.slug, "code": wanted}))
        paths.append(adapter.build(rule.endpoint, {"slug": "none-such", "code": code}))
    paths.append(f"/petitions/{petition.slug}/thank-you?receipt={code}")
    for path in paths:
        answer = app.test_client().get(path)  # a visitor with no cookie yet
        assert answer.status_code in (200, 404), path
        assert {name: answer.headers.get(name) for name in SECRET_HEADERS} == SECRET_HEADERS, path
        assert answer.headers.getlist("Set-Cookie") == [], path
    plain = app.test_client().get(f"/petitions/{petition.slug}/thank-you")
    assert "no-store" not in plain.headers.get("Cache-Control", "")


def test_the_thank_you_page_shows_no_link_for_a_code_it_does_not_know(
    client, make_petition, make_signature
):
    petition = make_petition()
    other = make_petition()
    stranger = make_signature(other)
    for wrong in ("a" * 24, receipts.code_of(stranger.public_id), "<script>"):
        page = client.get(f"/petitions/{petition.slug}/thank-you", query_string={"receipt": wrong})
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        assert SENTENCE not in body and "/receipts/" not in body and "<script>" not in body


# The rate limit ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "app_overrides", [{"limits": True, "RECEIPT_RATE_LIMIT": "4 per minute"}], indirect=True
)
def test_receipts_are_rate_limited_per_client_address_with_the_site_s_429(
    limit_storage, client, make_petition, make_signature
):
    petition = make_petition()
    path = _receipt_path(petition.slug, make_signature(petition))

    def get(suffix="", address="198.51.100.7", **headers):
        return client.get(path + suffix, environ_base={"REMOTE_ADDR": address}, headers=headers)

    address = {"REMOTE_ADDR": "198.51.100.7"}

    def thank_you(**query):
        page = f"/petitions/{petition.slug}/thank-you"
        return client.get(page, query_string=query, environ_base=address).status_code

    unknown = f"/petitions/{petition.slug}/receipts/{'a' * 24}"
    answers = [get().status_code, get(".json").status_code]
    answers.append(client.get(unknown, environ_base=address).status_code)
    # The thank-you page counts when it looks a code up, and only then.
    answers.append(thank_you(receipt="b" * 24))
    assert [thank_you() for _ in range(3)] == [200] * 3
    assert answers == [200, 200, 404, 200]
    refused = get(**{"Accept-Language": "ru"})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    page = refused.get_data(as_text=True)
    assert '<html lang="ru">' in page and "Traceback" not in page
    assert refused.headers["Cache-Control"] == "no-store"
    assert get(".json").status_code == 429
    assert get(".json").json["status"] == 429
    assert (thank_you(receipt="b" * 24), thank_you()) == (429, 200)
    assert get(address="203.0.113.9").status_code == 200


# Valid HTML --------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"])
def test_receipt_pages_pass_the_html_checker(
    app, client, db, make_petition, make_signature, tmp_path
):
    jar = checker()
    petition = make_petition()
    pending = make_signature(petition, SignatureState.PENDING)
    confirmed = make_signature(petition)
    withdrawn = make_signature(petition)
    invalidated = make_signature(petition)
    _export(db, petition, DeliveryKind.INTERIM, at=utcnow() - timedelta(seconds=1))
    withdrawn.withdraw(utcnow())
    invalidated.invalidate(utcnow(), "Signed twice <b>on</b> one day", "act-1")
    save(db)
    _export(db, petition)
    lonely_petition = make_petition()
    lonely = make_signature(lonely_petition)
    _export(db, lonely_petition)
    pages = {
        "pending": _receipt_path(petition.slug, pending),
        "confirmed": _receipt_path(petition.slug, confirmed),
        "withdrawn": _receipt_path(petition.slug, withdrawn),
        "invalidated": _receipt_path(petition.slug, invalidated),
        "alone": _receipt_path(lonely_petition.slug, lonely),
        "unknown": f"/petitions/{petition.slug}/receipts/{'a' * 24}",
        "thank-you": f"/petitions/{petition.slug}/thank-you?receipt="
        + receipts.code_of(confirmed.public_id),
    }
    files = []
    for language in ("en", "kk", "ru"):
        client.set_cookie("lang", language)
        for name, path in pages.items():
            answer = client.get(path)
            assert answer.status_code in (200, 404), path
            file = tmp_path / f"{language}-{name}.html"
            file.write_text(answer.get_data(as_text=True), encoding="utf-8")
            files.append(file)
    errors = html_errors(jar, files)
    assert not errors, errors
