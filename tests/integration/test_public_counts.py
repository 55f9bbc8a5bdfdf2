"""Beside the count: how many signatures their signers withdrew and moderators invalidated.

Counted with the total in one statement, shown on the page and in the petition's JSON, and
refreshed like the count itself when moderation changes them.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from petitions import cache
from petitions.extensions import db as _db
from petitions.models import SignatureState
from petitions.services import queries
from tests.conftest import PASSWORD
from tests.helpers import csrf_token, login

UNCOUNTED = re.compile(
    r'<p class="petition__uncounted">Withdrawn by their signers: ([^.]+)\. '
    r"Invalidated by moderators: ([^.]+)\.</p>"
)


@pytest.fixture
def petition(make_account, make_petition, make_signature):
    """Four counted signatures, two withdrawn, three invalidated (one before it was confirmed),
    one pending; and another petition's withdrawn and invalidated ones, which do not count here."""
    petition = make_petition(organiser=make_account("moderator@example.org"), goal=100)
    for _ in range(4):
        make_signature(petition)
    for _ in range(2):
        make_signature(petition, SignatureState.WITHDRAWN)
    for _ in range(2):
        make_signature(petition, SignatureState.INVALIDATED)
    make_signature(petition, SignatureState.INVALIDATED, confirmed_at=None)
    make_signature(petition, SignatureState.PENDING)
    other = make_petition()
    make_signature(other, SignatureState.WITHDRAWN)
    make_signature(other, SignatureState.INVALIDATED)
    return petition


def _shown(client, petition) -> tuple[tuple[str, str], dict]:
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    figures = client.get(f"/petitions/{petition.slug}.json").json
    return UNCOUNTED.search(page).groups(), figures


def test_the_page_and_the_json_give_the_exact_counts(client, petition):
    shown, figures = _shown(client, petition)
    assert shown == ("2", "3")
    assert (figures["signature_count"], figures["withdrawn_count"]) == (4, 2)
    assert figures["invalidated_count"] == 3
    assert set(figures) == {
        "slug",
        "title",
        "state",
        "signature_count",
        "goal",
        "opens_at",
        "closes_at",
        "signatures_by_country",
        "sealing_key",
        "petition_id",
        "withdrawn_count",
        "invalidated_count",
        "applicant_postal_address",
        "online_count",
        "paper_count",
        "outcome",
        "updates",
    }
    # Neither is recorded yet (tests/integration/test_updates.py).
    assert (figures["outcome"], figures["updates"]) == (None, [])
    assert (figures["online_count"], figures["paper_count"]) == (4, 0)
    assert figures["signatures_by_country"] == {"KZ": 4}
    # Null unless the organiser chose to show it (tests/integration/test_applicant.py).
    assert figures["applicant_postal_address"] is None


def test_a_petition_with_nothing_taken_away_says_zero(client, make_petition, make_signature):
    petition = make_petition()
    make_signature(petition)
    shown, figures = _shown(client, petition)
    assert shown == ("0", "0")
    assert (figures["withdrawn_count"], figures["invalidated_count"]) == (0, 0)


def test_the_three_figures_are_counted_in_one_statement(app, db, petition):
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = _db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        counts = queries.public_counts(petition)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert counts == queries.PublicCounts(signatures=4, withdrawn=2, invalidated=3)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def _moderate(client, petition, action, **data):
    path = f"/organiser/petitions/{petition.id}/signatures/{action}"
    token = csrf_token(client, f"/organiser/petitions/{petition.id}/signatures")
    assert client.post(path, data={"csrf_token": token, **data}).status_code == 303


def _counted_ids(db, petition) -> list[int]:
    from petitions.models import Signature

    return list(
        db.session.scalars(
            sa.select(Signature.id)
            .where(Signature.petition_id == petition.id, Signature.state == "confirmed")
            .order_by(Signature.id)
        )
    )


def test_invalidating_and_restoring_change_the_figures_at_once(client, db, petition):
    login(client, "moderator@example.org", PASSWORD)
    ids = [str(i) for i in _counted_ids(db, petition)[:2]]
    _moderate(client, petition, "invalidate", scope="chosen", ids=ids, reason="bots")
    shown, figures = _shown(client, petition)
    assert shown == ("2", "5")
    assert (figures["signature_count"], figures["invalidated_count"]) == (2, 5)
    _moderate(client, petition, "restore", ids=ids)
    shown, figures = _shown(client, petition)
    assert shown == ("2", "3")
    assert (figures["signature_count"], figures["invalidated_count"]) == (4, 3)


class TestWithThePublicCache:
    """With the cache on, the new figures come with the count, once the cached copy expires."""

    LIFETIME = 60

    @pytest.fixture
    def app_overrides(self):
        cache.public.clear()
        yield {"PUBLIC_CACHE_SECONDS": str(self.LIFETIME)}
        cache.public.clear()

    def test_moderation_reaches_the_cached_page_and_json_when_they_expire(
        self, client, db, petition, monkeypatch
    ):
        login(client, "moderator@example.org", PASSWORD)
        assert _shown(client, petition)[0] == ("2", "3")
        [counted] = _counted_ids(db, petition)[:1]
        _moderate(client, petition, "invalidate", scope="chosen", ids=[str(counted)], reason="x")
        shown, figures = _shown(client, petition)
        assert shown == ("2", "3"), "served from the cache for its lifetime"
        assert (figures["signature_count"], figures["invalidated_count"]) == (4, 3)
        real = cache.public.clock
        monkeypatch.setattr(cache.public, "clock", lambda: real() + self.LIFETIME + 1)
        shown, figures = _shown(client, petition)
        assert shown == ("2", "4")
        assert (figures["signature_count"], figures["invalidated_count"]) == (3, 4)
        page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
        assert re.search(r'<p class="petition__count">\s*<strong>3</strong>', page)
