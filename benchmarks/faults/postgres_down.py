"""PostgreSQL stops under a running app, then comes back.

Checks: while it is down, /healthz answers 503 and pages a readable 503 (after the few seconds
the public cache may still serve); when it is back, the same gunicorn workers recover by
themselves, and every signature confirmed before the outage is still there.

    .venv/bin/python benchmarks/faults/postgres_down.py      (as root: it runs initdb as postgres)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import sqlalchemy as sa

from benchmarks.faults.common import (
    SLUG,
    app_environment,
    check,
    gunicorn,
    in_process_app,
    page,
    postgres,
    prepare,
    sign,
    status,
    wait_for,
)

PG_PORT, APP_PORT = 5499, 5098


def confirm_all(app) -> int:
    """Confirm every pending signature the way a signer's click does, through the service."""
    from petitions.extensions import db
    from petitions.models import OutboxMessage
    from petitions.services import signing

    with app.test_request_context():
        from tests.helpers import written_email

        links = [written_email(m)[1] for m in db.session.scalars(sa.select(OutboxMessage))]
        tokens = [text.split("/signatures/confirm/", 1)[1].split()[0] for text in links]
        confirmed = sum(
            signing.confirm(token)[0] == signing.ConfirmResult.CONFIRMED for token in tokens
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return confirmed


def counted(app) -> int:
    from petitions.extensions import db
    from petitions.models import Signature, SignatureState

    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count()).where(Signature.state == SignatureState.CONFIRMED)
        )
        db.session.remove()
        db.engine.dispose()
    return count


def main() -> None:
    with postgres(PG_PORT) as (url, stop_pg, start_pg):
        environment = app_environment(DATABASE_URL=url)
        prepare(environment)
        with gunicorn(environment, APP_PORT):
            codes = [sign(APP_PORT, f"before{n}@example.org") for n in range(20)]
            check(codes == [303] * 20, "20 signatures taken before the outage")
            app = in_process_app(environment)
            check(confirm_all(app) == 20, "all 20 confirmed")
            stop_pg()
            check(
                status(APP_PORT, "/healthz") == 503, "/healthz answers 503 with the database down"
            )
            time.sleep(2.5)  # past the public cache's lifetime
            code, text = page(APP_PORT, f"/petitions/{SLUG}")
            check(
                code == 503 and "Temporarily unavailable" in text and "Traceback" not in text,
                "the petition page answers a readable 503",
            )
            check(sign(APP_PORT, "during@example.org") in (0, 503), "signing answers 503, not 500")
            started = time.monotonic()
            start_pg()
            check(
                wait_for(lambda: status(APP_PORT, "/healthz") == 200, 30),
                f"recovered by itself {time.monotonic() - started:.1f} s after PostgreSQL "
                "came back (no restart of gunicorn)",
            )
            check(status(APP_PORT, f"/petitions/{SLUG}") == 200, "the page is served again")
            check(sign(APP_PORT, "after@example.org") == 303, "signing works again")
        check(counted(app) == 20, "every signature confirmed before the outage is still counted")


if __name__ == "__main__":
    main()
