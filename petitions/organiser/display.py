"""How organisers' pages name what the software records: states, audit actions and details, and
the retention purge's placeholders, each in the organiser's language."""

from __future__ import annotations

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l

from petitions.models import MemberRole, Outcome, PetitionState, SignatureState
from petitions.organiser import bp

#: The states of petitions and signatures, by value, for templates; the words are the enums'.
STATE_NAMES = {state: state.label for state in (*PetitionState, *SignatureState)}
#: Audit-log actions as organisers read them; an action not listed is shown as recorded.
ACTION_NAMES = {
    "create": _l("Created"),
    "edit": _l("Edited"),
    "publish": _l("Published"),
    "close": _l("Closed"),
    "invalidate": _l("Invalidated"),
    "restore": _l("Restored"),
    "export": _l("Exported"),
    "deliver": _l("Delivered"),
    "purge": _l("Purged"),
    "invite": _l("Invited"),
    "revoke_invitation": _l("Invitation revoked"),
    "accept": _l("Joined the team"),
    "change_role": _l("Role changed"),
    "remove_member": _l("Removed from the team"),
    "leave": _l("Left the team"),
    "transfer": _l("Ownership transferred"),
    "post_update": _l("Update posted"),
    "edit_update": _l("Update edited"),
    "remove_update": _l("Update removed"),
    "record_outcome": _l("Answer recorded"),
    "edit_outcome": _l("Answer corrected"),
    "broadcast": _l("News sent to subscribers"),
}
#: The details the audit log records with an action, as organisers read them. A key not listed
#: is shown as recorded; `action_id` is left out (the Undo button stands for it).
DETAIL_NAMES = {
    "slug": _l("Web address (slug)"),
    "fields": _l("Fields changed"),
    "reason": _l("Reason"),
    "kind": _l("Kind"),
    "signatures": _l("Signatures"),
    "count": _l("Signatures"),
    "emails": _l("Emails erased"),
    "sha256": "SHA-256",
    "file": _l("File"),
    "to": _l("Received by"),
    "how": _l("How"),
    "reference": _l("Reference number"),
    "filter": _l("Search"),
    "demo": _l("Demonstration"),
    "email": _l("Email address"),
    "member": _l("Member"),
    "role": _l("Role"),
    "previous_role": _l("Previous role"),
    "update": _l("Update"),
    "title": _l("Title"),
    "outcome": _l("Outcome"),
    "item": _l("What was sent"),
    "subscribers": _l("Subscribers"),
}
#: Values the software itself records under a key (not organisers' words), as organisers read them.
DETAIL_VALUES = {
    "kind": {"final": _l("final"), "interim": _l("interim")},
    "reason": {"window ended": _l("the collection window ended")},
    "role": {role.value: role.label for role in MemberRole},
    "previous_role": {role.value: role.label for role in MemberRole},
    "outcome": {outcome.value: outcome.label for outcome in Outcome},
}
YES_NO = {True: _l("yes"), False: _l("no")}
#: Why a sealed petition's moderation page has no name search, and what to do instead.
SEALED_NAMES = _l(
    "This petition is sealed: the server cannot read names, so it cannot search them. Search by "
    "email domain or address instead, or open the sealed export on your own machine (“flask "
    "bundles unseal --rows-out”) and invalidate by signature id below."
)
#: What a sealed signature shows where the server holds no name or city.
SEALED_TEXT = _l("(sealed)")
#: What the retention purge stores in place of personal data (services/retention.py), as read.
PURGED_TEXT = {"(anonymous)": _l("(anonymous)"), "(removed)": _l("(removed)")}


@bp.app_template_filter("stored_text")
def stored_text(value: str) -> str:
    """Show a stored value as it is, unless it is one of the purge's placeholders."""
    return str(PURGED_TEXT[value]) if value in PURGED_TEXT else value


@bp.app_template_filter("signer_text")
def signer_text(value: str | None, sealed: bool) -> str:
    """Show a signer's stored name or city; in a sealed row without one, say it is sealed."""
    if value is None:
        return str(SEALED_TEXT) if sealed else ""
    return stored_text(value)


@bp.app_template_filter("audit_details")
def audit_details(detail: dict) -> list[tuple[str, str]]:
    """Return an audit event's details as (name, value) pairs in the current language."""
    return [
        (str(DETAIL_NAMES.get(key, key)), _detail_value(value, DETAIL_VALUES.get(key, {})))
        for key, value in detail.items()
        if key != "action_id" and value not in (None, "", [], {})
    ]


def _detail_value(value: object, known: dict | None = None) -> str:
    if isinstance(value, str) and known and value in known:
        return str(known[value])
    if isinstance(value, str):
        return stored_text(value)
    if isinstance(value, bool):
        return str(YES_NO[value])
    if isinstance(value, int):
        return format_decimal(value)
    if isinstance(value, list):
        return ", ".join(_detail_value(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_detail_value(item)}" for key, item in value.items())
    return str(value)


@bp.context_processor
def display_names() -> dict[str, dict]:
    """Give the organisers' templates the names of states and audit actions."""
    return {
        "state_names": STATE_NAMES,
        "action_names": ACTION_NAMES,
        "sealed_names_text": SEALED_NAMES,
    }
