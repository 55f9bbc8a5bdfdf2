"""A petition's team: the members page, invitations, roles, removals, the transfer, and the
page where an emailed invitation is accepted.

Each change is its own POST route, so that a sensitive one (adding or removing a member,
transferring ownership) can be given a stricter check of its own. Who may use each route is
decided in `petitions.organiser.access`, before the view runs.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from petitions.extensions import db
from petitions.models import GRANTABLE_ROLES, MemberRole, Permission, utcnow
from petitions.notifications import queue_invitation
from petitions.organiser import bp, sessions
from petitions.organiser.forms import ConfirmForm, InviteForm, JoinForm, RoleForm, TransferForm
from petitions.services import accounts, teams


def _back(petition_id: int):
    return redirect(url_for("organiser.list_members", petition_id=petition_id), code=303)


def _transfer_form(team) -> TransferForm:
    form = TransferForm()
    form.new_owner.choices = [
        (member.organiser_id, f"{member.organiser.name} ({member.organiser.email})")
        for member in team
        if member.role != MemberRole.OWNER
    ]
    return form


def _members_page(invite_form: InviteForm | None = None, status: int = 200):
    petition, now = g.petition, utcnow()
    team = teams.members(petition)
    managing = g.role.allows(Permission.MANAGE)
    return render_template(
        "organiser/members.html",
        petition=petition,
        team=team,
        invitations=teams.pending_invitations(petition, now) if managing else [],
        invite_form=invite_form or InviteForm(formdata=None),
        grantable_roles=GRANTABLE_ROLES,
        transfer_form=_transfer_form(team),
        confirm_form=ConfirmForm(),
        managing=managing,
        role=g.role,
    ), status


@bp.get("/petitions/<int:petition_id>/members")
def list_members(petition_id: int):
    """Show the team and its roles; to the owner also the invitations and the forms."""
    return _members_page()


def _changed(change, done: str) -> None:
    """Apply one change to the team and commit it, or roll back and show why it was refused."""
    try:
        change()
    except teams.TeamError as error:
        db.session.rollback()
        flash(str(error.user_message), "error")
    else:
        db.session.commit()
        flash(done, "info")


@bp.post("/petitions/<int:petition_id>/members/invite")
def invite_member(petition_id: int):
    """Invite an address to the team with a role; the link goes out by email."""
    form = InviteForm()
    if not form.validate_on_submit():
        return _members_page(form, 422)
    try:
        invitation, token = teams.invite(
            g.petition, current_user, form.email.data, form.role.data, utcnow()
        )
    except teams.TeamError as error:
        db.session.rollback()
        form.email.errors.append(error.user_message)
        return _members_page(form, 422)
    queue_invitation(invitation, token, current_user)
    db.session.commit()
    flash(_("Invitation sent to %(email)s.", email=invitation.email), "info")
    return _back(petition_id)


@bp.post("/petitions/<int:petition_id>/invitations/<int:invitation_id>/revoke")
def revoke_invitation(petition_id: int, invitation_id: int):
    """Revoke an invitation: its link stops working at once."""
    if ConfirmForm().validate_on_submit():
        _changed(
            lambda: teams.revoke(g.petition, invitation_id, current_user, utcnow()),
            _("The invitation is revoked: its link no longer works."),
        )
    return _back(petition_id)


@bp.post("/petitions/<int:petition_id>/members/<int:organiser_id>/role")
def change_member_role(petition_id: int, organiser_id: int):
    """Give a member another role."""
    form = RoleForm()
    if form.validate_on_submit():
        _changed(
            lambda: teams.change_role(g.petition, organiser_id, form.role.data, current_user),
            _("The role is changed."),
        )
    else:
        flash(_("Choose a role."), "error")
    return _back(petition_id)


@bp.post("/petitions/<int:petition_id>/members/<int:organiser_id>/remove")
def remove_member(petition_id: int, organiser_id: int):
    """Take a member off the team; from their next request the petition is closed to them."""
    if ConfirmForm().validate_on_submit():
        _changed(
            lambda: teams.remove(g.petition, organiser_id, current_user),
            _("The member is removed from the team."),
        )
    return _back(petition_id)


@bp.post("/petitions/<int:petition_id>/members/transfer")
def transfer_ownership(petition_id: int):
    """Make another member the owner; the present owner becomes an editor."""
    form = _transfer_form(teams.members(g.petition))
    if form.validate_on_submit():
        _changed(
            lambda: teams.transfer(g.petition, form.new_owner.data, current_user),
            _("Ownership is transferred. You are now an editor of this petition."),
        )
    else:
        flash(_("Choose the member who becomes the owner."), "error")
    return _back(petition_id)


@bp.post("/petitions/<int:petition_id>/members/leave")
def leave_petition(petition_id: int):
    """Leave the team of a petition."""
    if not ConfirmForm().validate_on_submit():
        return _back(petition_id)
    try:
        teams.leave(g.petition, current_user)
    except teams.TeamError as error:
        db.session.rollback()
        flash(str(error.user_message), "error")
        return _back(petition_id)
    db.session.commit()
    flash(_("You have left the team of “%(title)s”.", title=g.petition.title), "info")
    return redirect(url_for("organiser.list_petitions"), code=303)


# Accepting an emailed invitation ------------------------------------------------------------


_PROBLEM_STATUS = {
    teams.InvitationProblem.UNKNOWN: 404,
    teams.InvitationProblem.EXPIRED: 410,
    teams.InvitationProblem.USED: 410,
    teams.InvitationProblem.REVOKED: 410,
}


def _accepted(invitation, organiser):
    teams.accept(invitation, organiser, utcnow())
    db.session.commit()
    flash(
        _(
            "Welcome to the team of “%(title)s”, with the role “%(role)s”.",
            title=invitation.petition.title,
            role=invitation.role.label,
        ),
        "info",
    )
    return redirect(
        url_for("organiser.show_petition", petition_id=invitation.petition_id), code=303
    )


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """Accept an invitation: signed in as the invited address, or by creating its account."""
    invitation = teams.invitation_for_token(token)
    problem = teams.problem_with(invitation, utcnow())
    if problem is not None:
        page = render_template("organiser/invitation_invalid.html", problem=problem)
        return page, _PROBLEM_STATUS[problem]
    if current_user.is_authenticated:
        return _accept_signed_in(invitation)
    if accounts.find_organiser(invitation.email) is not None:
        return render_template("organiser/accept_invitation.html", invitation=invitation)
    return _accept_as_new_account(invitation)


def _accept_signed_in(invitation):
    if current_user.email != invitation.email:
        return render_template(
            "organiser/accept_invitation.html", invitation=invitation, wrong_account=True
        ), 403
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            return _accepted(invitation, current_user)
        except teams.TeamError as error:
            db.session.rollback()
            flash(str(error.user_message), "error")
            return redirect(url_for("organiser.list_petitions"), code=303)
    return render_template("organiser/accept_invitation.html", invitation=invitation, form=form)


def _accept_as_new_account(invitation):
    form = JoinForm()
    if not form.validate_on_submit():
        page = render_template("organiser/accept_invitation.html", invitation=invitation, form=form)
        return page, 422 if form.errors else 200
    try:
        organiser = accounts.create_organiser(invitation.email, form.name.data, form.password.data)
        response = _accepted(invitation, organiser)
    except (accounts.AccountError, teams.TeamError) as error:
        db.session.rollback()
        message = getattr(error, "user_message", None) or _("The account could not be created.")
        flash(str(message), "error")
        page = render_template("organiser/accept_invitation.html", invitation=invitation, form=form)
        return page, 409
    # A session on the server, as after a sign-in (and the new browser's warning with it).
    sessions.sign_in(organiser)
    db.session.commit()
    return response
