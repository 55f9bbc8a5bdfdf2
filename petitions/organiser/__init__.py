"""The organisers' blueprint, under /organiser."""

from flask import Blueprint

bp = Blueprint("organiser", __name__, url_prefix="/organiser")

from petitions.organiser import views  # noqa: E402,F401  (registers the routes on bp)
