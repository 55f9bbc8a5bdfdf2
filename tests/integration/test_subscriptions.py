"""The signer's choice of news: the form's field, the subscription it makes, who news goes to."""

import re

import pytest
import sqlalchemy as sa

from petitions.models import OutboxMessage, SignatureState, Subscription, utcnow
from petitions.sealing import SealingIdentity
from petitions.services import subscriptions
from tests.helpers import (
    confirm_path,
    csrf_token,
    link_form_token,
    sign,
    signing_data,
    written_email,
)

LABELS = {
    "en": "Email me when there is news of this petition",
    "ru": "Сообщать мне по электронной почте о новостях этой петиции",
    "kk": "Осы петиция туралы жаңалық болғанда маған электрондық хат жіберу",
}
#: The note under the field, with RETENTION_DAYS = 30 (this module's setting).
NOTES = {
    "en": "Optional. Your address is kept for this only, encrypted, and erased 30 days after the "
    "petition is delivered or closes. Every news email has a link to stop them.",
    "ru": "Необязательно. Адрес хранится только для этого, в зашифрованном виде, и удаляется "
    "через 30 дней после передачи или закрытия петиции. В каждом письме с новостями есть "
    "ссылка, чтобы от них отказаться.",
    "kk": "Міндетті емес. Мекенжайыңыз тек осы мақсатпен, шифрланған түрде сақталады және "
    "петиция жеткізілгеннен немесе жабылғаннан кейін 30 күн өткенде өшіріледі. Жаңалық туралы "
    "әр хатта оларды тоқтататын сілтеме бар.",
}
SEALED_NOTES = {
    "en": "Optional. This petition is sealed, but ticking this means the server keeps your email "
    "address, in a form this site can read, so that it can write to you; your name, city and "
    "comment stay sealed. The address is used for nothing else and is erased 30 days after the "
    "petition is delivered or closes.",
    "ru": "Необязательно. Эта петиция запечатана, но если отметить этот пункт, сервер сохранит "
    "ваш адрес электронной почты в виде, доступном для чтения этому сайту, чтобы писать вам; "
    "имя, город и комментарий остаются запечатанными. Адрес не используется ни для чего "
    "другого и удаляется через 30 дней после передачи или закрытия петиции.",
    "kk": "Міндетті емес. Бұл петиция мөрленген, бірақ осыны белгілесеңіз, сізге хат жаза алу "
    "үшін сервер электрондық пошта мекенжайыңызды осы сайттың өзі оқи алатын түрде сақтайды; "
    "аты-жөніңіз, қалаңыз және пікіріңіз мөрленген күйінде қалады. Мекенжай басқа ешнәрсеге "
    "пайдаланылмайды және петиция жеткізілгеннен немесе жабылғаннан кейін 30 күн өткенде "
    "өшіріледі.",
}
NEWS_INPUT = re.compile(r"<input[^>]*\bname=\"news\"[^>]*>")


@pytest.fixture
def app_overrides():
    return {"RETENTION_DAYS": "30"}


def _subscriptions(db):
    return db.session.scalars(sa.select(Subscription).order_by(Subscription.id)).all()


def _news_field(page: str) -> tuple[str, str, str]:
    """Return the news checkbox's input, its label's text and its note's text."""
    [field] = NEWS_INPUT.findall(page)
    label = re.search(r'<label for="news">([^<]*)</label>', page).group(1)
    note = re.search(r'<p class="field__hint" id="news-hint">([^<]*)</p>', page).group(1)
    return field, label, note


@pytest.mark.parametrize("language", ["en", "ru", "kk"])
def test_the_form_offers_news_unticked_with_its_note(client, make_petition, language):
    petition = make_petition()
    page = client.get(f"/petitions/{petition.slug}", headers={"Accept-Language": language})
    assert page.status_code == 200
    field, label, note = _news_field(page.get_data(as_text=True))
    assert (
        field
        == '<input aria-describedby="news-hint" id="news" name="news" type="checkbox" value="y">'
    )
    assert (label, note) == (LABELS[language], NOTES[language])


@pytest.mark.parametrize("language", ["en", "ru", "kk"])
def test_a_sealed_petition_says_that_news_keeps_the_address(client, make_petition, language):
    petition = make_petition(sealing_key=SealingIdentity.generate().public_key.line)
    page = client.get(
        f"/petitions/{petition.slug}", headers={"Accept-Language": language}
    ).get_data(as_text=True)
    field, label, note = _news_field(page)
    assert "checked" not in field
    assert (label, note) == (LABELS[language], SEALED_NOTES[language])


def test_a_form_sent_back_with_errors_keeps_the_choice(client, make_petition):
    petition = make_petition()
    answer = sign(client, petition.slug, city="", news="y")
    assert answer.status_code == 422
    field, _label, _note = _news_field(answer.get_data(as_text=True))
    assert " checked " in field


def test_no_subscription_unless_ticked(client, db, make_petition):
    petition = make_petition()
    assert sign(client, petition.slug).status_code == 303
    assert _subscriptions(db) == []


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_ticking_news_subscribes_in_the_signers_language(client, db, make_petition, language):
    petition = make_petition()
    answer = sign(client, petition.slug, headers={"Accept-Language": language}, news="y")
    assert answer.status_code == 303
    [subscription] = _subscriptions(db)
    assert (subscription.petition_id, subscription.email, subscription.locale) == (
        petition.id,
        "aliya@example.org",
        language,
    )
    assert subscription.signature.state == SignatureState.PENDING
    assert subscription.unsubscribed_at is None
    raw = db.session.execute(sa.text("SELECT email FROM subscriptions")).scalar_one()
    assert b"aliya" not in bytes(raw if isinstance(raw, bytes) else raw.encode())


def test_a_sealed_petition_keeps_only_the_subscribers_address(client, db, make_petition):
    petition = make_petition(sealing_key=SealingIdentity.generate().public_key.line)
    assert sign(client, petition.slug, news="y").status_code == 303
    [subscription] = _subscriptions(db)
    assert subscription.email == "aliya@example.org"
    assert subscription.signature.email is None, "the signature itself stays sealed"


def test_a_repeat_that_ticks_news_subscribes_with_the_same_answer(client, db, make_petition):
    petition = make_petition()
    first = sign(client, petition.slug)
    second = sign(client, petition.slug, email="ALIYA@example.org", news="y")
    assert (first.status_code, first.headers["Location"], first.data) == (
        second.status_code,
        second.headers["Location"],
        second.data,
    )
    [subscription] = _subscriptions(db)
    assert subscription.email == "aliya@example.org", "the address the person signed with"
    third = sign(client, petition.slug, news="y")
    assert third.data == first.data
    assert [row.id for row in _subscriptions(db)] == [subscription.id], "one per signature"
    # Not ticking again unsubscribes nobody: someone who knows the address cannot stop it.
    sign(client, petition.slug)
    db.session.refresh(subscription)
    assert subscription.unsubscribed_at is None


def test_a_repeat_that_ticks_news_does_not_subscribe_a_confirmed_signature(
    client, db, make_petition, make_signature
):
    petition = make_petition()
    make_signature(petition, email="aliya@example.org")
    first = sign(client, petition.slug, email="bolat@example.org")
    repeat = sign(client, petition.slug, news="y")
    assert (repeat.status_code, repeat.headers["Location"], repeat.data) == (
        first.status_code,
        first.headers["Location"],
        first.data,
    )
    assert _subscriptions(db) == [], "anyone may know the address: only its owner confirms"


def test_an_invalidated_signer_who_repeats_is_not_subscribed(
    client, db, make_petition, make_signature
):
    petition = make_petition()
    make_signature(petition, SignatureState.INVALIDATED, email="aliya@example.org")
    assert sign(client, petition.slug, news="y").status_code == 303
    assert _subscriptions(db) == []


def test_withdrawing_deletes_the_subscription_and_signing_again_can_renew_it(
    client, db, make_petition
):
    petition = make_petition()
    sign(client, petition.slug, news="y")
    [subscription] = _subscriptions(db)
    signature_id, public_id = subscription.signature_id, subscription.public_id
    text = written_email(_outbox_message(db))[1]
    withdraw = re.search(r"https?://\S+(/signatures/withdraw/\S+)", text).group(1)
    answer = client.post(withdraw, data={"csrf_token": link_form_token(client)})
    assert answer.status_code == 303
    assert _subscriptions(db) == []
    sign(client, petition.slug, news="y")
    [again] = _subscriptions(db)
    assert again.signature_id == signature_id
    assert again.public_id != public_id, "the old unsubscribe link names nothing"


def _outbox_message(db):
    return db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).first()


def test_active_subscriptions_are_confirmed_signers_who_still_want_news(
    db, make_petition, make_signature
):
    petition = make_petition()
    other = make_petition()
    wanted = {}
    for label, state in [
        ("confirmed", SignatureState.CONFIRMED),
        ("pending", SignatureState.PENDING),
        ("withdrawn", SignatureState.WITHDRAWN),
        ("invalidated", SignatureState.INVALIDATED),
        ("unsubscribed", SignatureState.CONFIRMED),
        ("confirmed too", SignatureState.CONFIRMED),
    ]:
        signature = make_signature(petition, state)
        subscriptions.subscribe(petition.id, signature.id, signature.email, "kk")
        wanted[label] = signature.id
    elsewhere = make_signature(other)
    subscriptions.subscribe(other.id, elsewhere.id, elsewhere.email, "ru")
    make_signature(petition)  # confirmed, but never asked for news
    by_signature = {row.signature_id: row for row in _subscriptions(db)}
    subscriptions.unsubscribe(by_signature[wanted["unsubscribed"]], utcnow())
    chosen = db.session.scalars(subscriptions.active_subscriptions(petition.id)).all()
    expected = [by_signature[wanted[label]].id for label in ("confirmed", "confirmed too")]
    assert sorted(chosen) == expected


def test_a_subscriber_confirmed_through_the_link_becomes_active(client, db, make_petition):
    petition = make_petition()
    sign(client, petition.slug, news="y")
    [subscription] = _subscriptions(db)
    assert db.session.scalars(subscriptions.active_subscriptions(petition.id)).all() == []
    path = confirm_path(written_email(_outbox_message(db))[1])
    assert client.post(path, data={"csrf_token": link_form_token(client)}).status_code == 303
    active = db.session.scalars(subscriptions.active_subscriptions(petition.id)).all()
    assert active == [subscription.id]


def test_signing_without_news_runs_no_statement_about_subscriptions(client, db, make_petition):
    """The signing path (the load benchmark's) pays for news only when it is chosen."""
    petition = make_petition()
    token = csrf_token(client, f"/petitions/{petition.slug}")
    for news in (None, "y"):
        statements: list[str] = []

        def listener(*args, seen=statements):
            seen.append(args[2])

        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            email = f"{news or 'no'}-news@example.org"
            data = signing_data(csrf_token=token, email=email, news=news)
            assert client.post(f"/petitions/{petition.slug}/sign", data=data).status_code == 303
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        touched = [statement for statement in statements if "subscriptions" in statement]
        assert len(touched) == (1 if news else 0), touched
