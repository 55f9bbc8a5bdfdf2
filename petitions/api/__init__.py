"""Read-only JSON for journalists, dashboards and scripts; errors answer JSON too."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from petitions.api import views  # noqa: E402,F401  (registers the routes on bp)
