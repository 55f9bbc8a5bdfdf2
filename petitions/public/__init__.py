"""The signers' blueprint: the list of petitions, a petition's page, and signing."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from petitions.public import views  # noqa: E402,F401  (registers the routes on bp)
