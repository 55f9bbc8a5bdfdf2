"""TRUSTED_PROXIES checked against the traffic: say so when requests do not come through a proxy.

At start nothing can tell whether a proxy stands in front; the requests can. With proxies
trusted, a request without X-Forwarded-For, or one whose peer is a public address, reached the
app directly: then anyone can write their own X-Forwarded-For, get round the per-address limits
and poison the address clusters. Each disagreement is logged once per process, loudly, and no
address is written to the log.
"""

from __future__ import annotations

import ipaddress
import logging

from flask import Flask, request

log = logging.getLogger("petitions")

_HOW_TO_CHECK = "see 'Checking TRUSTED_PROXIES' in docs/deployment.md"


def is_local_address(address: str | None) -> bool:
    """Tell whether a peer is this machine or a private network, where a proxy would be."""
    try:
        parsed = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False  # a Unix socket or nothing: not an address a proxy would connect from
    return parsed.is_loopback or parsed.is_private


def watch_trusted_proxies(app: Flask, trusted: int) -> None:
    """Warn once per process when a request shows TRUSTED_PROXIES does not match the traffic."""
    if not trusted:
        return
    warned: set[str] = set()

    def warn(kind: str, message: str) -> None:
        if kind not in warned:
            warned.add(kind)
            log.warning("TRUSTED_PROXIES=%d but %s; %s", trusted, message, _HOW_TO_CHECK)

    @app.before_request
    def compare_with_the_traffic() -> None:
        if len(warned) == 2:
            return
        original = request.environ.get("werkzeug.proxy_fix.orig", {})
        if not request.headers.get("X-Forwarded-For"):
            warn(
                "direct",
                "a request arrived without X-Forwarded-For, so it did not pass through the "
                "proxy: if clients can reach the app's port, they choose the address it sees",
            )
        if not is_local_address(original.get("REMOTE_ADDR")):
            warn(
                "public peer",
                "a request came straight from a public address, not from a proxy on this "
                "machine or a private network: its X-Forwarded-For is believed all the same",
            )
