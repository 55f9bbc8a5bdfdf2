"""Views for signers: thin, each parses input, calls one service and renders."""

from __future__ import annotations

from flask import abort, jsonify, render_template

from petitions.errors import DATABASE_OUTAGES
from petitions.models import utcnow
from petitions.public import bp
from petitions.rendering import render_markdown
from petitions.services import queries


@bp.get("/")
def list_petitions():
    """List the petitions open for signing."""
    petitions = queries.open_petitions(utcnow())
    counts = queries.confirmed_counts([petition.id for petition in petitions])
    return render_template("public/list_petitions.html", petitions=petitions, counts=counts)


@bp.get("/petitions/<slug>")
def show_petition(slug: str):
    """Show one petition: its text, count and deadline."""
    petition = queries.public_petition(slug)
    if petition is None:
        abort(404)
    now = utcnow()
    return render_template(
        "public/show_petition.html",
        petition=petition,
        body=render_markdown(petition.body),
        count=queries.confirmed_count(petition),
        is_open=petition.accepts_signatures_at(now),
        ended_at=petition.collection_ended_at(now),
        not_yet_open=petition.opens_at > now,
    )


@bp.get("/healthz")
def healthz():
    """Answer 200 when the database answers, 503 when it does not."""
    try:
        queries.database_answers()
    except DATABASE_OUTAGES:
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
