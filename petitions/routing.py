"""The URL converters of the application's routes."""

from __future__ import annotations

from werkzeug.routing import BaseConverter


class RestOfPathConverter(BaseConverter):
    """The whole rest of the path, slashes and all, even empty: for a link's token or a slug.

    The tokens and slugs the application makes never hold a slash, but a mangled or hand-edited
    address may. Given the whole rest, the view answers every wrong one alike (a link's "this
    link does not work" page, the API's JSON 404), where Werkzeug's default converter would
    answer one with a slash inside with its generic 404, and one with a slash first (a doubled
    slash) with a redirect.
    """

    regex = r"(?s:.*)"
    # The value may span several path segments, so it is matched against the rest as a whole.
    part_isolating = False
