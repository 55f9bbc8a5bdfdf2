"""The signers' blueprint: the list of petitions, a petition's page, and signing."""

from flask import Blueprint

from petitions.onion import add_onion_location

bp = Blueprint("public", __name__)
# Signers' pages say where they are on the onion service (docs/deployment.md, "Onion service").
bp.after_request(add_onion_location)

from petitions.public import views  # noqa: E402,F401  (registers the routes on bp)
