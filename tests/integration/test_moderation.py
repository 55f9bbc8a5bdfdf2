"""Moderation: search, invalidate with a reason, counts drop at once, undo restores them."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from babel.dates import format_date, format_time

from petitions.models import AuditEvent, Signature, SignatureState, utcnow
from petitions.services import moderation
from tests.conftest import PASSWORD
from tests.helpers import csrf_token, login

FLOOD = b"\x0f" * 32
HOME = b"\x01" * 32


@pytest.fixture
def setup(client, db, make_account, make_petition, make_signature):
    organiser = make_account("moderator@example.org")
    login(client, organiser.email, PASSWORD)
    petition = make_petition(organiser=organiser)
    now = utcnow()
    for number in range(6):
        make_signature(
            petition,
            name=f"Bot {number}",
            email=f"bot{number}@spam.example",
            ip_hash=FLOOD,
            created_at=now - timedelta(minutes=number),
        )
    make_signature(
        petition,
        name="Әлия Қасымқызы",
        email="aliya@mail.kz",
        ip_hash=HOME,
        created_at=now - timedelta(days=1),
    )
    make_signature(
        petition,
        SignatureState.PENDING,
        name="Pending Bot",
        email="bot9@spam.example",
        ip_hash=FLOOD,
        created_at=now,
    )
    return client, petition


def _local(moment, petition) -> str:
    """A time as the moderation form takes and shows it: in the petition's zone, to the minute."""
    return moment.astimezone(petition.zone).strftime("%Y-%m-%dT%H:%M")


def _count(client, petition):
    return client.get(f"/petitions/{petition.slug}.json").json["signature_count"]


def _search(client, petition, **query):
    response = client.get(f"/organiser/petitions/{petition.id}/signatures", query_string=query)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _post(client, petition, action, data):
    path = f"/organiser/petitions/{petition.id}/signatures/{action}"
    token = csrf_token(client, f"/organiser/petitions/{petition.id}/signatures")
    return client.post(path, data={"csrf_token": token, **data})


def test_search_by_domain_address_name_and_dates(setup):
    client, petition = setup
    by_domain = _search(client, petition, domain="spam.example")
    assert by_domain.count('name="ids"') == 7
    assert "Pending Bot" in by_domain and "Әлия" not in by_domain
    by_address = _search(client, petition, address=HOME.hex())
    assert "Әлия Қасымқызы" in by_address and "Bot 1" not in by_address
    assert "Әлия" in _search(client, petition, name="қасым")
    since = _local(utcnow() - timedelta(hours=2), petition)
    assert "Әлия" not in _search(client, petition, since=since)
    assert "Bot 3" not in _search(client, petition, state="pending")


def test_invalidating_everything_from_one_address_in_an_hour_drops_the_count_at_once(setup, db):
    client, petition = setup
    assert _count(client, petition) == 7
    since = _local(utcnow() - timedelta(hours=1), petition)
    response = _post(
        client,
        petition,
        "invalidate",
        {
            "scope": "all",
            "address": FLOOD.hex(),
            "since": since,
            "reason": "flood from one address",
        },
    )
    assert response.status_code == 303
    assert _count(client, petition) == 1
    states = dict(db.session.execute(sa.select(Signature.name, Signature.state)).all())
    assert states["Pending Bot"] == SignatureState.INVALIDATED
    assert states["Әлия Қасымқызы"] == SignatureState.CONFIRMED
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "invalidate")).one()
    assert event.actor_label == "moderator@example.org"
    assert event.detail["count"] == 7
    assert event.detail["reason"] == "flood from one address"
    dashboard = client.get(f"/organiser/petitions/{petition.id}").get_data(as_text=True)
    assert "flood from one address" in dashboard


@pytest.mark.parametrize("zone", ["Asia/Almaty", "America/New_York", "UTC"])
def test_the_date_filter_reads_and_shows_times_in_the_petitions_zone(setup, db, zone):
    client, petition = setup
    petition.timezone = zone
    db.session.commit()
    aliya = db.session.scalars(sa.select(Signature).where(Signature.email_hash.is_not(None)))
    signed = next(s for s in aliya if s.name == "Әлия Қасымқызы").created_at
    # A minute after Әлия signed, in the petition's zone: she is left out; a minute before, in.
    after, before = _local(signed + timedelta(minutes=1), petition), _local(signed, petition)
    assert "Әлия" not in _search(client, petition, since=after, address=HOME.hex())
    page = _search(client, petition, since=before, until=after, address=HOME.hex())
    assert "Әлия" in page
    names = {"Asia/Almaty": "Almaty", "America/New_York": "New York", "UTC": "UTC"}
    assert f"Signed from ({names[zone]} time)" in page
    assert f"Signed before ({names[zone]} time)" in page
    assert f"Signed ({names[zone]} time)" in page
    assert f'name="since" type="datetime-local" class="field__input" value="{before}"' in page
    assert f'<input type="hidden" name="until" value="{after}">' in page
    shown = signed.astimezone(petition.zone)
    when = f"{format_date(shown, 'long', locale='en')}, {format_time(shown, 'short', locale='en')}"
    assert f"<td>{when}</td>" in page


def test_undo_restores_a_whole_action_and_each_signature_to_its_state(setup, db):
    client, petition = setup
    _post(client, petition, "invalidate", {"scope": "all", "domain": "spam.example", "reason": "x"})
    assert _count(client, petition) == 1
    action = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "invalidate")
    ).one()
    path = f"/organiser/petitions/{petition.id}/signatures/restore"
    token = csrf_token(client, f"/organiser/petitions/{petition.id}")
    response = client.post(path, data={"csrf_token": token, "action": action.detail["action_id"]})
    assert response.status_code == 303
    assert _count(client, petition) == 7
    db.session.expire_all()
    [pending] = [s for s in db.session.scalars(sa.select(Signature)) if s.name == "Pending Bot"]
    assert pending.state == SignatureState.PENDING, "restored to what it was, not to confirmed"
    assert "restore" in db.session.scalars(sa.select(AuditEvent.action)).all()


def test_invalidate_and_restore_chosen_signatures(setup):
    client, petition = setup
    # Names are encrypted, so SQL cannot pick them: choose on the search page, as a moderator does.
    page = _search(client, petition, domain="spam.example", state="confirmed")
    ids = re.findall(r'name="ids" value="(\d+)"', page)[:2]
    assert len(ids) == 2
    answer = _post(client, petition, "invalidate", {"scope": "chosen", "ids": ids, "reason": "x"})
    assert _count(client, petition) == 5
    assert "Signatures invalidated: 2." in client.get(answer.location).get_data(as_text=True)
    answer = _post(client, petition, "restore", {"ids": ids})
    assert _count(client, petition) == 7
    assert "Signatures restored: 2." in client.get(answer.location).get_data(as_text=True)


def test_invalidating_needs_a_reason_and_a_choice(setup):
    client, petition = setup
    _post(client, petition, "invalidate", {"scope": "all", "domain": "spam.example", "reason": ""})
    assert _count(client, petition) == 7
    response = _post(client, petition, "invalidate", {"scope": "chosen", "reason": "x"})
    assert _count(client, petition) == 7
    assert "Choose at least one signature." in client.get(response.headers["Location"]).get_data(
        as_text=True
    )


def _invalidate_by_name(client, petition, name):
    return _post(client, petition, "invalidate", {"scope": "all", "name": name, "reason": "bots"})


def test_invalidating_every_name_match_past_the_scan_limit_changes_nothing_and_says_why(
    setup, db, monkeypatch
):
    client, petition = setup
    # Eight candidates, one more than the name search may check.
    monkeypatch.setattr(moderation, "NAME_SCAN_LIMIT", 7)
    response = _invalidate_by_name(client, petition, "Bot")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert (
        "Nothing was invalidated: a name search checks at most 7 signatures and this one has "
        "more. Narrow it with dates, a domain or an address first."
    ) in page
    assert _count(client, petition) == 7
    states = db.session.scalars(sa.select(Signature.state)).all()
    assert SignatureState.INVALIDATED not in states
    assert db.session.scalars(sa.select(AuditEvent.action)).all().count("invalidate") == 0


def test_the_refusal_is_in_the_organisers_language(setup, monkeypatch):
    client, petition = setup
    monkeypatch.setattr(moderation, "NAME_SCAN_LIMIT", 7)
    client.get("/language/ru")
    response = _invalidate_by_name(client, petition, "Bot")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ничего не аннулировано: поиск по имени проверяет не более 7 подписей" in page


def test_invalidating_every_name_match_within_the_scan_limit_takes_all_and_logs_how_many(
    setup, db, monkeypatch
):
    client, petition = setup
    monkeypatch.setattr(moderation, "NAME_SCAN_LIMIT", 8)
    response = _invalidate_by_name(client, petition, "Bot")
    assert "Signatures invalidated: 7." in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert _count(client, petition) == 1
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "invalidate")).one()
    assert (event.detail["count"], event.detail["filter"]) == (7, {"name": "Bot"})


def test_a_domain_is_found_in_any_form_that_signatures_are_grouped_by(setup, make_signature):
    client, petition = setup
    make_signature(petition, name="Googlemail Bot", email="g.bot@googlemail.com")
    make_signature(petition, name="Gmail Bot", email="gbot2@GMAIL.com")
    for typed in ("googlemail.com", "@Gmail.com", "gmail.com."):
        page = _search(client, petition, domain=typed)
        assert page.count('name="ids"') == 2, typed
        assert "Googlemail Bot" in page and "Gmail Bot" in page


def test_the_reason_a_moderator_gives_is_the_one_the_signer_reads_on_their_receipt(setup, db):
    from petitions.services import receipts

    client, petition = setup
    page = _search(client, petition)
    assert page.count("The signer sees this reason on their receipt.") == 2
    assert 'aria-describedby="reason-hint"' in page
    signature = db.session.scalars(
        sa.select(Signature).where(Signature.email_hash.is_not(None)).order_by(Signature.id)
    ).first()
    reason = "Six signatures in six minutes from one address"
    data = {"scope": "chosen", "ids": [signature.id], "reason": reason}
    assert _post(client, petition, "invalidate", data).status_code == 303
    code = receipts.code_of(signature.public_id)
    receipt = client.get(f"/petitions/{petition.slug}/receipts/{code}").get_data(as_text=True)
    assert f"The reason they gave: <q><bdi>{reason}</bdi></q>" in receipt
