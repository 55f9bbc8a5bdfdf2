"""The URL converters of the application's routes."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import BaseConverter, IntegerConverter

#: The largest id a 32-bit integer column holds: petitions' and deliveries' ids are such columns.
MAX_URL_ID = 2**31 - 1


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


class SegmentConverter(BaseConverter):
    """One path segment, like the default converter, but matched together with the rest of the
    rule, so that a rule with more fixed text after it wins over one with less: a receipt's
    `/petitions/<segment:slug>/receipts/<code>.json` over the JSON API's
    `/petitions/<rest:slug>.json`, which would take the whole path as a slug."""

    regex = r"[^/]+"
    part_isolating = False


class RowIdConverter(IntegerConverter):
    """`<int:...>` in every route: an id from 1 to the largest a row can have.

    Werkzeug's own converter takes any number of digits, and a number past the column's range
    reached the database as an overflow (a 500); outside the range no route matches (a 404).
    """

    #: ASCII digits: Python's \d would also take other scripts' digits.
    regex = r"[0-9]+"

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_URL_ID)
        super().__init__(map, *args, **kwargs)
