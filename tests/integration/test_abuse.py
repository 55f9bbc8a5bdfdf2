"""Mass fake signing: a flood from one address, and from many addresses with one email domain.

The limits hold (429s, no more rows than the limits allow), and the organiser's dashboard shows
the domain's cluster with a button that invalidates it.
"""

import re
import uuid

import pytest
import sqlalchemy as sa

from petitions.models import Signature, SignatureState
from petitions.services import queries
from tests.conftest import PASSWORD
from tests.helpers import csrf_token, login, post_form, signing_data

PER_ADDRESS, OVERALL = 5, 20


@pytest.fixture
def app_overrides(limit_storage):
    return {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": limit_storage,
        # Hours, not minutes: a fixed window that turned during a slow flood would let a second
        # window's worth through, and the exact counts below would no longer be the limits'.
        "SIGN_RATE_LIMIT": f"{PER_ADDRESS} per hour",
        "GLOBAL_SIGN_LIMIT": f"{OVERALL} per hour",
        "TRUSTED_PROXIES": "1",
    }


def _flood(client, slug, count, address=lambda n: "198.51.100.7", domain="example.org"):
    token = csrf_token(client, f"/petitions/{slug}")
    codes = []
    for number in range(count):
        email = f"bot{number}-{uuid.uuid4().hex[:6]}@{domain}"
        response = client.post(
            f"/petitions/{slug}/sign",
            data=signing_data(csrf_token=token, email=email),
            headers={"X-Forwarded-For": address(number)},
        )
        codes.append(response.status_code)
    return codes


def _stored(db, petition) -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(Signature.petition_id == petition.id))


def test_a_flood_from_one_address_stops_at_the_per_address_limit(client, db, make_petition):
    petition = make_petition()
    codes = _flood(client, petition.slug, 30)
    assert codes == [303] * PER_ADDRESS + [429] * (30 - PER_ADDRESS)
    assert _stored(db, petition) == PER_ADDRESS


def test_a_flood_from_many_addresses_stops_at_the_overall_ceiling(client, db, make_petition):
    petition = make_petition()
    codes = _flood(client, petition.slug, 40, address=lambda n: f"203.0.113.{n}")
    assert codes.count(303) == OVERALL
    assert codes.count(429) == 40 - OVERALL
    assert _stored(db, petition) == OVERALL


def test_the_dashboard_shows_one_domains_cluster_and_invalidates_it(
    client, db, make_account, make_petition, make_signature
):
    organiser = make_account()
    petition = make_petition(organiser=organiser)
    real = [make_signature(petition, email=f"person{n}@mail.kz") for n in range(2)]
    _flood(client, petition.slug, 30, address=lambda n: f"203.0.113.{n}", domain="fake-mail.test")
    login(client, organiser.email, PASSWORD)
    dashboard = f"/organiser/petitions/{petition.id}"
    page = client.get(dashboard).get_data(as_text=True)
    row = re.search(r"fake-mail\.test</a></td><td>(\d+)</td>", page)
    assert row and int(row.group(1)) == OVERALL, "the cluster and its size are on the dashboard"
    assert "Invalidate all from this domain" in page
    since = re.search(r'name="since" value="([^"]+)"', page).group(1)
    response = post_form(
        client,
        f"/organiser/petitions/{petition.id}/signatures/invalidate",
        {"scope": "all", "domain": "fake-mail.test", "since": since, "reason": "bot flood"},
        form_page=dashboard,
    )
    assert response.status_code == 303
    counts = queries.state_counts(petition)
    assert counts[SignatureState.INVALIDATED] == OVERALL
    assert counts[SignatureState.CONFIRMED] == len(real), "other domains are untouched"
    assert "bot flood" in client.get(dashboard).get_data(as_text=True), "the audit log says why"
