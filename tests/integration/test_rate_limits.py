"""Rate limits on signing, per client address and petition and overall, in memory and Redis."""

import uuid

import pytest
import redis

from tests.helpers import csrf_token, signing_data
from tests.integration.conftest import REDIS_URL


@pytest.fixture
def app_overrides(limit_storage, request):
    return {
        **getattr(request, "param", {}),
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": limit_storage,
        "SIGN_RATE_LIMIT": "3 per minute",
        "GLOBAL_SIGN_LIMIT": "5 per minute",
    }


def _post(client, slug, token, address="198.51.100.7", number=0, headers=None):
    return client.post(
        f"/petitions/{slug}/sign",
        data=signing_data(csrf_token=token, email=f"s{number}-{uuid.uuid4().hex[:6]}@example.org"),
        environ_base={"REMOTE_ADDR": address},
        headers=headers or {},
    )


def test_one_address_is_limited_per_petition_with_a_readable_429(client, make_petition):
    petition, other = make_petition(), make_petition()
    token = csrf_token(client, f"/petitions/{petition.slug}")
    assert [_post(client, petition.slug, token, number=n).status_code for n in range(3)] == [
        303
    ] * 3
    refused = _post(client, petition.slug, token, number=4, headers={"Accept-Language": "ru"})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    page = refused.get_data(as_text=True)
    assert '<html lang="ru">' in page
    assert "Traceback" not in page
    # The same address may still sign another petition, and another address this one.
    assert _post(client, other.slug, token, number=5).status_code == 303
    assert _post(client, petition.slug, token, address="203.0.113.9", number=6).status_code == 303


def test_the_global_ceiling_holds_across_addresses(client, make_petition):
    petition = make_petition()
    token = csrf_token(client, f"/petitions/{petition.slug}")
    codes = [
        _post(client, petition.slug, token, address=f"192.0.2.{n}", number=n).status_code
        for n in range(7)
    ]
    assert codes == [303] * 5 + [429] * 2


def test_an_address_turned_away_uses_up_none_of_the_petition_s_ceiling(client, make_petition):
    petition = make_petition()
    token = csrf_token(client, f"/petitions/{petition.slug}")
    hammering = [_post(client, petition.slug, token, number=n).status_code for n in range(12)]
    assert hammering == [303] * 3 + [429] * 9
    # Only its three admitted signatures count against the ceiling of five.
    others = [
        _post(client, petition.slug, token, address=f"192.0.2.{n}", number=20 + n).status_code
        for n in range(3)
    ]
    assert others == [303, 303, 429]


def test_invalid_submissions_count_against_the_limit(client, make_petition):
    petition = make_petition()
    token = csrf_token(client, f"/petitions/{petition.slug}")
    bad = {"csrf_token": token, "name": ""}
    codes = [
        client.post(f"/petitions/{petition.slug}/sign", data=bad).status_code for _ in range(4)
    ]
    assert codes == [422, 422, 422, 429]


@pytest.mark.parametrize(
    ("app_overrides", "expected"),
    [({"TRUSTED_PROXIES": "0"}, [303, 303, 303, 429]), ({"TRUSTED_PROXIES": "1"}, [303] * 4)],
    indirect=["app_overrides"],
)
def test_forwarded_addresses_count_only_behind_trusted_proxies(client, make_petition, expected):
    slug = make_petition().slug
    token = csrf_token(client, f"/petitions/{slug}")
    codes = [
        _post(
            client, slug, token, number=n, headers={"X-Forwarded-For": f"198.51.100.{n}"}
        ).status_code
        for n in range(4)
    ]
    assert codes == expected


def test_counters_live_in_the_configured_storage(app, client, limit_storage, make_petition):
    from petitions.extensions import limiter

    petition = make_petition()
    token = csrf_token(client, f"/petitions/{petition.slug}")
    _post(client, petition.slug, token)
    if limit_storage.startswith("redis"):
        assert type(limiter.storage).__name__ == "RedisStorage"
        keys = redis.Redis.from_url(REDIS_URL).keys(f"LIMITS:*{petition.slug}*")
        counters = sorted(key.decode().rsplit("/", 4)[1] for key in keys)
        # Per address, per email (its two windows, the defaults), over all clients.
        assert counters == [
            "public.sign_petition",
            "public.sign_petition:sign-all-clients",
            "public.sign_petition:sign-per-email",
            "public.sign_petition:sign-per-email",
        ], keys
    else:
        assert type(limiter.storage).__name__ == "MemoryStorage"
