"""Teams: every organiser route answers each role exactly; invitations, roles, removal, transfer."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from petitions.models import (
    AuditEvent,
    Delivery,
    DeliveryKind,
    ExportStatus,
    Invitation,
    MemberRole,
    Membership,
    Outcome,
    PetitionOutcome,
    PetitionUpdate,
    Signature,
    utcnow,
)
from petitions.organiser import access, members
from petitions.services import accounts, export, paper, teams
from tests.conftest import PASSWORD, make_test_app
from tests.helpers import csrf_token, login, post_form

OWNER, EDITOR, MODERATOR, VIEWER = "owner", "editor", "moderator", "viewer"
STRANGER = "stranger"
EVERY_ROLE = {OWNER, EDITOR, MODERATOR, VIEWER}

#: Who may use each organiser route that names a petition, as the roles are defined for people:
#: owner everything; editor text, window, publish, close, seal, export, download, delivery;
#: moderator names, the signatures page, invalidate, restore; viewer the dashboard only.
ALLOWED = {
    "show_petition": EVERY_ROLE,
    "edit_petition": {OWNER, EDITOR},
    "seal_petition": {OWNER, EDITOR},
    "publish_petition": {OWNER, EDITOR},
    "close_petition": {OWNER, EDITOR},
    "export_petition": {OWNER, EDITOR},
    "download_export": {OWNER, EDITOR},
    "record_delivery": {OWNER, EDITOR},
    "record_registration": {OWNER, EDITOR},
    "list_signatures": {OWNER, MODERATOR},
    "invalidate_signatures": {OWNER, MODERATOR},
    "invalidate_signature_ids": {OWNER, MODERATOR},
    "restore_signatures": {OWNER, MODERATOR},
    "list_members": EVERY_ROLE,
    "invite_member": {OWNER},
    "revoke_invitation": {OWNER},
    "change_member_role": {OWNER},
    "remove_member": {OWNER},
    "transfer_ownership": {OWNER},
    "leave_petition": {EDITOR, MODERATOR, VIEWER},
    "paper_sheets": {OWNER, EDITOR},
    "download_paper_sheets": {OWNER, EDITOR},
    "enter_paper_sheet": {OWNER, EDITOR},
    "keep_paper_repeat": {OWNER, MODERATOR},
    "invalidate_paper_line": {OWNER, MODERATOR},
    "list_updates": {OWNER, EDITOR},
    "post_update": {OWNER, EDITOR},
    "edit_update": {OWNER, EDITOR},
    "remove_update": {OWNER, EDITOR},
    "record_outcome": {OWNER, EDITOR},
    "send_update_news": {OWNER, EDITOR},
    "send_outcome_news": {OWNER, EDITOR},
}

#: What a member who may use the route gets, by method, for the request the matrix sends (a CSRF
#: token and a reason, nothing else): a page, a refused form (422), or a redirect after the change
#: or after a flashed refusal (303).
ANSWERS = {
    ("show_petition", "GET"): 200,
    ("edit_petition", "GET"): 200,
    ("edit_petition", "POST"): 422,  # no title: the editor again, with its errors
    ("seal_petition", "POST"): 422,  # no key
    ("publish_petition", "POST"): 303,  # already open: refused with a message
    ("close_petition", "POST"): 303,  # closed, with the reason
    ("export_petition", "POST"): 303,  # queued
    ("download_export", "GET"): 200,  # the bundle file
    ("record_delivery", "POST"): 303,  # no date: refused with a message
    ("record_registration", "POST"): 303,  # no number: refused with a message
    ("list_signatures", "GET"): 200,
    ("invalidate_signatures", "POST"): 303,  # nothing chosen: refused with a message
    ("invalidate_signature_ids", "POST"): 422,  # no ids
    ("restore_signatures", "POST"): 303,
    ("list_members", "GET"): 200,
    ("invite_member", "POST"): 422,  # no address
    ("revoke_invitation", "POST"): 303,
    ("change_member_role", "POST"): 303,  # no role: refused with a message
    ("remove_member", "POST"): 303,
    ("transfer_ownership", "POST"): 303,  # no new owner: refused with a message
    ("leave_petition", "POST"): 303,
    ("paper_sheets", "GET"): 200,
    ("download_paper_sheets", "GET"): 422,  # no first sheet and count: the page with errors
    ("enter_paper_sheet", "GET"): 200,
    ("enter_paper_sheet", "POST"): 422,  # no sheet number
    ("keep_paper_repeat", "POST"): 303,
    ("invalidate_paper_line", "POST"): 303,  # with the reason
    ("list_updates", "GET"): 200,
    ("post_update", "POST"): 422,  # no title, no text
    ("edit_update", "GET"): 200,
    ("edit_update", "POST"): 422,  # no title, no text
    ("remove_update", "GET"): 200,  # the question first
    ("remove_update", "POST"): 303,  # removed
    ("record_outcome", "GET"): 200,  # says why an open petition takes no answer yet
    ("record_outcome", "POST"): 422,  # no outcome chosen
    ("send_update_news", "POST"): 303,  # sent (to nobody: no one subscribed)
    ("send_outcome_news", "POST"): 303,
}


def _petition_rules(app):
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("organiser.") and "petition_id" in rule.arguments
    ]


@pytest.fixture
def people(app, make_account):
    """One signed-in browser for each role, and one for an organiser on no team."""
    clients = {}
    for name in (OWNER, EDITOR, MODERATOR, VIEWER, STRANGER):
        account = make_account(f"{name}@example.org", name.title())
        client = app.test_client()
        assert login(client, account.email, PASSWORD).status_code == 303
        clients[name] = (account, client)
    return clients


def _team(db, make_petition, people, **fields):
    """Make a petition owned by the owner, with an editor, a moderator and a viewer."""
    petition = make_petition(organiser=people[OWNER][0], **fields)
    for role in (EDITOR, MODERATOR, VIEWER):
        db.session.add(Membership(petition=petition, organiser=people[role][0], role=role))
    db.session.flush()
    return petition


# One table, checked in one place -----------------------------------------------------------


def test_every_organiser_route_that_names_a_petition_has_a_permission(app):
    endpoints = {rule.endpoint for rule in _petition_rules(app)}
    assert access.unguarded_routes(app) == []
    assert set(access.PETITION_ENDPOINTS) == endpoints
    assert {f"organiser.{name}" for name in ALLOWED} == endpoints, "the matrix below covers all"


def test_a_route_missing_from_the_table_fails_loudly(app, db, people, make_petition, monkeypatch):
    petition = _team(db, make_petition, people)
    monkeypatch.delitem(access.PETITION_ENDPOINTS, "organiser.list_members")
    with pytest.raises(access.UnguardedRoute, match=r"organiser\.list_members"):
        people[OWNER][1].get(f"/organiser/petitions/{petition.id}/members")
    with pytest.raises(access.UnguardedRoute, match=r"organiser\.list_members"):
        make_test_app(app.config["SQLALCHEMY_DATABASE_URI"], app.config["INSTANCE_PATH"])


def _path(rule, petition, values):
    return rule.build({"petition_id": petition.id, **values})[1]


def _fixtures_of(db, petition, people, app):
    """Real records for the routes that name one besides the petition."""
    now = utcnow()
    delivery = Delivery(
        petition=petition,
        kind=DeliveryKind.FINAL,
        status=ExportStatus.DONE,
        bundle_filename="bundle.zip",
        exported_at=now,
        finished_at=now,
    )
    outcome = PetitionOutcome(petition=petition, outcome=Outcome.GRANTED, summary="Pardoned.")
    db.session.add_all([delivery, outcome])
    invitation, _token = teams.invite(
        petition, people[OWNER][0], "invited@example.org", MemberRole.VIEWER, now
    )
    line = [paper.PaperLine(1, "Әлия Үмбетова", "Алматы", "KZ")]
    for _ in range(2):  # entered twice alike: the sheet counts
        paper.enter_pass(
            petition, 1, paper.check_code(petition.public_id, 1), line, people[OWNER][0], now
        )
    db.session.flush()
    paper_line = db.session.scalar(
        sa.select(Signature.id).where(
            Signature.petition_id == petition.id, Signature.paper_sheet.is_not(None)
        )
    )
    update = PetitionUpdate(petition=petition, title="Released", body="Text")
    db.session.add(update)
    db.session.flush()
    folder = export.export_directory() / str(delivery.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bundle.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    return {
        "delivery_id": delivery.id,
        "invitation_id": invitation.id,
        "organiser_id": people[VIEWER][0].id,
        "signature_id": paper_line,
        "update_id": update.id,
    }


@pytest.mark.parametrize("person", [OWNER, EDITOR, MODERATOR, VIEWER, STRANGER])
def test_every_petition_route_answers_each_role_exactly(app, db, people, make_petition, person):
    client = people[person][1]
    token = csrf_token(client, "/organiser/")
    checked = 0
    for rule in _petition_rules(app):
        name = rule.endpoint.removeprefix("organiser.")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            # A petition of its own for every request: closing or a removal changes the next.
            petition = _team(db, make_petition, people)
            path = _path(rule, petition, _fixtures_of(db, petition, people, app))
            response = client.open(path, method=method, data={"csrf_token": token, "reason": "x"})
            response.close()  # the download's file
            if person == STRANGER:
                expected = 404
            elif person in ALLOWED[name]:
                expected = ANSWERS[(name, method)]
            else:
                expected = 403
            assert response.status_code == expected, (person, method, path)
            if expected == 403:
                page = response.get_data(as_text=True)
                assert f"Your role on this petition ({person.title()}) does not allow" in page
            checked += 1
    assert checked == len(ANSWERS)


def test_the_dashboard_shows_only_the_actions_the_role_allows(db, people, make_petition):
    petition = _team(db, make_petition, people)
    dashboard = f"/organiser/petitions/{petition.id}"
    marks = {
        "edit": f'href="{dashboard}/edit"',
        "moderate": f'href="{dashboard}/signatures"',
        "close": f'action="{dashboard}/close"',
        "export": f'action="{dashboard}/exports"',
        "log": 'id="log-heading"',
        "clusters": 'id="clusters-heading"',
        "team": f'href="{dashboard}/members"',
        "news": f'href="{dashboard}/updates"',
    }
    expected = {
        OWNER: set(marks),
        EDITOR: {"edit", "close", "export", "log", "team", "news"},
        MODERATOR: {"moderate", "log", "clusters", "team"},
        VIEWER: {"team"},
    }
    for role, shown in expected.items():
        page = people[role][1].get(dashboard).get_data(as_text=True)
        assert 'id="counts-heading"' in page and 'id="days-heading"' in page
        assert {name for name, mark in marks.items() if mark in page} == shown, role


def test_the_list_shows_every_petition_the_organiser_is_on_with_the_role(db, people, make_petition):
    mine = make_petition(organiser=people[VIEWER][0], title="Mine")
    theirs = _team(db, make_petition, people, title="Theirs")
    make_petition(title="Not mine")
    page = people[VIEWER][1].get("/organiser/").get_data(as_text=True)
    assert f'href="/organiser/petitions/{mine.id}"' in page
    assert f'href="/organiser/petitions/{theirs.id}"' in page
    assert "Not mine" not in page
    rows = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr>")[1:]
    assert [("Mine" in row, "Owner" in row, "Viewer" in row) for row in rows] == [
        (False, False, True),
        (True, True, False),
    ]


# Invitations ---------------------------------------------------------------------------------

INVITATION_LINK = re.compile(r"https?://[^/\s]+(/organiser/invitations/[A-Za-z0-9_-]+)")


@pytest.fixture
def app_overrides(smtp_port):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_port)}


def _invite(client, petition, email, role, headers=None):
    members = f"/organiser/petitions/{petition.id}/members"
    token = csrf_token(client, members)
    return client.post(
        f"{members}/invite",
        data={"csrf_token": token, "email": email, "role": role},
        headers=headers or {},
    )


def _emailed_link(runner, smtp, address) -> tuple[str, object]:
    """Send the outbox through the SMTP server; return the invitation link mailed to `address`."""
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    [message] = [m for m in smtp.messages if m["To"] == address]
    text = message.get_body(("plain",)).get_content()
    return INVITATION_LINK.search(text).group(1), message


def _accept_as_new(client, link, name="Dana", password=PASSWORD, repeat=None):
    # The session's token, from a page that always has a form: the link's page may have none.
    token = csrf_token(client, "/organiser/login")
    data = {"csrf_token": token, "name": name, "password": password, "repeat": repeat or password}
    return client.post(link, data=data)


def _audit(db, petition):
    return db.session.execute(
        sa.select(AuditEvent.actor_label, AuditEvent.action, AuditEvent.detail)
        .where(AuditEvent.petition_id == petition.id)
        .order_by(AuditEvent.id)
    ).all()


def test_an_invitation_arrives_by_email_in_the_inviters_language_and_works_once(
    app, db, runner, smtp, people, make_petition
):
    petition = _team(db, make_petition, people, title="Free the poet")
    owner = people[OWNER][1]
    answer = _invite(owner, petition, " Dana@Example.org ", "moderator", {"Accept-Language": "ru"})
    assert answer.status_code == 303
    link, message = _emailed_link(runner, smtp, "dana@example.org")
    assert message["Subject"] == "Приглашение в команду петиции: Free the poet"
    assert "«Модератор»" in message.get_body(("plain",)).get_content()
    stored = db.session.scalars(sa.select(Invitation)).one()
    assert stored.token_hash == hashlib.sha256(link.rsplit("/", 1)[1].encode()).digest()
    assert link.rsplit("/", 1)[1].encode() not in stored.token_hash

    newcomer = app.test_client()
    page = newcomer.get(link)
    assert page.status_code == 200
    assert "Create the account and accept" in page.get_data(as_text=True)
    accepted = _accept_as_new(newcomer, link)
    assert accepted.status_code == 303
    assert accepted.headers["Location"] == f"/organiser/petitions/{petition.id}"
    assert newcomer.get(f"/organiser/petitions/{petition.id}/signatures").status_code == 200
    assert newcomer.get(f"/organiser/petitions/{petition.id}/edit").status_code == 403

    again = app.test_client().get(link)
    assert again.status_code == 410
    assert "already been accepted: a link works only once" in again.get_data(as_text=True)
    assert newcomer.get(link).status_code == 410
    assert [(who, what) for who, what, _detail in _audit(db, petition)] == [
        ("owner@example.org", "invite"),
        ("dana@example.org", "accept"),
    ]


def test_an_invitation_expires_after_seven_days(app, db, people, make_petition, monkeypatch):
    petition = _team(db, make_petition, people)
    sent = utcnow()
    _invitation, token = teams.invite(
        petition, people[OWNER][0], "late@example.org", "viewer", sent
    )
    db.session.commit()
    link = f"/organiser/invitations/{token}"
    clock = {"now": sent + timedelta(days=7) - timedelta(seconds=1)}
    monkeypatch.setattr(members, "utcnow", lambda: clock["now"])
    assert app.test_client().get(link).status_code == 200
    clock["now"] = sent + timedelta(days=7)
    expired = app.test_client().get(link)
    assert expired.status_code == 410
    assert "The invitation has expired: a link works for 7 days." in expired.get_data(as_text=True)
    newcomer = app.test_client()
    assert _accept_as_new(newcomer, link).status_code == 410
    assert accounts.find_organiser("late@example.org") is None


def test_a_revoked_invitation_fails_and_an_unknown_one_is_not_found(app, db, people, make_petition):
    petition = _team(db, make_petition, people)
    invitation, token = teams.invite(
        petition, people[OWNER][0], "gone@example.org", "editor", utcnow()
    )
    db.session.commit()
    revoke = f"/organiser/petitions/{petition.id}/invitations/{invitation.id}/revoke"
    answer = post_form(people[OWNER][1], revoke, form_page=f"/organiser/petitions/{petition.id}")
    assert answer.status_code == 303
    page = app.test_client().get(f"/organiser/invitations/{token}")
    assert page.status_code == 410
    assert "The invitation was revoked by the petition's owner." in page.get_data(as_text=True)
    unknown = app.test_client().get("/organiser/invitations/" + "A" * 43)
    assert unknown.status_code == 404
    assert _audit(db, petition)[-1][:2] == ("owner@example.org", "revoke_invitation")


def test_a_new_invitation_of_the_same_address_voids_the_older_link(db, people, make_petition):
    petition = _team(db, make_petition, people)
    owner = people[OWNER][0]
    _first, old = teams.invite(petition, owner, "twice@example.org", "viewer", utcnow())
    _second, new = teams.invite(petition, owner, "twice@example.org", "editor", utcnow())
    assert teams.problem_with(teams.invitation_for_token(old), utcnow()) == "revoked"
    assert teams.problem_with(teams.invitation_for_token(new), utcnow()) is None


def test_accepting_while_signed_in_as_another_address_is_refused_clearly(db, people, make_petition):
    petition = _team(db, make_petition, people)
    _invitation, token = teams.invite(
        petition, people[OWNER][0], "someone@example.org", "editor", utcnow()
    )
    db.session.commit()
    link = f"/organiser/invitations/{token}"
    stranger = people[STRANGER][1]
    page = stranger.get(link)
    assert page.status_code == 403
    assert (
        "You are signed in as stranger@example.org, but this invitation is for "
        "someone@example.org." in page.get_data(as_text=True)
    )
    forged = stranger.post(link, data={"csrf_token": csrf_token(stranger, "/organiser/")})
    assert forged.status_code == 403
    assert stranger.get(f"/organiser/petitions/{petition.id}").status_code == 404
    assert teams.problem_with(teams.invitation_for_token(token), utcnow()) is None


def test_an_existing_organiser_accepts_signed_in_as_the_invited_address(
    app, db, people, make_petition, make_account
):
    petition = _team(db, make_petition, people)
    make_account("aidos@example.org", "Aidos")
    _invitation, token = teams.invite(
        petition, people[OWNER][0], "AIDOS@example.org", "viewer", utcnow()
    )
    db.session.commit()
    link = f"/organiser/invitations/{token}"
    client = app.test_client()
    signed_out = client.get(link).get_data(as_text=True)
    assert "An organiser account already uses aidos@example.org. Sign in with it" in signed_out
    assert _accept_as_new(client, link).status_code == 200, "no second account is made"
    assert login(client, "aidos@example.org", PASSWORD).status_code == 303
    assert client.get(link).status_code == 200
    accepted = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert accepted.status_code == 303
    assert client.get(f"/organiser/petitions/{petition.id}").status_code == 200
    assert client.get(f"/organiser/petitions/{petition.id}/signatures").status_code == 403


def test_a_new_account_needs_a_name_and_matching_long_passwords(app, db, people, make_petition):
    petition = _team(db, make_petition, people)
    _invitation, token = teams.invite(
        petition, people[OWNER][0], "new@example.org", "viewer", utcnow()
    )
    db.session.commit()
    link = f"/organiser/invitations/{token}"
    client = app.test_client()
    short = _accept_as_new(client, link, password="short")
    assert short.status_code == 422
    assert "Field must be between 12 and 200 characters long." in short.get_data(as_text=True)
    differ = _accept_as_new(client, link, repeat="another long password")
    assert "The two passwords differ." in differ.get_data(as_text=True)
    nameless = _accept_as_new(client, link, name="\u200b ")
    assert "Enter your name." in nameless.get_data(as_text=True)
    assert accounts.find_organiser("new@example.org") is None
    assert _accept_as_new(client, link).status_code == 303


def test_the_owner_cannot_invite_a_member_again_or_grant_ownership(db, people, make_petition):
    petition = _team(db, make_petition, people)
    owner = people[OWNER][1]
    again = _invite(owner, petition, "viewer@example.org", "editor")
    assert again.status_code == 422
    assert "This address is already a member of the team." in again.get_data(as_text=True)
    owning = _invite(owner, petition, "new@example.org", "owner")
    assert owning.status_code == 422
    assert "Not a valid choice." in owning.get_data(as_text=True)
    with pytest.raises(teams.TeamError):
        teams.invite(petition, people[OWNER][0], "new@example.org", "owner", utcnow())
    assert db.session.scalars(sa.select(Invitation)).all() == []


# Exactly one owner -----------------------------------------------------------------------------


def test_the_database_refuses_a_second_owner(db, people, make_petition):
    petition = _team(db, make_petition, people)
    db.session.add(Membership(petition=petition, organiser=people[STRANGER][0], role=OWNER))
    with pytest.raises(IntegrityError):
        db.session.flush()


def test_the_database_refuses_an_invitation_to_ownership(db, people, make_petition):
    petition = _team(db, make_petition, people)
    db.session.add(
        Invitation(
            petition=petition,
            email="x@example.org",
            role=MemberRole.OWNER,
            token_hash=bytes(32),
            expires_at=utcnow(),
        )
    )
    with pytest.raises(IntegrityError):
        db.session.flush()


def test_the_owner_is_never_removed_demoted_or_gone(db, people, make_petition):
    petition = _team(db, make_petition, people)
    owner = people[OWNER][0]
    with pytest.raises(teams.TeamError):
        teams.remove(petition, owner.id, owner)
    with pytest.raises(teams.TeamError):
        teams.leave(petition, owner)
    with pytest.raises(teams.TeamError):
        teams.change_role(petition, owner.id, "viewer", owner)
    with pytest.raises(teams.TeamError):
        teams.change_role(petition, people[EDITOR][0].id, "owner", owner)
    with pytest.raises(teams.TeamError):
        teams.transfer(petition, people[EDITOR][0].id, people[EDITOR][0])
    assert teams.owner_count(petition) == 1
    members_page = f"/organiser/petitions/{petition.id}/members"
    left = post_form(people[OWNER][1], f"{members_page}/leave", form_page=members_page)
    assert left.status_code == 403
    removed = post_form(
        people[OWNER][1], f"{members_page}/{owner.id}/remove", form_page=members_page
    )
    assert removed.status_code == 303
    assert "The owner cannot leave the team: transfer ownership to another member first." in people[
        OWNER
    ][1].get(members_page).get_data(as_text=True)
    assert teams.owner_count(petition) == 1
    assert teams.membership(petition.id, owner.id).role == MemberRole.OWNER


def test_ownership_is_transferred_and_the_old_owner_becomes_an_editor(db, people, make_petition):
    petition = _team(db, make_petition, people)
    owner, moderator = people[OWNER], people[MODERATOR]
    members_page = f"/organiser/petitions/{petition.id}/members"
    answer = post_form(
        owner[1],
        f"{members_page}/transfer",
        {"new_owner": str(moderator[0].id)},
        form_page=members_page,
    )
    assert answer.status_code == 303
    assert teams.membership(petition.id, moderator[0].id).role == MemberRole.OWNER
    assert teams.membership(petition.id, owner[0].id).role == MemberRole.EDITOR
    assert teams.owner_count(petition) == 1
    db.session.refresh(petition)
    assert petition.organiser_id == moderator[0].id
    assert owner[1].get(f"/organiser/petitions/{petition.id}/edit").status_code == 200
    assert (
        post_form(owner[1], f"{members_page}/transfer", form_page=members_page).status_code == 403
    )
    assert moderator[1].get(members_page).status_code == 200
    assert 'action="' + f"{members_page}/invite" + '"' in moderator[1].get(members_page).get_data(
        as_text=True
    )
    assert _audit(db, petition)[-1] == (
        "owner@example.org",
        "transfer",
        {"member": "moderator@example.org", "previous_role": "moderator"},
    )


def test_ownership_goes_only_to_a_member(db, people, make_petition):
    petition = _team(db, make_petition, people)
    members_page = f"/organiser/petitions/{petition.id}/members"
    answer = post_form(
        people[OWNER][1],
        f"{members_page}/transfer",
        {"new_owner": str(people[STRANGER][0].id)},
        form_page=members_page,
    )
    assert answer.status_code == 303
    assert "Choose the member who becomes the owner." in people[OWNER][1].get(
        members_page
    ).get_data(as_text=True)
    assert teams.membership(petition.id, people[OWNER][0].id).role == MemberRole.OWNER


# Roles and removal ------------------------------------------------------------------------------


def test_a_removed_member_loses_the_petition_on_their_next_request(db, people, make_petition):
    petition = _team(db, make_petition, people)
    moderator = people[MODERATOR][1]
    signatures = f"/organiser/petitions/{petition.id}/signatures"
    assert moderator.get(signatures).status_code == 200
    members_page = f"/organiser/petitions/{petition.id}/members"
    removed = post_form(
        people[OWNER][1],
        f"{members_page}/{people[MODERATOR][0].id}/remove",
        form_page=members_page,
    )
    assert removed.status_code == 303
    assert moderator.get(signatures).status_code == 404
    assert moderator.get(f"/organiser/petitions/{petition.id}").status_code == 404
    assert f"/organiser/petitions/{petition.id}" not in moderator.get("/organiser/").get_data(
        as_text=True
    )
    assert _audit(db, petition)[-1] == (
        "owner@example.org",
        "remove_member",
        {"member": "moderator@example.org", "role": "moderator"},
    )


def test_a_changed_role_applies_on_the_next_request(db, people, make_petition):
    petition = _team(db, make_petition, people)
    viewer = people[VIEWER]
    signatures = f"/organiser/petitions/{petition.id}/signatures"
    assert viewer[1].get(signatures).status_code == 403
    members_page = f"/organiser/petitions/{petition.id}/members"
    changed = post_form(
        people[OWNER][1],
        f"{members_page}/{viewer[0].id}/role",
        {"role": "moderator"},
        form_page=members_page,
    )
    assert changed.status_code == 303
    assert viewer[1].get(signatures).status_code == 200
    assert _audit(db, petition)[-1] == (
        "owner@example.org",
        "change_role",
        {"member": "viewer@example.org", "previous_role": "viewer", "role": "moderator"},
    )


def test_a_member_leaves_and_the_log_names_who_did_what(db, people, make_petition):
    petition = _team(db, make_petition, people)
    editor = people[EDITOR][1]
    members_page = f"/organiser/petitions/{petition.id}/members"
    publish = post_form(editor, f"/organiser/petitions/{petition.id}/close", {"reason": "Done"})
    assert publish.status_code == 303
    left = post_form(editor, f"{members_page}/leave", form_page=members_page)
    assert left.status_code == 303
    assert left.headers["Location"] == "/organiser/"
    assert editor.get(members_page).status_code == 404
    assert [(who, what) for who, what, _detail in _audit(db, petition)] == [
        ("editor@example.org", "close"),
        ("editor@example.org", "leave"),
    ]
    log = people[OWNER][1].get(f"/organiser/petitions/{petition.id}").get_data(as_text=True)
    assert "Left the team" in log and "editor@example.org" in log


def test_a_forged_post_of_another_petitions_member_id_changes_nothing(db, people, make_petition):
    mine = _team(db, make_petition, people)
    other = make_petition(organiser=people[STRANGER][0])
    outsider = make_petition().organiser
    db.session.add(Membership(petition=other, organiser=outsider, role=VIEWER))
    db.session.flush()
    members_page = f"/organiser/petitions/{mine.id}/members"
    answer = post_form(
        people[OWNER][1], f"{members_page}/{outsider.id}/remove", form_page=members_page
    )
    assert answer.status_code == 303
    assert teams.membership(other.id, outsider.id) is not None
    assert "This person is not a member of the team." in people[OWNER][1].get(
        members_page
    ).get_data(as_text=True)
