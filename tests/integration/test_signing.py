"""Signing: one person counts once, a repeat looks exactly like a first time, and only a
confirmed signature counts."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from petitions.models import (
    OutboxMessage,
    Petition,
    PetitionState,
    Signature,
    SignatureState,
    utcnow,
)
from petitions.services import queries, receipts, signing
from tests.helpers import confirm_path, csrf_token, sign, signing_data, written_email


def _signatures(db):
    return db.session.scalars(sa.select(Signature)).all()


def _outbox(db):
    return db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_signing_records_a_pending_signature_and_queues_its_confirmation(client, db, make_petition):
    petition = make_petition()
    response = sign(client, petition.slug, show_name="y", comment="Free him")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/petitions/{petition.slug}/check-email"
    [signature] = _signatures(db)
    assert signature.state == SignatureState.PENDING
    assert signature.name == "Әлия Қасымқызы Үмбетова"
    assert (signature.country, signature.city, signature.comment) == ("KZ", "Алматы", "Free him")
    assert signature.show_name is True
    [message] = _outbox(db)
    assert message.kind == "confirm"
    assert message.recipient == "aliya@example.org"
    assert "/signatures/confirm/" in written_email(message)[1]
    assert client.get(f"/petitions/{petition.slug}.json").json["signature_count"] == 0
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Check your email" in page


def test_a_repeat_gets_byte_for_byte_the_same_answer_and_no_second_row(client, db, make_petition):
    petition = make_petition()
    first = sign(client, petition.slug, email="a.liya@gmail.com")
    second = sign(client, petition.slug, email="  ALIYA+petition@googlemail.com ", name="Other")
    assert (first.status_code, first.headers["Location"], first.data) == (
        second.status_code,
        second.headers["Location"],
        second.data,
    )
    assert client.get(first.headers["Location"]).data == client.get(second.headers["Location"]).data
    [signature] = _signatures(db)
    assert signature.name == "Әлия Қасымқызы Үмбетова", "a repeat never rewrites a signature"


def test_a_repeat_while_pending_sends_a_fresh_link_that_voids_the_old(client, db, make_petition):
    petition = make_petition()
    sign(client, petition.slug)
    # The first email goes out (is written) before the signer asks again.
    old_link = confirm_path(written_email(_outbox(db)[0])[1])
    [signature] = _signatures(db)
    signature.last_emailed_at = utcnow() - signing.EMAIL_COOLDOWN - timedelta(seconds=1)
    db.session.commit()
    sign(client, petition.slug)
    _first, second = _outbox(db)
    assert second.kind == "confirm"
    new_link = confirm_path(written_email(second)[1])
    assert old_link != new_link
    assert client.get(old_link).status_code == 404
    assert client.get(new_link).status_code == 200


def test_repeats_within_a_minute_send_no_more_mail(client, db, make_petition):
    petition = make_petition()
    for _ in range(5):
        sign(client, petition.slug)
    assert len(_outbox(db)) == 1


def test_a_repeat_after_confirming_sends_already_signed(client, db, make_petition, make_signature):
    petition = make_petition()
    make_signature(
        petition, email="aliya@example.org", last_emailed_at=utcnow() - timedelta(hours=1)
    )
    response = sign(client, petition.slug)
    assert response.status_code == 303
    [message] = _outbox(db)
    assert message.kind == "already_signed"
    text = written_email(message)[1]
    assert "already signed" in text
    assert "/signatures/confirm/" not in text


def test_an_invalidated_signer_who_repeats_is_sent_nothing(
    client, db, make_petition, make_signature
):
    petition = make_petition()
    make_signature(petition, SignatureState.INVALIDATED, email="aliya@example.org")
    assert sign(client, petition.slug).status_code == 303
    assert _outbox(db) == []


def test_confirming_takes_a_button_press_and_counts_once(client, db, make_petition):
    petition = make_petition()
    sign(client, petition.slug)
    link = confirm_path(written_email(_outbox(db)[0])[1])
    page = client.get(link)
    assert page.status_code == 200
    assert "Confirm my signature" in page.get_data(as_text=True)
    assert _signatures(db)[0].state == SignatureState.PENDING, "following the link confirms nothing"
    token = csrf_token(client, link)
    done = client.post(link, data={"csrf_token": token})
    assert done.status_code == 303
    code = receipts.code_of(_signatures(db)[0].public_id)
    assert done.headers["Location"] == f"/petitions/{petition.slug}/thank-you?receipt={code}"
    assert "1 confirmed signature so far" in client.get(done.headers["Location"]).get_data(
        as_text=True
    )
    again = client.post(link, data={"csrf_token": token})
    assert again.status_code == 303
    db.session.expire_all()
    [signature] = _signatures(db)
    assert signature.state == SignatureState.CONFIRMED
    assert client.get(f"/petitions/{petition.slug}.json").json["signature_count"] == 1
    assert "already confirmed" in client.get(link).get_data(as_text=True)


def test_an_already_confirmed_link_says_so_and_offers_no_button(client, db, make_petition):
    petition = make_petition()
    sign(client, petition.slug)
    link = confirm_path(written_email(_outbox(db)[0])[1])
    client.post(link, data={"csrf_token": csrf_token(client, link)})
    page = client.get(link, headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h1>Signature already confirmed</h1>" in html
    assert "Your signature is already confirmed and counted on:" in html
    assert "You are about to confirm" not in html
    assert '<form method="post" action="/signatures/confirm/' not in html
    assert 'id="confirm-button"' not in html


def test_confirming_without_csrf_token_is_refused(client, db, make_petition):
    petition = make_petition()
    sign(client, petition.slug)
    link = confirm_path(written_email(_outbox(db)[0])[1])
    assert client.post(link).status_code == 400
    assert _signatures(db)[0].state == SignatureState.PENDING


def test_altered_or_expired_links_do_not_work(client, db, make_petition, monkeypatch):
    petition = make_petition()
    sign(client, petition.slug)
    link = confirm_path(written_email(_outbox(db)[0])[1])
    response = client.get(link[:-2] + ("aa" if not link.endswith("aa") else "bb"))
    assert response.status_code == 404
    assert "This link does not work" in response.get_data(as_text=True)
    token = csrf_token(client, link)
    monkeypatch.setattr(signing, "CONFIRMATION_LINK_AGE", timedelta(seconds=-1))
    assert client.get(link).status_code == 404
    assert client.post(link, data={"csrf_token": token}).status_code == 404
    assert _signatures(db)[0].state == SignatureState.PENDING


def test_a_signature_can_be_confirmed_within_a_day_of_closing_not_after(
    client, db, make_petition, make_signature
):
    petition = make_petition()
    sign(client, petition.slug)
    link = confirm_path(written_email(_outbox(db)[0])[1])
    token = csrf_token(client, link)
    petition.closes_at = utcnow() - timedelta(hours=23)
    petition.opens_at = utcnow() - timedelta(days=3)
    db.session.commit()
    assert client.post(link, data={"csrf_token": token}).status_code == 303
    late = make_petition(
        opens_at=utcnow() - timedelta(days=9), closes_at=utcnow() - timedelta(days=2)
    )
    pending = make_signature(late, SignatureState.PENDING, token_nonce="n" * 32)
    late_link = f"/signatures/confirm/{_token(client, pending)}"
    response = client.post(late_link, data={"csrf_token": token})
    assert response.status_code == 410
    assert "Too late to confirm" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Signature, pending.id).state == SignatureState.PENDING


def _token(client, signature):
    with client.application.test_request_context():
        return signing.confirmation_token(signature)


@pytest.mark.parametrize(
    ("state", "window"),
    [
        (PetitionState.CLOSED, (-5, -1)),
        (PetitionState.OPEN, (-5, -1)),
        (PetitionState.OPEN, (1, 5)),
    ],
)
def test_a_petition_outside_its_window_shows_no_form_and_refuses_with_410(
    client, db, make_petition, state, window
):
    opens, closes = (utcnow() + timedelta(days=days) for days in window)
    petition = make_petition(state, opens_at=opens, closes_at=closes)
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert 'action="/petitions/' not in page
    # A signer whose tab was opened while signing was possible still holds a valid token.
    token = csrf_token(client, f"/petitions/{make_petition().slug}")
    response = client.post(f"/petitions/{petition.slug}/sign", data=signing_data(csrf_token=token))
    assert response.status_code == 410
    text = response.get_data(as_text=True)
    assert ("opens on" if window[0] > 0 else "closed on") in text
    assert _signatures(db) == []


def test_the_database_refuses_a_signature_after_closing_whatever_the_app_believes(
    app, db, make_petition
):
    petition = make_petition()
    # Another host closes the window; this process still holds the petition as it was.
    db.session.execute(
        sa.update(Petition)
        .where(Petition.id == petition.id)
        .values(closes_at=signing.database_now() - timedelta(seconds=1))
        .execution_options(synchronize_session=False)
    )
    assert petition.accepts_signatures_at(utcnow()), "the app's copy still says open"
    details = signing.SignatureDetails(
        name="Late Signer",
        email="late@example.org",
        country="KZ",
        city="Almaty",
        comment=None,
        show_name=False,
        locale="en",
        client_address="192.0.2.1",
    )
    with app.test_request_context(), pytest.raises(signing.PetitionNotSignable):
        signing.sign(queries.PetitionSnapshot.of(petition), details)
    db.session.rollback()
    assert _signatures(db) == []


def test_a_post_without_csrf_token_is_refused(client, db, make_petition):
    petition = make_petition()
    response = client.post(f"/petitions/{petition.slug}/sign", data=signing_data())
    assert response.status_code == 400
    assert "The form could not be read" in response.get_data(as_text=True)
    assert _signatures(db) == []


def test_the_honeypot_catches_bots_silently(client, db, make_petition):
    petition = make_petition()
    response = sign(client, petition.slug, website="http://spam.example")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/petitions/{petition.slug}/check-email"
    assert _signatures(db) == [] and _outbox(db) == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": ""}, "name", "Enter your name."),
        ({"name": "Visit https://spam.example"}, "name", "cannot contain a web address"),
        ({"name": "buy at cheap.ru"}, "name", "cannot contain a web address"),
        ({"name": "=HYPERLINK(1)"}, "name", "cannot begin with"),
        ({"name": "+77011234567"}, "name", "cannot begin with"),
        ({"name": "-Aliya"}, "name", "cannot begin with"),
        ({"name": "@aliya"}, "name", "cannot begin with"),
        ({"name": "Ali\u202eya"}, "name", "invisible or control characters"),
        ({"name": "\u200b"}, "name", "Enter your name."),
        ({"name": "\u200b\u2060\ufeff"}, "name", "Enter your name."),
        ({"name": "\u200b=SUM(1+1)"}, "name", "cannot begin with"),
        ({"name": "\u200f+77011234567"}, "name", "cannot begin with"),
        ({"name": "Z" + "\u0336\u0334\u0335" * 30}, "name", "stacked accents or marks"),
        ({"name": "\u0301\u0301"}, "name", "stands on no letter"),
        ({"city": "\u200b"}, "city", "Enter your city or town."),
        ({"city": "Al\u2066maty"}, "city", "invisible or control characters"),
        ({"comment": "a" + "\u0489" * 40}, "comment", "stacked accents or marks"),
        ({"email": "not-an-email"}, "email", "Enter an email address"),
        ({"email": "a@b"}, "email", "Enter an email address"),
        ({"country": "XX"}, "country", "Choose a country from the list."),
        ({"country": ""}, "country", "Choose your country."),
        ({"city": ""}, "city", "Enter your city or town."),
        ({"consent": None}, "consent", "Tick the box to agree"),
        ({"comment": "x" * 1001}, "comment", "1000"),
    ],
)
def test_bad_input_is_explained_at_the_field_and_keeps_what_was_typed(
    client, db, make_petition, fields, field, message
):
    petition = make_petition()
    response = sign(client, petition.slug, **{"city": "Қарағанды", **fields})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page
    assert message in page
    assert 'role="alert"' in page
    assert 'aria-invalid="true"' in page
    assert f'href="#{field}"' in page
    if field != "city":
        assert 'value="Қарағанды"' in page, "what was typed is kept"
    assert _signatures(db) == []


def test_names_in_any_script_are_accepted(client, db, make_petition):
    petition = make_petition()
    names = ["Әлия Қасымқызы Үмбетова", "Алексей Иванов", "محمد علي", "O'Brien-Smith", "李小龍"]
    for number, name in enumerate(names):
        assert (
            sign(client, petition.slug, name=name, email=f"s{number}@example.org").status_code
            == 303
        )
    assert sorted(s.name for s in _signatures(db)) == sorted(names)


def test_invisible_characters_are_removed_and_joiners_kept_where_they_spell(
    client, db, make_petition
):
    petition = make_petition()
    typed = {
        "\u200fمحمد علي\u200f": "محمد علي",
        "Ali\u200bya\u00ad Qasym": "Aliya Qasym",
        "می\u200cخواهم": "می\u200cخواهم",
        "Ali \U0001f469\U0001f3fd\u200d\U0001f4bb": "Ali \U0001f469\U0001f3fd\u200d\U0001f4bb",
    }
    for number, name in enumerate(typed):
        response = sign(client, petition.slug, name=name, email=f"s{number}@example.org")
        assert response.status_code == 303
    assert sorted(s.name for s in _signatures(db)) == sorted(typed.values())


def test_recent_signers_show_only_those_who_agreed(client, make_petition, make_signature):
    petition = make_petition()
    make_signature(petition, name="Public Person", show_name=True)
    make_signature(petition, name="Private Person", show_name=False)
    make_signature(petition, SignatureState.PENDING, name="Pending Person", show_name=True)
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "Public Person" in page
    assert "Private Person" not in page
    assert "Pending Person" not in page


def test_the_page_has_share_links_and_social_meta_but_no_foreign_scripts(client, make_petition):
    petition = make_petition(title="Free the poet")
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert '<meta property="og:title" content="Free the poet">' in page
    assert '<meta name="twitter:card" content="summary">' in page
    assert "https://t.me/share/url?url=http%3A//localhost/petitions/" in page
    assert "<script" not in page


def test_emails_are_written_in_the_signers_language(client, db, make_petition):
    petition = make_petition()
    sign(client, petition.slug, headers={"Accept-Language": "ru"})
    [message] = _outbox(db)
    assert written_email(message)[0].startswith("Подтвердите")
    assert _signatures(db)[0].locale == "ru"


def test_no_email_or_address_reaches_the_database_or_logs_in_clear(
    client, db, make_petition, runner, caplog
):
    petition = make_petition()
    caplog.set_level("DEBUG")
    sign(client, petition.slug, email="secret.person@example.org")
    assert runner.invoke(args=["mail", "send"]).exit_code == 0
    raw = db.session.execute(sa.text("SELECT email, ip_hash FROM signatures")).one()
    assert b"secret.person" not in bytes(raw.email)
    assert b"127.0.0.1" not in bytes(raw.ip_hash)
    assert len(raw.ip_hash) == 32
    assert "secret.person@example.org" not in caplog.text
    assert "127.0.0.1" not in caplog.text
    assert "s***@example.org" in caplog.text
