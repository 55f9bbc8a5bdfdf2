"""Withdrawal: a signer takes their signature back through the link in their email, while the
petition is open; fetching the link alone changes nothing."""

import re

import pytest
import sqlalchemy as sa

from petitions.models import PetitionState, Signature, SignatureState, utcnow
from petitions.services import signing
from tests.helpers import confirm_path, csrf_token, sign

WITHDRAW_PATTERN = re.compile(r"https?://\S+(/signatures/withdraw/\S+)")


@pytest.fixture
def app_overrides(smtp_port):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_port)}


def _mail_text(runner, smtp, index=-1) -> str:
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    return smtp.messages[index].get_body(("plain",)).get_content()


def _withdraw_path(text: str) -> str:
    match = WITHDRAW_PATTERN.search(text)
    assert match, "no withdrawal link in the email"
    return match.group(1)


def _count(client, slug) -> int:
    return client.get(f"/petitions/{slug}.json").json["signature_count"]


def _signed_and_confirmed(client, runner, smtp, slug, **fields) -> str:
    """Sign and confirm through the real email; return the email's text."""
    sign(client, slug, **fields)
    text = _mail_text(runner, smtp)
    link = confirm_path(text)
    assert client.post(link, data={"csrf_token": csrf_token(client, link)}).status_code == 303
    return text


def test_a_signer_withdraws_through_the_link_in_the_confirmation_email(
    client, db, runner, smtp, make_petition
):
    petition = make_petition()
    text = _signed_and_confirmed(client, runner, smtp, petition.slug)
    assert _count(client, petition.slug) == 1
    link = _withdraw_path(text)
    assert link in smtp.messages[-1].get_body(("html",)).get_content()
    page = client.get(link)
    assert page.status_code == 200
    assert "Withdraw my signature" in page.get_data(as_text=True)
    assert _count(client, petition.slug) == 1, "fetching the link (a scanner) withdraws nothing"
    done = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert done.status_code == 303
    assert done.headers["Location"] == f"/petitions/{petition.slug}/withdrawn"
    assert "withdrawn" in client.get(done.headers["Location"]).get_data(as_text=True)
    assert _count(client, petition.slug) == 0
    signature = db.session.scalars(sa.select(Signature)).one()
    assert signature.state == SignatureState.WITHDRAWN
    assert signature.withdrawn_at is not None


def test_withdrawing_twice_answers_the_same_and_changes_nothing(
    client, db, runner, smtp, make_petition
):
    petition = make_petition()
    link = _withdraw_path(_signed_and_confirmed(client, runner, smtp, petition.slug))
    token = csrf_token(client, link)
    first, second = (client.post(link, data={"csrf_token": token}) for _ in range(2))
    assert (first.status_code, first.headers["Location"]) == (
        second.status_code,
        second.headers["Location"],
    )
    assert _count(client, petition.slug) == 0


def test_the_already_signed_email_carries_a_withdrawal_link_in_each_language(
    client, db, runner, smtp, make_petition
):
    petition = make_petition()
    _signed_and_confirmed(client, runner, smtp, petition.slug)
    words = {"ru": "отозвать", "kk": "кері қайтарып", "en": "withdraw your signature"}
    for language, expected in words.items():
        db.session.execute(sa.update(Signature).values(last_emailed_at=None))
        db.session.commit()
        sign(client, petition.slug, headers={"Accept-Language": language})
        text = _mail_text(runner, smtp)
        assert expected in text, (language, text)
        assert _withdraw_path(text)


def test_a_pending_signature_can_be_withdrawn_and_then_not_confirmed(
    client, db, runner, smtp, make_petition
):
    petition = make_petition()
    sign(client, petition.slug)
    text = _mail_text(runner, smtp)
    withdraw, confirm = _withdraw_path(text), confirm_path(text)
    token = csrf_token(client, withdraw)
    assert client.post(withdraw, data={"csrf_token": token}).status_code == 303
    assert client.post(confirm, data={"csrf_token": token}).status_code == 404
    assert _count(client, petition.slug) == 0


def test_withdrawal_stops_when_the_petition_closes(client, db, runner, smtp, make_petition):
    petition = make_petition()
    link = _withdraw_path(_signed_and_confirmed(client, runner, smtp, petition.slug))
    token = csrf_token(client, link)
    petition = db.session.merge(petition)
    petition.close(utcnow(), reason="delivered by hand")
    db.session.commit()
    assert client.get(link).status_code == 410
    refused = client.post(link, data={"csrf_token": token})
    assert refused.status_code == 410
    assert "only while the petition is open" in refused.get_data(as_text=True)
    assert _count(client, petition.slug) == 1


def test_a_confirmation_link_does_not_withdraw_and_a_withdrawal_link_does_not_confirm(
    client, db, runner, smtp, make_petition
):
    petition = make_petition()
    sign(client, petition.slug)
    text = _mail_text(runner, smtp)
    confirm_token = confirm_path(text).rsplit("/", 1)[1]
    withdraw_token = _withdraw_path(text).rsplit("/", 1)[1]
    assert confirm_token != withdraw_token
    token = csrf_token(client, f"/signatures/withdraw/{withdraw_token}")
    form = {"csrf_token": token}
    swapped_withdraw = client.post(f"/signatures/withdraw/{confirm_token}", data=form)
    swapped_confirm = client.post(f"/signatures/confirm/{withdraw_token}", data=form)
    assert (swapped_withdraw.status_code, swapped_confirm.status_code) == (404, 404)
    assert db.session.scalars(sa.select(Signature.state)).one() == SignatureState.PENDING


def test_a_withdrawal_link_for_someone_else_or_forged_reveals_nothing(
    client, db, make_petition, make_signature
):
    petition = make_petition()
    other = make_signature(petition, token_nonce="a" * 32)
    forged = signing.withdrawal_token(other)[:-3] + "xyz"
    page = client.get(f"/signatures/withdraw/{forged}")
    assert page.status_code == 404
    assert other.name not in page.get_data(as_text=True)
    assert db.session.get(Signature, other.id).state == SignatureState.CONFIRMED


def test_a_withdrawn_signer_can_sign_again_while_open(client, db, runner, smtp, make_petition):
    petition = make_petition()
    link = _withdraw_path(_signed_and_confirmed(client, runner, smtp, petition.slug))
    token = csrf_token(client, link)
    client.post(link, data={"csrf_token": token})
    sign(client, petition.slug)
    again = confirm_path(_mail_text(runner, smtp))
    assert client.post(again, data={"csrf_token": token}).status_code == 303
    assert _count(client, petition.slug) == 1
    # Signing again gave the signature a fresh link: the older withdrawal link is void.
    assert client.get(link).status_code == 404
    assert client.post(link, data={"csrf_token": token}).status_code == 404
    assert _count(client, petition.slug) == 1


def test_withdrawal_is_refused_for_a_delivered_petition(client, db, make_petition, make_signature):
    petition = make_petition(state=PetitionState.DELIVERED)
    signature = make_signature(petition, token_nonce="b" * 32)
    link = f"/signatures/withdraw/{signing.withdrawal_token(signature)}"
    assert client.get(link).status_code == 410
