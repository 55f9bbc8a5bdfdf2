"""Guessing passwords is slowed per address and per account."""

import pytest

from tests.conftest import PASSWORD
from tests.helpers import csrf_token


@pytest.fixture
def app_overrides():
    return {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://"}


def _attempt(client, email, password, address):
    token = csrf_token(client, "/organiser/login")
    return client.post(
        "/organiser/login",
        data={"csrf_token": token, "email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    ).status_code


def test_one_account_is_protected_whatever_the_address(client, make_account):
    organiser = make_account("target@example.org")
    codes = [_attempt(client, organiser.email, "guess", f"198.51.100.{n}") for n in range(11)]
    assert codes == [401] * 10 + [429]
    # Even the right password waits: the attacker must not learn it by being let in.
    assert _attempt(client, organiser.email, PASSWORD, "198.51.100.99") == 429


def test_one_address_is_limited_across_accounts(client, make_account):
    codes = [_attempt(client, f"user{n}@example.org", "guess", "203.0.113.5") for n in range(11)]
    assert codes == [401] * 10 + [429]
