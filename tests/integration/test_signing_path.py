"""A signature goes from a frozen copy of the petition to ids, and reads nothing twice."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from petitions import cache
from petitions.models import Signature
from petitions.services import queries, signing
from tests.helpers import csrf_token, sign, signing_data


@pytest.fixture
def app_overrides():
    cache.public.clear()
    yield {"PUBLIC_CACHE_SECONDS": "60"}
    cache.public.clear()


@contextmanager
def statements(db) -> Iterator[list[str]]:
    """Collect the SQL sent to the database inside the block."""
    seen: list[str] = []

    def record(_connection, _cursor, statement, *_args) -> None:
        seen.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def _reads_of_petitions(seen: list[str]) -> list[str]:
    return [sql for sql in seen if sql.upper().startswith("SELECT") and "petitions" in sql]


def _details(email: str) -> signing.SignatureDetails:
    return signing.SignatureDetails(
        name="Aliya",
        email=email,
        country="KZ",
        city="Almaty",
        comment=None,
        show_name=False,
        locale="ru",
        client_address="192.0.2.1",
    )


def test_a_new_signature_comes_back_as_ids_and_the_address_typed(app, db, make_petition):
    petition = make_petition()
    with app.test_request_context():
        outcome = signing.sign(queries.PetitionSnapshot.of(petition), _details(" Aliya@mail.kz "))
    db.session.commit()
    row = db.session.scalars(sa.select(Signature)).one()
    assert outcome == signing.SignOutcome(
        signature_id=row.id,
        petition_id=petition.id,
        notice=signing.Notice.CONFIRM,
        email="Aliya@mail.kz",
    )


def test_a_repeat_reads_its_petition_once_with_the_signature_and_answers_to_the_first_address(
    app, db, make_petition, make_signature
):
    petition = make_petition()
    first = make_signature(petition, email="a.liya+petitions@gmail.com")
    snapshot = queries.PetitionSnapshot.of(petition)
    with app.test_request_context(), statements(db) as seen:
        outcome = signing.sign(snapshot, _details("aliya@gmail.com"))
    db.session.commit()
    assert outcome == signing.SignOutcome(
        signature_id=first.id,
        petition_id=petition.id,
        notice=signing.Notice.ALREADY_SIGNED,
        email="a.liya+petitions@gmail.com",
    )
    [read] = _reads_of_petitions(seen)
    assert "FROM signatures JOIN petitions ON petitions.id = signatures.petition_id" in read
    if db.engine.dialect.name == "postgresql":
        assert read.endswith("FOR UPDATE OF signatures")


def test_with_the_cache_warm_a_signature_and_its_next_page_read_no_petition(
    app, client, db, make_petition
):
    petition = make_petition()
    # Read before the requests: the test's own object would otherwise reload after each commit.
    slug, title = petition.slug, petition.title
    assert sign(client, slug, email="one@example.org").status_code == 303
    token = csrf_token(client, f"/petitions/{slug}")
    data = signing_data(csrf_token=token, email="two@example.org")
    with statements(db) as seen:
        response = client.post(f"/petitions/{slug}/sign", data=data)
        assert response.status_code == 303
        page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert title in page.get_data(as_text=True)
    assert _reads_of_petitions(seen) == []
    assert [sql for sql in seen if sql.startswith("INSERT INTO signatures")] != []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Signature)) == 2
