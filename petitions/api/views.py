"""JSON views."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Response, abort, current_app, jsonify

from petitions import cache
from petitions.api import bp
from petitions.models import utcnow
from petitions.receipts import TREE
from petitions.rendering import render_markdown
from petitions.services import queries, updates


def _public_json(key: tuple, compute: Callable[[], dict | None]) -> Response:
    """Answer public figures as JSON from the short cache, readable from any origin."""
    ttl = current_app.config["SETTINGS"].public_cache_seconds
    data = cache.public.get(key, ttl, compute)
    if data is None:
        abort(404)
    response = jsonify(data)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = f"public, max-age={ttl}"
    return response


@bp.get("/petitions/<rest:slug>.json")
def petition_json(slug: str):
    """Return a petition's public figures as JSON (at most PUBLIC_CACHE_SECONDS old)."""

    def figures() -> dict | None:
        petition = queries.public_petition(slug)
        if petition is None:
            return None
        counts = queries.public_counts(petition)
        return {
            "slug": petition.slug,
            "title": petition.title,
            "state": str(petition.effective_state(utcnow())),
            "signature_count": counts.signatures,
            # The total's two parts: confirmed online, and lines of paper sheets entered twice.
            "online_count": counts.online,
            "paper_count": counts.paper,
            "goal": petition.goal,
            "opens_at": petition.opens_at.isoformat(),
            "closes_at": petition.closes_at.isoformat(),
            "signatures_by_country": queries.counts_by_country(petition),
            # A sealed petition's key, so that anyone can check which key signers' data is
            # sealed to (the organiser compares the fingerprint with their own).
            "sealing_key": petition.sealing_key,
            # Only if the organiser chose to show it; nothing else of the applicant is public.
            "applicant_postal_address": queries.public_address(petition),
            # What every receipt's leaf is computed from (docs/verifying-a-receipt.md).
            "petition_id": petition.public_id,
            "withdrawn_count": counts.withdrawn,
            "invalidated_count": counts.invalidated,
            "outcome": _outcome_json(updates.public_outcome(petition.id)),
            # Newest first, as on the page; the text as the page shows it, sanitised.
            "updates": [_update_json(entry) for entry in updates.public_updates(petition.id)],
        }

    return _public_json(("json", slug), figures)


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _update_json(entry: updates.PublicUpdate) -> dict:
    return {
        "title": entry.title,
        "body_html": str(render_markdown(entry.body)),
        "posted_at": entry.posted_at.isoformat(),
        "edited_at": _moment(entry.edited_at),
    }


def _outcome_json(entry: updates.PublicOutcome | None) -> dict | None:
    if entry is None:
        return None
    return {
        "outcome": str(entry.outcome),
        "answered_on": entry.answered_on.isoformat() if entry.answered_on else None,
        "answered_by": entry.answered_by,
        "summary": entry.summary,
        "full_text_html": str(render_markdown(entry.full_text)) if entry.full_text else None,
        "link": entry.link,
        "recorded_at": entry.recorded_at.isoformat(),
        "edited_at": _moment(entry.edited_at),
    }


def _delivery_json(entry: queries.PublicDelivery) -> dict:
    return {
        "exported_at": entry.exported_at.isoformat(),
        "kind": str(entry.kind),
        "signature_count": entry.signature_count,
        # Both null for an export made before receipts: it has no tree to prove inclusion in.
        "tree_size": entry.tree_size if entry.has_tree else None,
        "tree_root": entry.tree_root if entry.has_tree else None,
        "bundle_sha256": entry.bundle_sha256,
        "delivered_at": _moment(entry.delivered_at),
        "delivered_to": entry.delivered_to,
        "delivery_method": entry.delivery_method,
        "reference": entry.reference,
        "channel": str(entry.channel) if entry.channel else None,
        "registration_number": entry.registration_number,
        "registered_on": entry.registered_on.isoformat() if entry.registered_on else None,
    }


# `rest`, like the petition's JSON: otherwise that rule would take "<slug>/deliveries" as a slug.
@bp.get("/petitions/<rest:slug>/deliveries.json")
def deliveries_json(slug: str):
    """Return a petition's public record of finished exports and their deliveries, oldest first."""

    def record() -> dict | None:
        petition = queries.public_petition(slug)
        if petition is None:
            return None
        return {
            "petition": petition.slug,
            "petition_id": petition.public_id,
            "tree": TREE,
            "deliveries": [_delivery_json(entry) for entry in queries.public_deliveries(petition)],
        }

    return _public_json(("deliveries", slug), record)
