"""The public pages: the list of open petitions, a petition's page, its JSON, and health."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from petitions.models import PetitionState, Signature, SignatureState, utcnow


def test_home_lists_only_petitions_collecting_now(client, make_petition):
    make_petition(title="Open appeal")
    make_petition(PetitionState.DRAFT, title="Secret draft")
    make_petition(PetitionState.CLOSED, title="Closed appeal")
    make_petition(
        title="Future appeal",
        opens_at=utcnow() + timedelta(days=1),
        closes_at=utcnow() + timedelta(days=3),
    )
    make_petition(
        title="Lapsed appeal",
        opens_at=utcnow() - timedelta(days=3),
        closes_at=utcnow() - timedelta(seconds=1),
    )
    page = client.get("/").get_data(as_text=True)
    assert "Open appeal" in page
    for hidden in ("Secret draft", "Closed appeal", "Future appeal", "Lapsed appeal"):
        assert hidden not in page


def test_home_says_so_when_nothing_is_open(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "No petition is collecting signatures right now." in response.get_data(as_text=True)


def test_petition_page_shows_text_recipient_count_and_deadline_in_its_zone(
    client, make_petition, make_signature
):
    petition = make_petition(
        title="Pardon the poet",
        body="We **ask** for mercy.\n\n<script>alert(1)</script>",
        goal=2500,
        timezone="Asia/Almaty",
        closes_at=datetime(2099, 9, 20, 13, 0, tzinfo=UTC),
    )
    for _ in range(3):
        make_signature(petition)
    make_signature(petition, SignatureState.PENDING)
    make_signature(petition, SignatureState.INVALIDATED)
    make_signature(petition, SignatureState.WITHDRAWN)
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "<h1>Pardon the poet</h1>" in page
    assert "President of the Republic of Kazakhstan" in page
    assert "<strong>ask</strong>" in page
    assert "<script>alert" not in page
    assert "<strong>3</strong>" in page, "only confirmed signatures count"
    assert "confirmed signatures" in page
    assert '<progress max="2500" value="3">' in page
    # 13:00 UTC is 18:00 in Almaty (UTC+5).
    assert "September 20, 2099, 6:00" in page
    # The zone is named by its city, in the page's language.
    assert "(Almaty time)" in page


def test_petition_page_speaks_the_browser_language(client, make_petition):
    petition = make_petition(closes_at=datetime(2099, 9, 20, 13, 0, tzinfo=UTC))
    page = client.get(
        f"/petitions/{petition.slug}", headers={"Accept-Language": "ru-RU,ru;q=0.9"}
    ).get_data(as_text=True)
    assert '<html lang="ru">' in page
    assert "20 сентября 2099" in page


def test_draft_and_unknown_petitions_are_not_found(client, make_petition):
    draft = make_petition(PetitionState.DRAFT)
    assert client.get(f"/petitions/{draft.slug}").status_code == 404
    response = client.get("/petitions/no-such-petition")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_closed_petition_page_says_when_it_closed(client, make_petition):
    petition = make_petition(
        PetitionState.CLOSED,
        opens_at=datetime(2021, 9, 15, 4, 0, tzinfo=UTC),
        closes_at=datetime(2021, 9, 20, 4, 0, tzinfo=UTC),
        closed_at=datetime(2021, 9, 20, 4, 0, tzinfo=UTC),
    )
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    # Almaty was UTC+6 in 2021 (it moved to UTC+5 in 2024): 04:00 UTC was 10:00 there.
    assert "This petition closed on September 20, 2021, 10:00" in page


def test_open_petition_past_its_deadline_shows_closed_before_any_job(client, make_petition):
    petition = make_petition(
        opens_at=utcnow() - timedelta(days=5), closes_at=utcnow() - timedelta(minutes=1)
    )
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "This petition closed on" in page
    assert client.get(f"/petitions/{petition.slug}.json").json["state"] == "closed"


def test_petition_json(client, make_petition, make_signature):
    petition = make_petition(goal=100)
    make_signature(petition, country="KZ")
    make_signature(petition, country="KZ")
    make_signature(petition, country="DE")
    make_signature(petition, SignatureState.PENDING, country="FR")
    response = client.get(f"/petitions/{petition.slug}.json")
    assert response.status_code == 200
    data = response.json
    assert data["slug"] == petition.slug
    assert data["state"] == "open"
    assert data["signature_count"] == 3
    assert data["goal"] == 100
    assert data["signatures_by_country"] == {"KZ": 2, "DE": 1}
    assert datetime.fromisoformat(data["closes_at"]) == petition.closes_at
    assert datetime.fromisoformat(data["opens_at"]) == petition.opens_at
    assert data["sealing_key"] is None


def test_a_sealed_petitions_json_names_its_key(client, make_petition):
    line = "seal-x25519:" + "A" * 43 + "="
    petition = make_petition(sealing_key=line)
    assert client.get(f"/petitions/{petition.slug}.json").json["sealing_key"] == line


def test_petition_json_errors_are_json(client, make_petition):
    draft = make_petition(PetitionState.DRAFT)
    response = client.get(f"/petitions/{draft.slug}.json")
    assert response.status_code == 404
    assert response.json["status"] == 404


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_every_page_carries_the_security_headers(client, make_petition):
    petition = make_petition()
    for path in ("/", f"/petitions/{petition.slug}", "/nowhere", "/healthz"):
        headers = client.get(path).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_language_choice_is_kept_in_a_cookie(client, make_petition):
    petition = make_petition()
    response = client.get(f"/language/kk?next=/petitions/{petition.slug}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/petitions/{petition.slug}"
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert '<html lang="kk">' in page


def test_language_switch_never_redirects_off_site(client):
    response = client.get("/language/ru?next=https://evil.example/")
    assert response.headers["Location"] == "/"


def test_personal_data_is_encrypted_in_the_database(db, make_petition, make_signature):
    petition = make_petition()
    make_signature(
        petition, name="Әлия Қасымқызы Үмбетова", email="aliya@example.org", city="Алматы"
    )
    row = db.session.execute(sa.text("SELECT name, email, city, email_hash FROM signatures")).one()
    stored = b"".join(bytes(value) for value in row)
    for secret in ("Әлия", "aliya@example.org", "Алматы"):
        assert secret.encode() not in stored
    signature = db.session.scalar(sa.select(Signature))
    assert signature.name == "Әлия Қасымқызы Үмбетова"
    assert signature.city == "Алматы"


def test_times_come_back_aware_and_in_utc(db, make_petition):
    moment = datetime(2021, 9, 15, 10, 30, 15, tzinfo=UTC)
    petition = make_petition(opens_at=moment, closes_at=moment + timedelta(days=5))
    db.session.expire_all()
    assert petition.opens_at == moment
    assert petition.opens_at.tzinfo is not None
