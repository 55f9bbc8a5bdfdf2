"""The onion service in front of the app: which requests came by it, and pointing others to it.

`ONION_ADDRESS` names the host. `Onion-Location` is built from that setting and the request's
path and query alone; the Host header (which refuse_unknown_host has already checked against the
trusted hosts) only tells whether a request named the onion host, and then its signer is mailed
links on the onion address. A request "came through tor" when it also arrived from this machine
or a private network, where the tor daemon is: only then is it spared the per-address limit,
since through tor every visitor has the daemon's one local address. A client on the open
internet who writes the onion name into its Host header still comes from its own public
address, and is limited by it."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, current_app, has_request_context, request

from petitions.proxies import is_local_address

#: What may stay as it is in a path, and in a query string already encoded by the browser.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?%"


def _onion_address() -> str:
    return current_app.config["SETTINGS"].onion_address


def names_onion_host() -> bool:
    """Tell whether the current request was addressed to the configured onion host."""
    onion = _onion_address()
    if not onion or not has_request_context():
        return False
    # The Host header as ProxyFix settled it from TRUSTED_PROXIES; refuse_unknown_host has
    # already turned away any host that is not a trusted one.
    return request.host.lower().partition(":")[0] == onion


def came_through_tor() -> bool:
    """Tell whether the request named the onion host and arrived from where tor runs."""
    return names_onion_host() and is_local_address(request.remote_addr)


def onion_location() -> str:
    """The onion address of the current page: ONION_ADDRESS, BASE_URL's path, this path and
    query."""
    base = current_app.config["SETTINGS"].onion_base_url
    location = base + quote(request.path, safe=_PATH_SAFE)
    if request.query_string:
        location += "?" + quote(request.query_string, safe=_QUERY_SAFE)
    return location


def add_onion_location(response: Response) -> Response:
    """Tell Tor Browser that this page is also at the onion address (the `Onion-Location`
    header), on the signers' pages read by GET off the onion host."""
    if (
        _onion_address()
        and request.method in {"GET", "HEAD"}
        and response.mimetype == "text/html"
        and not names_onion_host()
    ):
        response.headers["Onion-Location"] = onion_location()
    return response
