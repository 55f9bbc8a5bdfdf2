"""With the database gone, pages answer a readable 503 and /healthz says so."""

import pytest

from tests.conftest import make_test_app

UNREACHABLE = [
    "postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
    "sqlite:////nonexistent-directory/petitions.sqlite3",
]


@pytest.fixture(params=UNREACHABLE)
def broken_client(request, tmp_path):
    return make_test_app(request.param, str(tmp_path)).test_client()


def test_pages_answer_a_readable_503(broken_client):
    for path in ("/", "/petitions/pardon-aron-atabek"):
        response = broken_client.get(path)
        assert response.status_code == 503
        page = response.get_data(as_text=True)
        assert "Temporarily unavailable" in page
        assert "Nothing was lost" in page
        assert "Traceback" not in page
        assert response.headers["Retry-After"] == "30"


def test_healthz_answers_503(broken_client):
    response = broken_client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}


def test_json_routes_answer_json_503(broken_client):
    response = broken_client.get("/petitions/pardon-aron-atabek.json")
    assert response.status_code == 503
    assert response.json["status"] == 503


def test_outage_page_is_in_the_signers_language(broken_client):
    response = broken_client.get("/", headers={"Accept-Language": "kk"})
    assert response.status_code == 503
    assert '<html lang="kk">' in response.get_data(as_text=True)
