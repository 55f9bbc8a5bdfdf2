"""The organisers' blueprint, under /organiser."""

from flask import Blueprint

bp = Blueprint("organiser", __name__, url_prefix="/organiser")

# access last: its check runs after the sign-in check, and it verifies every route above.
from petitions.organiser import display, paper, news, broadcasts, views, members, access  # noqa: E402,F401,I001
