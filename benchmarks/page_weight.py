"""Weigh what a signer's phone downloads for the petition page: its HTML and its stylesheet.

Usage: .venv/bin/python benchmarks/page_weight.py
Prints bytes as served (the app does not compress; nginx gzips in production, see
docs/deployment.md) and gzipped at level 6, for the demo appeal in each language, and for the
same page after a failed submission (error summary and messages). Target: HTML and CSS together
under 30 KB before compression (the issue's aim; fonts are the system's, none is downloaded).
"""

from __future__ import annotations

import gzip
import re

from common import arguments, demo_app

from petitions.services.demo import DEMO_SLUG

LANGUAGES = ("kk", "ru", "en")
TARGET = 30 * 1024


def weigh(body: bytes) -> tuple[int, int]:
    """Return the size of a response body as served and gzipped."""
    return len(body), len(gzip.compress(body, compresslevel=6))


def assets(html: bytes) -> list[str]:
    """Return the local stylesheets, scripts and images a page asks for."""
    found = re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)
    return sorted({path.decode() for path in found})


def main() -> None:
    _count, url, workdir = arguments(0)
    app, _petition_id = demo_app(url, workdir)
    client = app.test_client()
    print(f"{'page':<24} {'HTML':>8} {'gzip':>7} {'+assets':>8} {'gzip':>7}  assets")
    worst = 0
    for language in LANGUAGES:
        client.set_cookie("lang", language)
        page = client.get(f"/petitions/{DEMO_SLUG}")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data)
        failed = client.post(
            f"/petitions/{DEMO_SLUG}/sign", data={"csrf_token": token.group(1).decode()}
        )
        for label, response in ((language, page), (f"{language}, form errors", failed)):
            html = response.data
            paths = assets(html)
            extra = b"".join(client.get(path).data for path in paths if path.endswith(".css"))
            raw, packed = weigh(html)
            total, total_packed = raw + len(extra), packed + weigh(extra)[1]
            worst = max(worst, total)
            print(
                f"{label:<24} {raw:>8,} {packed:>7,} {total:>8,} {total_packed:>7,}  "
                + " ".join(paths)
            )
    verdict = "met" if worst <= TARGET else "MISSED"
    print(f"largest HTML + CSS: {worst:,} bytes; target {TARGET:,}: {verdict}")


if __name__ == "__main__":
    main()
