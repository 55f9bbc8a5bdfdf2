"""The public forms' CSRF token: self-validating, so reading a page sets no cookie.

The token is `nonce.issued.mac`: a random nonce, the time it was issued and
HMAC(SECRET_KEY, scope, nonce, time), the scope naming the form (`sign` for the signing forms,
`link` for the confirm and withdraw buttons, whose authority is the link itself). A POST must
bring one that this site made for this form within `TOKEN_AGE`, and must not come from another
site, as every current browser says in `Sec-Fetch-Site` (or, in older ones, in `Origin`).
Nothing is kept on the visitor's device and nothing on the server: the cached page only has
this one value put in per request. Why this refuses forged cross-site signatures is argued in
docs/signing.md.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from urllib.parse import urlsplit

from flask import current_app, request
from werkzeug.sansio.utils import host_is_trusted

#: Long enough for a signer who opens the page and signs the next day.
TOKEN_AGE = 7 * 24 * 3600
#: Clocks of several app hosts may differ a little; a token from further ahead is forged.
CLOCK_SKEW = 300
_TOKEN = re.compile(r"^([0-9a-f]{32})\.([0-9]{1,12})\.([0-9a-f]{64})$")
#: What a browser's Sec-Fetch-Site says of a form sent from our own pages (or typed by hand).
_OUR_OWN = frozenset({"same-origin", "none"})


#: The scope of the signing forms: not one petition's, as a tab opened on one petition may post
#: to another's address (the 410 of a petition that closed meanwhile needs the token accepted).
SIGN = "sign"
#: The scope of the confirm and withdraw forms.
LINK = "link"


def _mac(scope: str, nonce: str, issued: str) -> str:
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    message = f"public-form:{scope}:{nonce}:{issued}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def issue(scope: str, now: float | None = None) -> str:
    """Return a fresh token for one form (see the module's scopes)."""
    nonce = secrets.token_hex(16)
    issued = str(int(time.time() if now is None else now))
    return f"{nonce}.{issued}.{_mac(scope, nonce, issued)}"


def from_another_site() -> bool:
    """Tell whether the browser says this request was sent from a page of another site."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site.strip().lower() not in _OUR_OWN
    # Browsers before Fetch Metadata: a foreign Origin gives the other site away. "null" is what
    # our own pages send too (Referrer-Policy: no-referrer), so it proves nothing either way.
    origin = request.headers.get("Origin")
    if origin is None or origin.strip() == "null":
        return False
    netloc = urlsplit(origin.strip()).netloc
    return not host_is_trusted(netloc, current_app.config["TRUSTED_HOSTS"])


def accepted(submitted: str | None, scope: str, now: float | None = None) -> bool:
    """Tell whether a POST carries a token made here for this form, sent from this site."""
    match = _TOKEN.match(submitted or "")
    if match is None or from_another_site():
        return False
    nonce, issued, mac = match.groups()
    age = (time.time() if now is None else now) - int(issued)
    if not -CLOCK_SKEW <= age <= TOKEN_AGE:
        return False
    return hmac.compare_digest(_mac(scope, nonce, issued), mac)
