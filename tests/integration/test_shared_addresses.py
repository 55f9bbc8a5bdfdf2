"""Signing limits for people who share an address: through tor every signer arrives from the tor
daemon's one local address, behind carrier NAT thousands share one public address.

Through tor no per-address limit applies: each email (its keyed hash) is limited per petition,
the onion service has a ceiling of its own, and the petition's ceiling holds for everyone. A
refused submission counts against no limit, so one client hammering uses up nobody else's room.
In memory and in Redis, on both databases.
"""

import uuid

import pytest
import sqlalchemy as sa

from petitions.models import Signature
from tests.helpers import csrf_token, signing_data
from tests.integration.test_onion import ONION

PER_ADDRESS, PER_EMAIL, THROUGH_TOR, OVERALL = 3, 2, 6, 8
ON_ONION = f"http://{ONION}"
OPEN_SITE = "http://localhost"
#: Where the tor daemon connects from.
TOR_DAEMON = "127.0.0.1"


@pytest.fixture
def app_overrides(limit_storage):
    return {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": limit_storage,
        "ONION_ADDRESS": ONION,
        "SIGN_RATE_LIMIT": f"{PER_ADDRESS} per minute",
        "SIGN_EMAIL_RATE_LIMIT": f"{PER_EMAIL} per minute",
        "ONION_SIGN_LIMIT": f"{THROUGH_TOR} per minute",
        "GLOBAL_SIGN_LIMIT": f"{OVERALL} per minute",
    }


@pytest.fixture
def slug(client, make_petition):
    return make_petition().slug


@pytest.fixture
def token(client, slug):
    return csrf_token(client, f"/petitions/{slug}")


def _fresh_email() -> str:
    return f"s-{uuid.uuid4().hex[:8]}@example.org"


def _post(client, slug, token, email=None, host=OPEN_SITE, address="198.51.100.7"):
    return client.post(
        f"/petitions/{slug}/sign",
        data=signing_data(csrf_token=token, email=email or _fresh_email()),
        base_url=host,
        environ_base={"REMOTE_ADDR": address},
    ).status_code


def _through_tor(client, slug, token, email=None):
    return _post(client, slug, token, email, host=ON_ONION, address=TOR_DAEMON)


def test_signers_through_tor_with_different_emails_are_not_limited_together(
    client, db, slug, token
):
    codes = [_through_tor(client, slug, token) for _ in range(THROUGH_TOR)]
    assert codes == [303] * THROUGH_TOR  # twice the per-address limit, from one address
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Signature)) == THROUGH_TOR


def test_one_email_hammering_through_tor_is_limited_and_uses_up_no_one_else_s_room(
    client, slug, token
):
    hammered = [_through_tor(client, slug, token, "aliya@example.org") for _ in range(10)]
    assert hammered == [303] * PER_EMAIL + [429] * (10 - PER_EMAIL)
    # The same mailbox written another way is the same email.
    assert _through_tor(client, slug, token, " Aliya+again@Example.org ") == 429
    # The refused ones counted nowhere: the onion service's room is still there for others.
    others = [_through_tor(client, slug, token) for _ in range(THROUGH_TOR - PER_EMAIL)]
    assert others == [303] * (THROUGH_TOR - PER_EMAIL)
    assert _through_tor(client, slug, token) == 429  # now the ceiling through tor is reached


def test_one_email_is_limited_per_petition(client, make_petition, slug, token):
    for _ in range(PER_EMAIL):
        assert _through_tor(client, slug, token, "aliya@example.org") == 303
    assert _through_tor(client, slug, token, "aliya@example.org") == 429
    other = make_petition().slug
    assert _through_tor(client, other, token, "aliya@example.org") == 303


def test_the_ceiling_through_tor_leaves_the_open_site_signing(client, slug, token):
    codes = [_through_tor(client, slug, token) for _ in range(THROUGH_TOR + 2)]
    assert codes == [303] * THROUGH_TOR + [429] * 2
    assert _post(client, slug, token, address="203.0.113.5") == 303


def test_the_petition_s_ceiling_holds_for_tor_and_the_open_site_together(client, slug, token):
    through_tor = [_through_tor(client, slug, token) for _ in range(5)]
    open_site = [_post(client, slug, token, address=f"192.0.2.{n}") for n in range(5)]
    assert through_tor + open_site == [303] * OVERALL + [429] * 2
    assert _through_tor(client, slug, token) == 429


def test_one_email_from_many_addresses_is_limited(client, slug, token):
    codes = [
        _post(client, slug, token, "aliya@example.org", address=f"192.0.2.{n}") for n in range(4)
    ]
    assert codes == [303] * PER_EMAIL + [429] * 2


def test_one_open_site_address_keeps_its_limit(client, slug, token):
    # Behind carrier NAT: different emails, one address; the (looser) per-address limit applies.
    codes = [_post(client, slug, token) for _ in range(PER_ADDRESS + 2)]
    assert codes == [303] * PER_ADDRESS + [429] * 2
    assert _post(client, slug, token, address="203.0.113.9") == 303


def test_naming_the_onion_host_from_a_public_address_keeps_that_address_s_limit(
    client, db, slug, token
):
    # A public address (the documentation ranges count as private networks).
    codes = [
        _post(client, slug, token, host=ON_ONION, address="93.184.216.34")
        for _ in range(PER_ADDRESS + 1)
    ]
    assert codes == [303] * PER_ADDRESS + [429]
    # Not tor's signers: their address is kept, as for anyone on the open site.
    assert None not in db.session.scalars(sa.select(Signature.ip_hash)).all()


def test_unreadable_emails_through_tor_share_one_bucket_per_petition(
    client, make_petition, slug, token
):
    codes = [_through_tor(client, slug, token, f"not an address {n}") for n in range(4)]
    assert codes == [422] * PER_EMAIL + [429] * 2
    # Readable emails through tor, the same mistake on the open site and another petition:
    # none of them is in that bucket.
    assert _through_tor(client, slug, token) == 303
    assert _post(client, slug, token, "not an address") == 422
    assert _through_tor(client, make_petition().slug, token, "not an address") == 422
