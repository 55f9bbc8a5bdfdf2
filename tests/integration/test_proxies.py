"""TRUSTED_PROXIES against the traffic: a request that bypassed the proxy is said, once, loudly."""

import logging

import pytest


@pytest.fixture
def app_overrides():
    return {"TRUSTED_PROXIES": "1"}


def _get(client, remote: str, forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.get("/", environ_base={"REMOTE_ADDR": remote}, headers=headers)


def _warnings(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "petitions" and record.levelno == logging.WARNING
    ]


def test_requests_through_a_local_proxy_raise_no_warning(client, caplog):
    caplog.set_level(logging.WARNING, logger="petitions")
    for proxy in ("127.0.0.1", "10.0.0.2", "::1", "fd00::5"):
        response = _get(client, proxy, "198.51.100.7")
        assert response.status_code == 200
    assert _warnings(caplog) == []


def test_a_request_without_x_forwarded_for_is_warned_about_once(client, caplog):
    caplog.set_level(logging.WARNING, logger="petitions")
    _get(client, "127.0.0.1")
    _get(client, "127.0.0.1")
    _get(client, "10.0.0.2", "198.51.100.7")
    (warning,) = _warnings(caplog)
    assert warning.startswith("TRUSTED_PROXIES=1 but a request arrived without X-Forwarded-For")
    assert warning.endswith("see 'Checking TRUSTED_PROXIES' in docs/deployment.md")


def test_a_forged_header_from_a_public_address_is_warned_about_once(client, caplog):
    caplog.set_level(logging.WARNING, logger="petitions")
    _get(client, "93.184.216.34", "198.51.100.7")
    _get(client, "93.184.216.35", "198.51.100.8")
    (warning,) = _warnings(caplog)
    assert warning.startswith("TRUSTED_PROXIES=1 but a request came straight from a public address")
    assert "93.184.216" not in warning and "198.51.100" not in warning


def test_without_trusted_proxies_nothing_is_said(app, caplog):
    from tests.conftest import make_test_app

    direct = make_test_app(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config["INSTANCE_PATH"], TRUSTED_PROXIES="0"
    ).test_client()
    caplog.set_level(logging.WARNING, logger="petitions")
    response = direct.get("/static/favicon.svg", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    response.close()
    assert response.status_code == 200
    assert _warnings(caplog) == []
