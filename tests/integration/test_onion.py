"""The onion service: signers' pages point Tor Browser to it, and a signer who came by it is
mailed links on it."""

import re

import pytest
import sqlalchemy as sa

from petitions.models import Signature, SignatureState
from petitions.services import receipts, signing
from tests.helpers import CSRF_PATTERN, signing_data

SITE = "https://petitions.example.org"
#: A version 3 onion name with a good checksum (public key bytes 0, 1, … 31).
ONION = "aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dyp3kead.onion"
ON_ONION = f"http://{ONION}"
LINK = re.compile(r"https?://[^\s\"<>]+")


@pytest.fixture
def app_overrides(smtp_port, request):
    return {
        "BASE_URL": SITE,
        "ONION_ADDRESS": ONION,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        **getattr(request, "param", {}),
    }


def _signer_pages(db, make_petition, make_signature) -> list[str]:
    """Every HTML page a signer reads, with a query string on two of them."""
    petition = make_petition(slug="pardon")
    signature = make_signature(petition, state=SignatureState.PENDING, token_nonce="n" * 32)
    confirm = signing.confirmation_token(signature)
    withdraw = signing.withdrawal_token(signature)
    code = receipts.code_of(signature.public_id)
    db.session.commit()
    return [
        "/",
        "/?lang=ru",
        "/petitions/pardon",
        "/petitions/pardon?utm_source=t.me&q=%D0%90%20b",
        "/petitions/pardon/check-email",
        "/petitions/pardon/thank-you",
        "/petitions/pardon/withdrawn",
        f"/signatures/confirm/{confirm}",
        f"/signatures/withdraw/{withdraw}",
        f"/petitions/pardon/receipts/{code}",
        f"/petitions/pardon/thank-you?receipt={code}",
    ]


def test_signers_pages_off_the_onion_host_send_its_exact_onion_location(
    client, db, make_petition, make_signature
):
    pages = _signer_pages(db, make_petition, make_signature)
    for path in pages:
        # Whatever trusted host the request named: the value comes from ONION_ADDRESS alone.
        for host in (SITE, "http://localhost"):
            response = client.get(path, base_url=host)
            assert (response.status_code, response.mimetype) == (200, "text/html"), path
            assert response.headers.get_all("Onion-Location") == [f"{ON_ONION}{path}"], path


def test_a_head_request_gets_the_header_too(client, make_petition):
    make_petition(slug="pardon")
    response = client.head("/petitions/pardon", base_url=SITE)
    assert response.status_code == 200
    assert response.headers["Onion-Location"] == f"{ON_ONION}/petitions/pardon"


def test_pages_read_on_the_onion_host_send_no_onion_location(
    client, db, make_petition, make_signature
):
    for path in _signer_pages(db, make_petition, make_signature):
        for host in (ON_ONION, f"{ON_ONION}:80", f"http://{ONION.upper()}"):
            response = client.get(path, base_url=host)
            assert response.status_code == 200, (host, path)
            assert "Onion-Location" not in response.headers, (host, path)


def test_organisers_pages_the_json_api_and_health_checks_send_no_onion_location(
    client, make_petition
):
    make_petition(slug="pardon")
    answers = {
        path: client.get(path, base_url=SITE)
        for path in (
            "/organiser/login",
            "/organiser/reset",
            "/petitions/pardon.json",
            "/livez",
            "/healthz",
            "/static/favicon.svg",
        )
    }
    assert {path: answer.status_code for path, answer in answers.items()} == dict.fromkeys(
        answers, 200
    )
    for path, answer in answers.items():
        answer.close()
        assert "Onion-Location" not in answer.headers, path


def test_the_answer_to_a_signature_sends_no_onion_location(client, make_petition):
    make_petition(slug="pardon")
    page = client.get("/petitions/pardon", base_url=SITE).get_data(as_text=True)
    token = CSRF_PATTERN.search(page)[1]
    answer = client.post("/petitions/pardon/sign", data=signing_data(csrf_token=token))
    assert answer.status_code == 303
    assert "Onion-Location" not in answer.headers


@pytest.mark.parametrize("app_overrides", [{"ONION_ADDRESS": ""}], indirect=True)
def test_without_onion_address_no_page_sends_onion_location(
    client, db, make_petition, make_signature
):
    for path in _signer_pages(db, make_petition, make_signature):
        response = client.get(path, base_url=SITE)
        assert response.status_code == 200, path
        assert "Onion-Location" not in response.headers, path
    # And the onion name is then a host like any other: refused.
    assert client.get("/", base_url=ON_ONION).status_code == 400


@pytest.mark.parametrize(
    "app_overrides", [{"BASE_URL": f"{SITE}/kz", "ONION_ADDRESS": ONION}], indirect=True
)
def test_the_onion_location_keeps_base_url_s_path(client, make_petition):
    make_petition(slug="pardon")
    response = client.get("/petitions/pardon", base_url=f"{SITE}/kz")
    assert response.status_code == 200
    assert response.headers["Onion-Location"] == f"{ON_ONION}/kz/petitions/pardon"


def _sign_on(client, host: str, **fields):
    page = client.get("/petitions/pardon", base_url=host).get_data(as_text=True)
    token = CSRF_PATTERN.search(page)[1]
    # As a browser without Fetch Metadata would send it: the onion origin is one of ours.
    return client.post(
        "/petitions/pardon/sign",
        data=signing_data(csrf_token=token, **fields),
        base_url=host,
        headers={"Origin": host},
    )


def _sent_text(runner, smtp) -> str:
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    return smtp.messages[-1].get_body(("plain",)).get_content()


def test_a_signer_on_the_onion_host_is_mailed_links_on_it_and_confirms_there(
    client, db, runner, smtp, make_petition
):
    make_petition(slug="pardon")
    assert _sign_on(client, ON_ONION, email="onion-signer@example.org").status_code == 303
    text = _sent_text(runner, smtp)
    html = smtp.messages[-1].get_body(("html",)).get_content()
    links = LINK.findall(text)
    assert len(links) == 4
    assert all(link.startswith(f"{ON_ONION}/") for link in links), links
    assert f"{ON_ONION}/petitions/pardon" in links
    assert any(link.startswith(f"{ON_ONION}/petitions/pardon/receipts/") for link in links)
    assert SITE not in text and SITE not in html
    # The HTML part carries the two buttons' links and the receipt's, the same as the text's.
    assert set(LINK.findall(html)) == set(links) - {f"{ON_ONION}/petitions/pardon"}
    # The link works where it points: on the onion host.
    confirm = next(link for link in links if "/signatures/confirm/" in link)
    path = confirm.removeprefix(ON_ONION)
    page = client.get(path, base_url=ON_ONION).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    answer = client.post(path, data={"csrf_token": token}, base_url=ON_ONION)
    assert answer.status_code == 303
    assert db.session.scalars(sa.select(Signature.state)).all() == [SignatureState.CONFIRMED]


def test_a_signer_on_the_open_site_is_mailed_links_on_base_url(client, runner, smtp, make_petition):
    make_petition(slug="pardon")
    assert _sign_on(client, SITE, email="open-signer@example.org").status_code == 303
    links = LINK.findall(_sent_text(runner, smtp))
    assert len(links) == 4
    assert all(link.startswith(f"{SITE}/") for link in links), links


def test_signing_again_on_the_onion_host_mails_the_note_with_onion_links(
    client, db, runner, smtp, make_petition, make_signature
):
    petition = make_petition(slug="pardon")
    make_signature(petition, email="again@example.org")
    db.session.commit()
    assert _sign_on(client, ON_ONION, email="again@example.org").status_code == 303
    text = _sent_text(runner, smtp)
    assert smtp.messages[-1]["Subject"].startswith("You have already signed")
    links = LINK.findall(text)
    assert len(links) == 3
    assert all(link.startswith(f"{ON_ONION}/") for link in links), links


def test_signatures_through_tor_keep_no_address_hash(client, db, make_petition):
    make_petition(slug="pardon")
    assert _sign_on(client, ON_ONION, email="tor@example.org").status_code == 303
    assert _sign_on(client, SITE, email="open@example.org").status_code == 303
    hashes = db.session.scalars(sa.select(Signature.ip_hash).order_by(Signature.id)).all()
    assert hashes[0] is None
    assert isinstance(hashes[1], bytes) and len(hashes[1]) == 32


def _through_nginx(client, method, path, host, client_address, **kwargs):
    """A request as the deployment's nginx passes it on (docs/deployment.md)."""
    headers = {"X-Forwarded-For": client_address, "X-Forwarded-Host": host}
    return client.open(
        path,
        method=method,
        base_url="http://127.0.0.1:8000",
        headers=headers,
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
        **kwargs,
    )


@pytest.mark.parametrize(
    "app_overrides",
    [{"BASE_URL": SITE, "ONION_ADDRESS": ONION, "TRUSTED_PROXIES": "1"}],
    indirect=True,
)
def test_behind_nginx_the_onion_host_and_tor_s_address_come_from_the_forwarded_headers(
    client, db, make_petition
):
    make_petition(slug="pardon")
    signers = {"tor": (ONION, "127.0.0.1"), "open": ("petitions.example.org", "93.184.216.34")}
    for label, (host, address) in signers.items():
        page = _through_nginx(client, "GET", "/petitions/pardon", host, address)
        assert page.status_code == 200
        expected = None if label == "tor" else f"{ON_ONION}/petitions/pardon"
        assert page.headers.get("Onion-Location") == expected, label
        token = CSRF_PATTERN.search(page.get_data(as_text=True))[1]
        data = signing_data(csrf_token=token, email=f"{label}@example.org")
        answer = _through_nginx(client, "POST", "/petitions/pardon/sign", host, address, data=data)
        assert answer.status_code == 303
    hashes = db.session.scalars(sa.select(Signature.ip_hash).order_by(Signature.id)).all()
    assert hashes[0] is None
    assert isinstance(hashes[1], bytes)
