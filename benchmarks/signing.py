"""Cost of one signature through the whole application, in process, one thread.

Each round is what a signer's browser does: GET the petition page (form and CSRF token), POST the
form with a distinct email (validation, rate-limit check, INSERT ... ON CONFLICT, the outbox row,
commit), then POST the confirmation. No network and no load tool: this measures the application's
own cost per signature, the floor under any server figure.

    .venv/bin/python benchmarks/signing.py [count] [database-url]

Default: 1,000 signatures on a fresh SQLite file. For PostgreSQL, pass a URL to an empty database.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from benchmarks.common import arguments, demo_app
from petitions.extensions import db
from petitions.models import (
    OutboxMessage,
)
from petitions.services.demo import DEMO_SLUG
from tests.helpers import written_email

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
LINK = re.compile(r"/signatures/confirm/(\S+)")


def main() -> None:
    count, url, workdir = arguments(1000)
    app, _petition_id = demo_app(url, workdir)
    client = app.test_client()
    page_ms, sign_ms, confirm_ms = [], [], []
    started = time.perf_counter()
    for number in range(count):
        t0 = time.perf_counter()
        token = CSRF.search(client.get(f"/petitions/{DEMO_SLUG}").get_data(as_text=True)).group(1)
        t1 = time.perf_counter()
        response = client.post(
            f"/petitions/{DEMO_SLUG}/sign",
            data={
                "csrf_token": token,
                "name": f"Әлия Қасымқызы {number}",
                "email": f"signer{number}@example.org",
                "country": "KZ",
                "city": "Алматы",
                "consent": "y",
            },
            environ_base={"REMOTE_ADDR": f"10.0.{number // 256 % 256}.{number % 256}"},
        )
        assert response.status_code == 303, response.status_code
        t2 = time.perf_counter()
        with app.app_context():
            body = written_email(db.session.get(OutboxMessage, number + 1))[1]
        link = "/signatures/confirm/" + LINK.search(body).group(1)
        t3 = time.perf_counter()
        assert client.post(link, data={"csrf_token": token}).status_code == 303
        t4 = time.perf_counter()
        page_ms.append((t1 - t0) * 1000)
        sign_ms.append((t2 - t1) * 1000)
        confirm_ms.append((t4 - t3) * 1000)
    elapsed = time.perf_counter() - started
    print(f"{count} signatures on {url.split(':', 1)[0]} in {elapsed:.1f} s")
    for label, values in (
        ("GET page", page_ms),
        ("POST sign", sign_ms),
        ("POST confirm", confirm_ms),
    ):
        quantiles = statistics.quantiles(values, n=100)
        print(f"  {label:13} p50 {quantiles[49]:6.2f} ms   p99 {quantiles[98]:6.2f} ms")
    per_signature = sum(page_ms) + sum(sign_ms)
    print(f"  page + sign: {count / (per_signature / 1000):.0f} signatures/s on one core")


if __name__ == "__main__":
    main()
