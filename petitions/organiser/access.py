"""Who may do what to a petition: one table, checked once for the whole blueprint.

Every organiser route that names a petition (`petition_id` in its URL) has one entry in
`PETITION_ENDPOINTS`, the permission it needs. Before the view runs, the petition and the
signed-in organiser's role on it are read together: a non-member gets 404, exactly as for a
petition that does not exist; a member whose role lacks the permission gets 403 with a page that
says so. The view then finds the petition in `g.petition`. A route that names a petition but has
no entry fails at start and at every request, never silently open.
"""

from __future__ import annotations

from flask import Flask, abort, g, request
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_login import current_user

from petitions.errors import render_error
from petitions.models import Permission
from petitions.organiser import bp
from petitions.services import teams

#: The permission each organiser route that names a petition needs.
PETITION_ENDPOINTS: dict[str, Permission] = {
    "organiser.show_petition": Permission.VIEW,
    "organiser.edit_petition": Permission.EDIT,
    "organiser.seal_petition": Permission.EDIT,
    "organiser.publish_petition": Permission.PUBLISH,
    "organiser.close_petition": Permission.PUBLISH,
    "organiser.list_signatures": Permission.MODERATE,
    "organiser.invalidate_signatures": Permission.MODERATE,
    "organiser.invalidate_signature_ids": Permission.MODERATE,
    "organiser.restore_signatures": Permission.MODERATE,
    "organiser.export_petition": Permission.EXPORT,
    "organiser.download_export": Permission.EXPORT,
    "organiser.record_delivery": Permission.EXPORT,
    "organiser.record_registration": Permission.EXPORT,
    "organiser.list_members": Permission.VIEW,
    "organiser.invite_member": Permission.MANAGE,
    "organiser.revoke_invitation": Permission.MANAGE,
    "organiser.change_member_role": Permission.MANAGE,
    "organiser.remove_member": Permission.MANAGE,
    "organiser.transfer_ownership": Permission.MANAGE,
    "organiser.leave_petition": Permission.LEAVE,
    # Paper sheets: printing and entering them is the editors' work; deciding on a line that
    # looks like a repeat, and striking one out, the moderators'.
    "organiser.paper_sheets": Permission.EDIT,
    "organiser.download_paper_sheets": Permission.EDIT,
    "organiser.enter_paper_sheet": Permission.EDIT,
    "organiser.keep_paper_repeat": Permission.MODERATE,
    "organiser.invalidate_paper_line": Permission.MODERATE,
    # What happened next: updates and the recipient's answer are written like the text.
    "organiser.list_updates": Permission.EDIT,
    "organiser.post_update": Permission.EDIT,
    "organiser.edit_update": Permission.EDIT,
    "organiser.remove_update": Permission.EDIT,
    "organiser.record_outcome": Permission.EDIT,
    # Emailing every subscriber speaks for the petition in public, as publishing does.
    "organiser.send_update_news": Permission.PUBLISH,
    "organiser.send_outcome_news": Permission.PUBLISH,
}


class UnguardedRoute(RuntimeError):
    """An organiser route names a petition but `PETITION_ENDPOINTS` does not say who may use it."""


def unguarded_routes(app: Flask) -> list[str]:
    """Name the organiser endpoints with a petition in their URL that have no permission."""
    return sorted(
        {
            rule.endpoint
            for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith(f"{bp.name}.")
            and "petition_id" in rule.arguments
            and rule.endpoint not in PETITION_ENDPOINTS
        }
    )


@bp.record_once
def _refuse_unguarded_routes(state: BlueprintSetupState) -> None:
    # Deferred after every route of the blueprint's modules (this one is imported last).
    missing = unguarded_routes(state.app)
    if missing:
        raise UnguardedRoute(f"organiser routes without a permission: {', '.join(missing)}")


@bp.before_request
def load_petition():
    """Load the petition a route names, with the organiser's role; refuse what the role lacks."""
    args = request.view_args or {}
    if "petition_id" not in args or not current_user.is_authenticated:
        return None  # the sign-in check refuses anonymous visitors
    permission = PETITION_ENDPOINTS.get(request.endpoint or "")
    if permission is None:
        raise UnguardedRoute(f"{request.endpoint} names a petition but has no permission")
    member = teams.membership(args["petition_id"], current_user.id)
    if member is None:
        abort(404)
    if not member.role.allows(permission):
        return render_error(
            403,
            _(
                "Your role on this petition (%(role)s) does not allow this. Ask its owner if "
                "you need it.",
                role=member.role.label,
            ),
        )
    g.petition, g.role = member.petition, member.role
    return None


@bp.context_processor
def permissions():
    """Let templates ask whether the organiser's role here allows an action: `can("export")`."""

    def can(permission: str) -> bool:
        role = g.get("role")
        return role is not None and role.allows(Permission(permission))

    return {"can": can}
