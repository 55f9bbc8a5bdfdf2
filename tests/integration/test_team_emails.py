"""The team is emailed once when the goal is reached and once when signing closes, through SMTP."""

import dataclasses
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from petitions.models import (
    Delivery,
    DeliveryChannel,
    DeliveryKind,
    ExportStatus,
    MemberRole,
    Membership,
    OrganiserBrowser,
    OutboxMessage,
    Petition,
    PetitionState,
    SignatureState,
    utcnow,
)
from petitions.services import export, lifecycle, signing
from tests.helpers import link_form_token

#: Far enough ahead for any run of these tests, and shown in the goal's email.
CLOSES_AT = datetime(2027, 3, 1, 13, 0, tzinfo=UTC)


@pytest.fixture
def app_overrides(mail_to_smtp):
    return mail_to_smtp


def _knows_browser(db, organiser, language: str, days_ago: int) -> None:
    seen = utcnow() - timedelta(days=days_ago)
    db.session.add(
        OrganiserBrowser(
            organiser_id=organiser.id,
            token_hash=bytes([days_ago]) * 32,
            first_seen_at=seen,
            last_seen_at=seen,
            language=language,
        )
    )


@pytest.fixture
def team(db, make_organiser, make_petition):
    """A Russian petition whose owner has no known browser, and an editor whose newest browser
    was Kazakh (an older one English)."""
    owner = make_organiser(name="Dina", email="dina@example.org")
    editor = make_organiser(name="Saule", email="saule@example.org")
    petition = make_petition(
        organiser=owner, title="Помилуйте поэта", language="ru", goal=2, closes_at=CLOSES_AT
    )
    db.session.add(Membership(petition=petition, organiser=editor, role=MemberRole.EDITOR))
    _knows_browser(db, editor, "en", days_ago=9)
    _knows_browser(db, editor, "kk", days_ago=2)
    db.session.commit()
    return petition


def _pending(make_signature, petition):
    """A pending signature whose emailed link works, as signing leaves it."""
    return make_signature(petition, SignatureState.PENDING, token_nonce=secrets.token_hex(16))


def _confirm(client, signature) -> None:
    path = f"/signatures/confirm/{signing.confirmation_token(signature)}"
    assert client.post(path, data={"csrf_token": link_form_token(client)}).status_code == 303


def _queued(db, kind: str) -> list[str]:
    return db.session.scalars(
        sa.select(OutboxMessage.recipient)
        .where(OutboxMessage.kind == kind)
        .order_by(OutboxMessage.id)
    ).all()


def _send(runner, count: int) -> None:
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert f"sent {count}, failed 0, waiting 0" in result.output


def _texts(smtp) -> dict[str, tuple[str, str]]:
    """Each recipient's subject and text (line ends as written: SMTP's CRLF made LF again)."""
    return {
        message["To"]: (
            message["Subject"],
            message.get_body(("plain",)).get_content().replace("\r\n", "\n"),
        )
        for message in smtp.messages
    }


GOAL_RU = (
    "Здравствуйте, Dina!\n\n"
    "Петиция «Помилуйте поэта» достигла цели: 2 подписи.\n"
    "На данный момент подтверждены 3 подписи. "
    "Сбор подписей продолжается до 1 марта 2027\u202fг., 18:00 (Asia/Almaty).\n\n"
    "Панель управления петицией:\n"
    "http://localhost/organiser/petitions/{id}\n\n"
    "Вы получили это письмо, потому что состоите в команде петиции.\n"
)
GOAL_KK = (
    "Сәлеметсіз бе, Saule!\n\n"
    "«Помилуйте поэта» петициясы 2 қолтаңба деген мақсатына жетті.\n"
    "Қазірге дейін 3 қолтаңба расталды. "
    "Қол жинау 2027\u202fж. 1 наурыз, 18:00 (Asia/Almaty) аяқталады.\n\n"
    "Петицияның басқару тақтасы:\n"
    "http://localhost/organiser/petitions/{id}\n\n"
    "Бұл хатты петиция командасының мүшесі болғандықтан алып отырсыз.\n"
)


def test_reaching_the_goal_emails_each_member_once_in_their_language(
    client, db, runner, smtp, team, make_signature
):
    first, second, third = (_pending(make_signature, team) for _ in range(3))
    make_signature(team, SignatureState.WITHDRAWN)  # withdrawn signatures do not count
    _confirm(client, first)
    assert _queued(db, "goal_reached") == []
    assert db.session.get(Petition, team.id).goal_reached_at is None
    _confirm(client, second)
    assert _queued(db, "goal_reached") == ["dina@example.org", "saule@example.org"]
    reached = db.session.get(Petition, team.id).goal_reached_at
    assert reached is not None
    _confirm(client, third)
    assert len(_queued(db, "goal_reached")) == 2, "once, not at every signature past the goal"
    assert db.session.get(Petition, team.id).goal_reached_at == reached
    _send(runner, 2)
    texts = _texts(smtp)
    assert texts["dina@example.org"] == (
        "Цель достигнута: Помилуйте поэта",
        GOAL_RU.format(id=team.id),
    )
    assert texts["saule@example.org"] == (
        "Мақсатқа жетті: Помилуйте поэта",
        GOAL_KK.format(id=team.id),
    )


def test_paper_lines_count_towards_the_goal(db, team, make_signature):
    from petitions.services import milestones

    make_signature(team, paper_sheet=1, paper_line=1)
    make_signature(team, paper_sheet=1, paper_line=2)
    assert milestones.note_goal(db.session.get(Petition, team.id), utcnow()) is True
    assert len(_queued(db, "goal_reached")) == 2


def test_restored_signatures_count_towards_the_goal(db, team, make_signature):
    from petitions.services import moderation

    make_signature(team)
    invalidated = make_signature(
        team, SignatureState.INVALIDATED, confirmed_at=utcnow(), invalidation_id="a" * 32
    )
    assert moderation.restore(team, team.organiser, ids=[invalidated.id]) == 1
    assert db.session.get(Petition, team.id).goal_reached_at is not None
    assert _queued(db, "goal_reached") == ["dina@example.org", "saule@example.org"]


def test_lowering_the_goal_below_the_count_reaches_it(db, make_petition, make_signature):
    petition = make_petition(goal=100, applicant=None)
    make_signature(petition)
    make_signature(petition)
    fields = [field.name for field in dataclasses.fields(lifecycle.PetitionDraft)]
    draft = lifecycle.PetitionDraft(**{name: getattr(petition, name) for name in fields})
    draft.goal = 50
    assert lifecycle.update_petition(petition, draft, petition.organiser) == ["goal"]
    assert _queued(db, "goal_reached") == []
    draft.goal = 2
    assert lifecycle.update_petition(petition, draft, petition.organiser) == ["goal"]
    assert db.session.get(Petition, petition.id).goal_reached_at is not None
    assert _queued(db, "goal_reached") == [petition.organiser.email]


def test_no_goal_no_email(client, db, make_petition, make_signature):
    petition = make_petition(goal=None)
    _confirm(client, _pending(make_signature, petition))
    assert _queued(db, "goal_reached") == []
    assert db.session.get(Petition, petition.id).goal_reached_at is None


def test_a_confirmation_after_the_goal_costs_no_extra_statement(
    app, client, db, make_petition, make_signature
):
    """The confirm path pays for the goal only until it is reached: then the loaded petition
    says so, and confirming runs exactly the statements it runs with no goal at all."""
    without_goal = make_petition(goal=None)
    reached = make_petition(goal=1, goal_reached_at=utcnow())
    counts = []
    for petition in (without_goal, reached):
        signature = _pending(make_signature, petition)
        statements: list[str] = []

        def listener(*args, seen=statements):
            seen.append(args[2])

        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            _confirm(client, signature)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        counts.append(len(statements))
    assert counts[0] == counts[1]
    assert _queued(db, "goal_reached") == []


CLOSED_EARLY_KK = """Сәлеметсіз бе, Saule!

«Помилуйте поэта» петициясына енді қол қойылмайды: ол {when} (Asia/Almaty) жабылды.
Көрсетілген себебі: Помилован

Қазірге дейін 1 қолтаңба расталды. \
Жабылғанға дейін қойылған қолтаңбаларды жабылғаннан кейін тағы 24 сағат ішінде растауға болады.

Басқару тақтасында қол қойылған пакетті экспорттап, оның жеткізілгенін тіркей аласыз:
http://localhost/organiser/petitions/{id}

Бұл хатты петиция командасының мүшесі болғандықтан алып отырсыз.
"""


def test_closing_early_emails_each_member_once(db, runner, smtp, team, make_signature):
    make_signature(team)
    result = runner.invoke(args=["petitions", "close", team.slug, "--reason", "Помилован"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["petitions", "close", team.slug])
    assert again.exit_code == 1
    assert _queued(db, "petition_closed") == ["dina@example.org", "saule@example.org"]
    _send(runner, 2)
    texts = _texts(smtp)
    petition = db.session.get(Petition, team.id)
    from flask_babel import force_locale

    from petitions.i18n import format_in_zone

    with force_locale("kk"):
        when = format_in_zone(petition.closed_at, "Asia/Almaty")
    assert texts["saule@example.org"] == (
        "Қол жинау аяқталды: Помилуйте поэта",
        CLOSED_EARLY_KK.format(when=when, id=team.id),
    )
    subject, text = texts["dina@example.org"]
    assert subject == "Сбор подписей завершён: Помилуйте поэта"
    assert "Указанная причина: Помилован\n" in text


CLOSED_AT_DEADLINE_EN = """Hello Aidos,

The petition “Free the poet” no longer takes signatures: \
it closed on December 1, 2026, 3:00\u202fPM (Asia/Almaty).

0 confirmed signatures so far. \
Signatures made before it closed can still be confirmed for 24 hours after closing.

On the dashboard you can export the signed bundle and record its delivery:
http://localhost/organiser/petitions/{id}

You receive this email because you are on the petition's team.
"""


def test_the_deadline_emails_the_team_once_when_the_worker_closes_it(
    db, runner, smtp, make_organiser, make_petition
):
    ended = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    petition = make_petition(
        organiser=make_organiser(name="Aidos", email="aidos@example.org"),
        title="Free the poet",
        opens_at=ended - timedelta(days=3),
        closes_at=ended,
    )
    still_open = make_petition()
    assert lifecycle.close_expired(utcnow()) == [petition]
    assert lifecycle.close_expired(utcnow()) == []
    db.session.commit()
    assert _queued(db, "petition_closed") == ["aidos@example.org"]
    result = runner.invoke(args=["mail", "worker", "--rounds", "1", "--interval", "0"])
    assert result.exit_code == 0, result.output
    assert _texts(smtp) == {
        "aidos@example.org": (
            "Signing has closed: Free the poet",
            CLOSED_AT_DEADLINE_EN.format(id=petition.id),
        )
    }
    assert db.session.get(Petition, still_open.id).state == PetitionState.OPEN


def test_a_member_who_left_before_the_email_went_is_not_sent_it(db, runner, smtp, team):
    lifecycle.close_early(team, None, utcnow(), "Done")
    db.session.execute(
        sa.delete(Membership).where(
            Membership.petition_id == team.id, Membership.role == MemberRole.EDITOR
        )
    )
    db.session.commit()
    _send(runner, 1)
    assert list(_texts(smtp)) == ["dina@example.org"]


@pytest.mark.postgres
@pytest.mark.committed
@pytest.mark.parametrize("backend", ["postgres"])
def test_two_confirmations_crossing_the_goal_at_once_email_the_team_once(
    app, db, make_petition, make_signature, backend
):
    """Each of two signers confirms the signature that would make the goal, at the same instant:
    the goal is stamped once, whichever commits second, and the team gets one email each."""
    rounds = 5
    petitions = [make_petition(goal=3) for _ in range(rounds)]
    tokens = []
    for petition in petitions:
        make_signature(petition)
        pair = [_pending(make_signature, petition) for _ in range(2)]
        tokens.append([signing.confirmation_token(signature) for signature in pair])
    db.session.commit()
    for pair in tokens:
        barrier = threading.Barrier(2)

        def confirm(token, barrier=barrier):
            with app.app_context():
                barrier.wait(timeout=30)
                result, _signature = signing.confirm(token)
                db.session.commit()
                return result

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(confirm, pair))
        assert results == [signing.ConfirmResult.CONFIRMED] * 2
    db.session.expire_all()
    for petition in petitions:
        assert db.session.get(Petition, petition.id).goal_reached_at is not None
    owners = sorted(petition.organiser.email for petition in petitions)
    assert sorted(_queued(db, "goal_reached")) == owners


def test_recording_the_delivery_of_a_petition_whose_deadline_passed_unrecorded_emails_once(
    db, make_organiser, make_petition
):
    ended = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    organiser = make_organiser(name="Aidos", email="aidos@example.org")
    petition = make_petition(
        organiser=organiser, opens_at=ended - timedelta(days=3), closes_at=ended
    )
    final = Delivery(
        petition=petition,
        kind=DeliveryKind.FINAL,
        status=ExportStatus.DONE,
        bundle_filename="bundle.zip",
        exported_at=ended,
        finished_at=ended,
    )
    db.session.add(final)
    db.session.flush()
    record = export.DeliveryRecord(ended + timedelta(days=1), "The office", DeliveryChannel.POST)
    export.record_delivery(final, record, organiser)
    db.session.commit()
    assert db.session.get(Petition, petition.id).state == PetitionState.DELIVERED
    assert _queued(db, "petition_closed") == ["aidos@example.org"]
