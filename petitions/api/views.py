"""JSON views."""

from __future__ import annotations

from flask import abort, current_app, jsonify

from petitions import cache
from petitions.api import bp
from petitions.models import utcnow
from petitions.services import queries


@bp.get("/petitions/<rest:slug>.json")
def petition_json(slug: str):
    """Return a petition's public figures as JSON (at most PUBLIC_CACHE_SECONDS old)."""

    def figures() -> dict | None:
        petition = queries.public_petition(slug)
        if petition is None:
            return None
        return {
            "slug": petition.slug,
            "title": petition.title,
            "state": str(petition.effective_state(utcnow())),
            "signature_count": queries.confirmed_count(petition),
            "goal": petition.goal,
            "opens_at": petition.opens_at.isoformat(),
            "closes_at": petition.closes_at.isoformat(),
            "signatures_by_country": queries.counts_by_country(petition),
            # A sealed petition's key, so that anyone can check which key signers' data is
            # sealed to (the organiser compares the fingerprint with their own).
            "sealing_key": petition.sealing_key,
        }

    ttl = current_app.config["SETTINGS"].public_cache_seconds
    data = cache.public.get(("json", slug), ttl, figures)
    if data is None:
        abort(404)
    response = jsonify(data)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = f"public, max-age={ttl}"
    return response
