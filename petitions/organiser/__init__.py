"""The organisers' blueprint, under /organiser."""

from flask import Blueprint

bp = Blueprint("organiser", __name__, url_prefix="/organiser")

from petitions.organiser import display, paper, views  # noqa: E402,F401  (register on bp)
