"""The keys that emailed links carry: a random public id, never a count of rows, and any key a
validly signed link might hold answers the invalid-link page, never an error."""

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from petitions.models import PUBLIC_ID_LENGTH, Signature, SignatureState
from petitions.services import accounts, signing, tokens
from tests.helpers import confirm_path, csrf_token, sign, written_email

INVALID_LINK = "This link does not work"
ROUTES = {
    "confirm": (signing._TOKEN_SALT, "/signatures/confirm/"),
    "withdraw": (signing._WITHDRAW_SALT, "/signatures/withdraw/"),
}


def _payload(app, salt: str, token: str) -> list:
    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=salt).loads(token)


def _forged(app, salt: str, key: object, stamp: str) -> str:
    """A token signed with the application's own key: what only a leak of the key could make."""
    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=salt).dumps([key, stamp])


def test_emailed_links_carry_the_random_public_id_not_the_row_id(app, client, db, make_petition):
    petition = make_petition()
    for number in range(3):
        sign(client, petition.slug, email=f"s{number}@example.org")
    signatures = db.session.scalars(sa.select(Signature).order_by(Signature.id)).all()
    public_ids = [s.public_id for s in signatures]
    assert len(set(public_ids)) == 3
    assert all(len(key) == PUBLIC_ID_LENGTH and key.isascii() for key in public_ids)
    from petitions.models import OutboxMessage

    message = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).first()
    token = confirm_path(written_email(message)[1]).rsplit("/", 1)[1]
    assert _payload(app, signing._TOKEN_SALT, token) == [public_ids[0], signatures[0].token_nonce]
    withdraw = signing.withdrawal_token(signatures[0])
    assert _payload(app, signing._WITHDRAW_SALT, withdraw)[0] == public_ids[0]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "key",
    [10**30, 2**63, -1, 0, True, 1.5, None, [1], {"id": 1}, "", "x" * 10_000, "1", "a" * 22],
    ids=repr,
)
def test_a_validly_signed_link_with_any_other_key_is_an_invalid_link(
    app, client, db, make_petition, make_signature, route, key
):
    signature = make_signature(make_petition(), state=SignatureState.PENDING, token_nonce="n" * 32)
    salt, prefix = ROUTES[route]
    response = client.get(prefix + _forged(app, salt, key, signature.token_nonce))
    assert response.status_code == 404
    assert INVALID_LINK in response.get_data(as_text=True)


@pytest.mark.parametrize("key", [10**30, 2**63, True, "1", [1]], ids=repr)
def test_a_validly_signed_reset_link_with_a_wrong_key_is_an_invalid_link(
    app, client, db, make_account, key
):
    organiser = make_account()
    link = "/organiser/reset/" + _forged(app, accounts._RESET_SALT, key, organiser.session_stamp)
    response = client.get(link)
    assert response.status_code == 404
    assert INVALID_LINK in response.get_data(as_text=True)


@pytest.mark.parametrize("route", ROUTES)
def test_links_emailed_with_the_row_id_still_work_until_they_expire(
    app, client, db, make_petition, make_signature, route
):
    signature = make_signature(make_petition(), state=SignatureState.PENDING, token_nonce="n" * 32)
    salt, prefix = ROUTES[route]
    link = prefix + tokens.issue(salt, signature.id, signature.token_nonce)
    response = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert response.status_code in (200, 303)
    db.session.refresh(signature)
    expected = SignatureState.CONFIRMED if route == "confirm" else SignatureState.WITHDRAWN
    assert signature.state == expected
