"""The public, append-only record of a petition's exports: its page's section and deliveries.json.

Every finished export, interim or final, is listed oldest first with its count, its receipt tree
and its bundle's SHA-256; a recorded delivery is added to its line once and never rewritten.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from petitions.merkle import Tree
from petitions.models import (
    AuditEvent,
    Delivery,
    DeliveryChannel,
    DeliveryKind,
    ExportStatus,
    PetitionState,
    utcnow,
)
from petitions.services import export
from tests.conftest import PASSWORD, save
from tests.helpers import csrf_token, login
from tests.html_check import checker, html_errors
from tests.receipt_fixtures import finished_export, give_leaves

FINAL, INTERIM = DeliveryKind.FINAL, DeliveryKind.INTERIM
INTERIM_AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
FINAL_AT = datetime(2026, 3, 20, 4, 5, tzinfo=UTC)
INTERIM_SHA = "1" * 64
FINAL_SHA = "2" * 64
DELIVERED = export.DeliveryRecord(
    delivered_at=datetime(2026, 3, 23, 7, 0, tzinfo=UTC),
    delivered_to="Akorda reception",
    channel=DeliveryChannel.IN_PERSON,
    registration_number="ЖТ-1234",
    registered_on=date(2026, 3, 24),
    reference="RR123456785KZ",
)


@pytest.fixture
def exported(db, make_account, make_petition, make_signature):
    """A closed petition with an interim export of two signatures and a final one of three.

    The final export is stored first, so that the order shown is by time of export, not by row.
    """
    organiser = make_account("owner@example.org")
    petition = make_petition(
        PetitionState.CLOSED,
        organiser=organiser,
        opens_at=utcnow() - timedelta(days=30),
        closes_at=utcnow() - timedelta(days=1),
        timezone="Asia/Almaty",
    )
    start = utcnow() - timedelta(days=20)
    signatures = [make_signature(petition, created_at=start + timedelta(hours=n)) for n in range(3)]
    give_leaves(db, petition, signatures)
    final = finished_export(db, petition, FINAL, FINAL_AT, signatures, FINAL_SHA)
    interim = finished_export(db, petition, INTERIM, INTERIM_AT, signatures[:2], INTERIM_SHA)
    # Neither a failed nor a waiting export is part of the record.
    for status in (ExportStatus.FAILED, ExportStatus.QUEUED):
        finished_export(db, petition, FINAL, FINAL_AT, [], None, status=status)
    leaves = [signature.receipt_leaf for signature in signatures]
    return organiser, petition, interim, final, leaves


def _line(kind, at, count, root, size, sha256, **delivered):
    return {
        "exported_at": at.isoformat(),
        "kind": kind,
        "signature_count": count,
        "tree_size": size,
        "tree_root": root,
        "bundle_sha256": sha256,
        "delivered_at": delivered.get("on"),
        "delivered_to": delivered.get("to"),
        "delivery_method": None,
        "reference": delivered.get("reference"),
        "channel": delivered.get("channel"),
        "registration_number": delivered.get("number"),
        "registered_on": delivered.get("registered"),
    }


def test_interim_and_final_exports_are_listed_oldest_first_with_their_trees(client, exported):
    _organiser, petition, _interim, _final, leaves = exported
    response = client.get(f"/petitions/{petition.slug}/deliveries.json")
    assert response.status_code == 200
    assert response.json == {
        "petition": petition.slug,
        "petition_id": petition.public_id,
        "tree": "rfc6962-sha256",
        "deliveries": [
            _line("interim", INTERIM_AT, 2, Tree(leaves[:2]).root.hex(), 2, INTERIM_SHA),
            _line("final", FINAL_AT, 3, Tree(leaves).root.hex(), 3, FINAL_SHA),
        ],
    }


def test_the_record_is_cached_and_readable_from_anywhere_like_the_petitions_json(client, exported):
    petition = exported[1]
    record = client.get(f"/petitions/{petition.slug}/deliveries.json")
    figures = client.get(f"/petitions/{petition.slug}.json")
    for header in ("Cache-Control", "Access-Control-Allow-Origin"):
        assert record.headers[header] == figures.headers[header], header
    assert record.headers["Access-Control-Allow-Origin"] == "*"
    assert record.headers["Cache-Control"].startswith("public, max-age=")


def test_the_page_lists_the_same_exports_in_the_same_order(client, exported):
    _organiser, petition, _interim, _final, leaves = exported
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    section = page[page.index('<section class="record"') :]
    section = section[: section.index("</section>")]
    assert '<h2 id="record-heading">Record of exports and deliveries</h2>' in section
    assert f"<code>{petition.public_id}</code>" in section
    assert f'href="/petitions/{petition.slug}/deliveries.json"' in section
    titles = re.findall(r'<h3 class="record__title">([^<]+)</h3>', section)
    assert titles == [
        "Interim export of March 1, 2026, 2:30\u202fPM (Almaty time)",
        "Final export of March 20, 2026, 9:05\u202fAM (Almaty time)",
    ]
    facts = [
        dict(re.findall(r"<dt>([^<]+)</dt>\s*<dd>(?:<code[^>]*>)?([^<]*)", entry))
        for entry in section.split('<li class="record__entry">')[1:]
    ]
    assert facts == [
        {
            "Signatures": "2",
            "Root of the receipt tree": Tree(leaves[:2]).root.hex(),
            "Leaves in the tree": "2",
            "SHA-256 of the bundle": INTERIM_SHA,
        },
        {
            "Signatures": "3",
            "Root of the receipt tree": Tree(leaves).root.hex(),
            "Leaves in the tree": "3",
            "SHA-256 of the bundle": FINAL_SHA,
            "Delivery": "Not recorded yet.",
        },
    ]


def test_an_export_made_before_receipts_says_it_has_no_tree(client, db, exported):
    _organiser, petition, interim, _final, _leaves = exported
    interim.tree_size = interim.tree_root = None
    save(db)
    [line, _] = client.get(f"/petitions/{petition.slug}/deliveries.json").json["deliveries"]
    assert (line["tree_size"], line["tree_root"], line["signature_count"]) == (None, None, 2)
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert (
        "<dt>Receipt tree</dt>\n        <dd>None: this export was made before receipts existed, "
        "so no receipt can prove a signature in it.</dd>"
    ) in page


def test_a_recorded_delivery_joins_its_line_and_names_no_organiser(client, db, exported):
    organiser, petition, _interim, final, leaves = exported
    export.record_delivery(final, DELIVERED, organiser)
    save(db)
    record = client.get(f"/petitions/{petition.slug}/deliveries.json")
    assert record.json["deliveries"][1] == _line(
        "final",
        FINAL_AT,
        3,
        Tree(leaves).root.hex(),
        3,
        FINAL_SHA,
        on=DELIVERED.delivered_at.isoformat(),
        to="Akorda reception",
        channel="in_person",
        number="ЖТ-1234",
        registered="2026-03-24",
        reference="RR123456785KZ",
    )
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "<dt>Delivered on</dt>\n        <dd>March 23, 2026</dd>" in page
    assert "<dt>Delivered to</dt>\n        <dd><bdi>Akorda reception</bdi></dd>" in page
    assert "<dt>Method</dt>\n        <dd>In person</dd>" in page
    assert (
        "<dt>Registration number at the recipient</dt>\n        <dd><bdi>ЖТ-1234</bdi></dd>"
    ) in page
    assert "<dt>Registered by the recipient on</dt>\n        <dd>Mar 24, 2026</dd>" in page
    assert "<dt>Recipient's reference</dt>\n        <dd><bdi>RR123456785KZ</bdi></dd>" in page
    for private in (organiser.email, organiser.name, f"{petition.slug}.zip"):
        assert private not in record.get_data(as_text=True)
        assert private not in page[page.index('<section class="record"') :]


def test_a_recorded_delivery_is_never_rewritten(db, exported):
    organiser, _petition, _interim, final, _leaves = exported
    export.record_delivery(final, DELIVERED, organiser)
    save(db)
    other = export.DeliveryRecord(
        delivered_at=DELIVERED.delivered_at + timedelta(days=2),
        delivered_to="Someone else",
        channel=DeliveryChannel.POST,
        registration_number="X-1",
    )
    with pytest.raises(export.ExportError) as refused:
        export.record_delivery(final, other, organiser)
    assert str(refused.value) == (
        "This export's delivery is already recorded and is part of the public record, which "
        "never changes. To record another delivery, make a new final export."
    )
    db.session.refresh(final)
    stored = (final.delivered_at, final.delivered_to, final.channel, final.registration_number)
    assert stored == (DELIVERED.delivered_at, "Akorda reception", "in_person", "ЖТ-1234")
    delivered = sa.select(sa.func.count()).where(AuditEvent.action == "deliver")
    assert db.session.scalar(delivered) == 1


def test_a_delivery_recorded_meanwhile_is_not_overwritten_by_a_stale_copy(db, exported):
    """Two organisers' forms sent at once: the row read by the second still says "not yet"."""
    organiser, _petition, _interim, final, _leaves = exported
    db.session.execute(
        sa.update(Delivery)
        .where(Delivery.id == final.id)
        .values(delivered_at=DELIVERED.delivered_at, delivered_to="First")
        .execution_options(synchronize_session=False)
    )
    assert final.delivered_at is None, "this copy was read before the other recording"
    with pytest.raises(export.ExportError, match="already recorded"):
        export.record_delivery(final, DELIVERED, organiser)
    assert (final.delivered_to, final.delivered_at) == ("First", DELIVERED.delivered_at)


def test_the_dashboard_cannot_record_a_delivery_twice(client, db, exported):
    organiser, petition, _interim, final, _leaves = exported
    login(client, organiser.email, PASSWORD)
    dashboard = f"/organiser/petitions/{petition.id}"
    answers = []
    for to in ("Akorda reception", "Someone else"):
        answers.append(
            client.post(
                f"{dashboard}/exports/{final.id}/delivered",
                data={
                    "csrf_token": csrf_token(client, dashboard),
                    "delivered_on": "2026-03-23",
                    "delivered_to": to,
                    "channel": "in_person",
                },
            )
        )
    assert [answer.status_code for answer in answers] == [303, 303]
    shown = client.get(answers[1].headers["Location"]).get_data(as_text=True)
    assert "already recorded and is part of the public record" in shown
    db.session.refresh(final)
    assert final.delivered_to == "Akorda reception"
    record = client.get(f"/petitions/{petition.slug}/deliveries.json").json
    assert record["deliveries"][1]["delivered_to"] == "Akorda reception"


def test_a_petition_with_no_finished_export_has_an_empty_record_and_no_section(
    client, make_petition
):
    petition = make_petition()
    record = client.get(f"/petitions/{petition.slug}/deliveries.json").json
    assert record == {
        "petition": petition.slug,
        "petition_id": petition.public_id,
        "tree": "rfc6962-sha256",
        "deliveries": [],
    }
    assert 'class="record"' not in client.get(f"/petitions/{petition.slug}").get_data(as_text=True)


def test_a_drafts_record_is_a_404_like_its_page(client, make_petition):
    draft = make_petition(PetitionState.DRAFT)
    assert client.get(f"/petitions/{draft.slug}").status_code == 404
    for path in (f"/petitions/{draft.slug}/deliveries.json", "/petitions/nowhere/deliveries.json"):
        response = client.get(path)
        assert (response.status_code, response.is_json) == (404, True), path
        assert response.json["status"] == 404


def test_the_petitions_json_names_its_public_id(client, make_petition):
    petition = make_petition()
    assert client.get(f"/petitions/{petition.slug}.json").json["petition_id"] == petition.public_id


@pytest.mark.parametrize(
    ("language", "heading", "uncounted"),
    [
        ("ru", "Реестр выгрузок и передач", "Отозвано самими подписантами: 0."),
        (
            "kk",
            "Экспорттар мен тапсырулар тізілімі",
            "Қол қоюшылардың өздері кері қайтарып алғаны: 0.",
        ),
    ],
)
def test_the_record_reads_in_the_visitors_language(client, exported, language, heading, uncounted):
    petition = exported[1]
    page = client.get(f"/petitions/{petition.slug}", headers={"Accept-Language": language})
    text = page.get_data(as_text=True)
    assert f'<h2 id="record-heading">{heading}</h2>' in text
    assert uncounted in text
    section = text[text.index('<section class="record"') :]
    section = section[: section.index("</section>")]
    for english in ("Signatures", "Root of the receipt tree", "Not recorded yet.", "export of"):
        assert english not in section, english


def test_the_dashboard_records_the_channel_and_the_registration_for_the_public_record(
    client, db, exported
):
    organiser, petition, _interim, final, _leaves = exported
    login(client, organiser.email, PASSWORD)
    dashboard = f"/organiser/petitions/{petition.id}"
    answer = client.post(
        f"{dashboard}/exports/{final.id}/delivered",
        data={
            "csrf_token": csrf_token(client, dashboard),
            "delivered_on": "2026-03-23",
            "channel": "eotinish",
            "registration_number": "ЗТ-2026-00412",
            "registered_on": "2026-03-25",
        },
    )
    assert answer.status_code == 303
    db.session.refresh(final)
    assert (final.channel, final.registration_number, final.registered_on) == (
        "eotinish",
        "ЗТ-2026-00412",
        date(2026, 3, 25),
    )
    entry = client.get(f"/petitions/{petition.slug}/deliveries.json").json["deliveries"][1]
    assert (entry["channel"], entry["registration_number"], entry["registered_on"]) == (
        "eotinish",
        "ЗТ-2026-00412",
        "2026-03-25",
    )
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "<dt>Method</dt>\n        <dd>Through the eOtinish portal</dd>" in page
    assert (
        "<dt>Registration number at the recipient</dt>\n        <dd><bdi>ЗТ-2026-00412</bdi></dd>"
    ) in page
    assert "<dt>Registered by the recipient on</dt>\n        <dd>Mar 25, 2026</dd>" in page
    client.get("/language/ru")
    russian = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "<dd>Через портал eOtinish</dd>" in russian
    assert "<dt>Регистрационный номер у адресата</dt>" in russian


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"channel": "pigeon"}, "How: Choose how the bundle was delivered."),
        (
            {"channel": "post", "registered_on": "2026-03-20"},
            "Registered on: The registration cannot come before the delivery.",
        ),
        (
            {"channel": "post", "registration_number": "ЗТ\x07-1"},
            "Registration number given by the recipient&#39;s office: Please remove invisible "
            "or control characters.",
        ),
        ({"channel": "post", "delivered_on": ""}, "Give the date of delivery."),
    ],
)
def test_a_bad_delivery_record_is_refused_with_its_reason(client, db, exported, fields, message):
    organiser, petition, _interim, final, _leaves = exported
    login(client, organiser.email, PASSWORD)
    dashboard = f"/organiser/petitions/{petition.id}"
    data = {"csrf_token": csrf_token(client, dashboard), "delivered_on": "2026-03-23", **fields}
    answer = client.post(f"{dashboard}/exports/{final.id}/delivered", data=data)
    assert answer.status_code == 303
    assert message in client.get(answer.headers["Location"]).get_data(as_text=True)
    db.session.refresh(final)
    assert (final.delivered_at, final.channel, final.registration_number) == (None, None, None)


# The registration the office gives days after the delivery.

DELIVERED_ONLY = export.DeliveryRecord(
    delivered_at=datetime(2026, 3, 23, 7, 0, tzinfo=UTC),
    delivered_to="Akorda reception",
    channel=DeliveryChannel.POST,
)
REGISTRATION_RECORDED = (
    "This delivery's registration is already recorded and is part of the public record, which "
    "never changes."
)


def test_a_registration_is_added_once_to_a_recorded_delivery_and_audited(db, exported):
    organiser, petition, _interim, final, _leaves = exported
    with pytest.raises(export.ExportError) as undelivered:
        export.record_registration(final, "ЗТ-1", date(2026, 3, 25), organiser)
    assert str(undelivered.value) == "Record the delivery first, then the registration."
    export.record_delivery(final, DELIVERED_ONLY, organiser)
    save(db)
    with pytest.raises(export.ExportError) as early:
        export.record_registration(final, "ЗТ-1", date(2026, 3, 22), organiser)
    assert str(early.value) == "The registration cannot come before the delivery."
    export.record_registration(final, "ЗТ-2026-00412", date(2026, 3, 30), organiser)
    save(db)
    with pytest.raises(export.ExportError) as again:
        export.record_registration(final, "ЗТ-9", date(2026, 4, 2), organiser)
    assert str(again.value) == REGISTRATION_RECORDED
    db.session.refresh(final)
    assert (final.registration_number, final.registered_on) == ("ЗТ-2026-00412", date(2026, 3, 30))
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "delivery_registration")
    ).all()
    assert [(event.petition_id, event.actor_id, event.detail) for event in events] == [
        (
            petition.id,
            organiser.id,
            {"registration": "ЗТ-2026-00412", "registered_on": "2026-03-30", "sha256": FINAL_SHA},
        )
    ]


def test_a_delivery_recorded_with_its_registration_takes_no_other(db, exported):
    organiser, _petition, _interim, final, _leaves = exported
    export.record_delivery(final, DELIVERED, organiser)
    save(db)
    with pytest.raises(export.ExportError) as refused:
        export.record_registration(final, "ЗТ-9", date(2026, 4, 2), organiser)
    assert str(refused.value) == REGISTRATION_RECORDED
    db.session.refresh(final)
    assert final.registration_number == "ЖТ-1234"


def _register(client, petition, final, **fields):
    dashboard = f"/organiser/petitions/{petition.id}"
    data = {"csrf_token": csrf_token(client, dashboard), **fields}
    return client.post(f"{dashboard}/exports/{final.id}/registration", data=data)


def test_the_dashboard_adds_the_registration_to_the_public_record_once(client, db, exported):
    organiser, petition, _interim, final, _leaves = exported
    export.record_delivery(final, DELIVERED_ONLY, organiser)
    save(db)
    login(client, organiser.email, PASSWORD)
    dashboard = client.get(f"/organiser/petitions/{petition.id}").get_data(as_text=True)
    assert f'action="/organiser/petitions/{petition.id}/exports/{final.id}/registration"' in (
        dashboard
    )
    answer = _register(
        client, petition, final, registration_number="ЗТ-2026-00412", registered_on="2026-03-30"
    )
    assert answer.status_code == 303
    shown = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Registration recorded. The public record now shows it." in shown
    assert "registered as №\u00a0ЗТ-2026-00412 on Mar 30, 2026" in shown
    assert f"/exports/{final.id}/registration" not in shown
    entry = client.get(f"/petitions/{petition.slug}/deliveries.json").json["deliveries"][1]
    assert (entry["registration_number"], entry["registered_on"]) == (
        "ЗТ-2026-00412",
        "2026-03-30",
    )
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert (
        "<dt>Registration number at the recipient</dt>\n        <dd><bdi>ЗТ-2026-00412</bdi></dd>"
    ) in page
    assert "<dt>Registered by the recipient on</dt>\n        <dd>Mar 30, 2026</dd>" in page
    again = _register(
        client, petition, final, registration_number="X-1", registered_on="2026-04-01"
    )
    assert again.status_code == 303
    assert REGISTRATION_RECORDED.replace("'", "&#39;") in client.get(
        again.headers["Location"]
    ).get_data(as_text=True)
    db.session.refresh(final)
    assert final.registration_number == "ЗТ-2026-00412"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"registered_on": "2026-03-30"},
            "Registration number given by the recipient&#39;s office: This field is required.",
        ),
        ({"registration_number": "ЗТ-1"}, "Registered on: This field is required."),
        (
            {"registration_number": "ЗТ-1", "registered_on": "1999-12-31"},
            "Registered on: Enter a date between the years 2000 and 2100.",
        ),
        (
            {"registration_number": "ЗТ\u202e-1", "registered_on": "2026-03-30"},
            "Registration number given by the recipient&#39;s office: Please remove invisible "
            "or control characters.",
        ),
        (
            {"registration_number": "ЗТ-1", "registered_on": "2026-03-20"},
            "The registration cannot come before the delivery.",
        ),
    ],
)
def test_a_bad_registration_is_refused_with_its_reason(client, db, exported, fields, message):
    organiser, petition, _interim, final, _leaves = exported
    export.record_delivery(final, DELIVERED_ONLY, organiser)
    save(db)
    login(client, organiser.email, PASSWORD)
    answer = _register(client, petition, final, **fields)
    assert answer.status_code == 303
    assert message in client.get(answer.headers["Location"]).get_data(as_text=True)
    db.session.refresh(final)
    assert (final.registration_number, final.registered_on) == (None, None)


def test_another_organisers_delivery_answers_404(client, db, exported, make_account, make_petition):
    organiser, petition, _interim, final, _leaves = exported
    export.record_delivery(final, DELIVERED_ONLY, organiser)
    save(db)
    other = make_account("other@example.org")
    theirs = make_petition(PetitionState.CLOSED, organiser=other, slug="theirs")
    save(db)
    login(client, other.email, PASSWORD)
    fields = {"registration_number": "ЗТ-1", "registered_on": "2026-03-30"}
    # Their own petition's address with this export's id, and this petition's address.
    assert _register(client, theirs, final, **fields).status_code == 404
    dashboard = f"/organiser/petitions/{theirs.id}"
    answer = client.post(
        f"/organiser/petitions/{petition.id}/exports/{final.id}/registration",
        data={"csrf_token": csrf_token(client, dashboard), **fields},
    )
    assert answer.status_code == 404
    db.session.refresh(final)
    assert final.registration_number is None


def test_the_dashboard_with_the_registration_form_passes_the_html_checker(
    client, db, exported, tmp_path
):
    jar = checker()
    organiser, petition, _interim, final, _leaves = exported
    export.record_delivery(final, DELIVERED_ONLY, organiser)
    save(db)
    login(client, organiser.email, PASSWORD)
    page = client.get(f"/organiser/petitions/{petition.id}").get_data(as_text=True)
    assert f"/exports/{final.id}/registration" in page
    file = tmp_path / "dashboard.html"
    file.write_text(page, encoding="utf-8")
    assert html_errors(jar, [file]) == {}
