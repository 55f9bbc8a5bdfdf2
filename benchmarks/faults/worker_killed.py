"""A gunicorn worker is killed with SIGKILL in the middle of a signing load.

Checks: every signature whose POST was answered 303 is in the database afterwards (the 303 is
sent only after the commit), the master replaces the dead worker, and signing goes on.

    .venv/bin/python benchmarks/faults/worker_killed.py
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import sqlalchemy as sa

from benchmarks.faults.common import (
    app_environment,
    check,
    gunicorn,
    in_process_app,
    postgres,
    prepare,
    sign,
)

PG_PORT, APP_PORT = 5497, 5096
SIGNERS, SECONDS = 8, 8


def workers_of(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def load(stop: threading.Event, results: list[tuple[str, int]], lane: int) -> None:
    number = 0
    while not stop.is_set():
        number += 1
        email = f"lane{lane}-{number}@example.org"
        results.append((email, sign(APP_PORT, email)))


def stored_hashes(environment: dict[str, str]) -> set[bytes]:
    app = in_process_app(environment)
    from petitions.extensions import db
    from petitions.models import Signature

    with app.app_context():
        hashes = set(db.session.scalars(sa.select(Signature.email_hash)))
        db.session.remove()
        db.engine.dispose()
    return {bytes(value) for value in hashes}


def main() -> None:
    with postgres(PG_PORT) as (database, _stop, _start):
        environment = app_environment(DATABASE_URL=database)
        prepare(environment)
        with gunicorn(environment, APP_PORT, workers=3) as server:
            stop, results = threading.Event(), []
            with ThreadPoolExecutor(SIGNERS) as pool:
                for lane in range(SIGNERS):
                    pool.submit(load, stop, results, lane)
                time.sleep(SECONDS / 2)
                victim = workers_of(server.pid)[0]
                os.kill(victim, signal.SIGKILL)
                killed_at = len(results)
                time.sleep(SECONDS / 2)
                stop.set()
            accepted = [email for email, code in results if code == 303]
            failed = [code for _email, code in results if code != 303]
            print(
                f"     {len(results)} POSTs, {len(accepted)} answered 303, {len(failed)} other "
                f"(codes {sorted(set(failed))}); worker {victim} killed after {killed_at}"
            )
            check(
                victim not in workers_of(server.pid) and len(workers_of(server.pid)) == 3,
                "the master replaced the killed worker",
            )
            check(len(accepted) > killed_at, "signing went on after the kill")
        from petitions.crypto import Keyring
        from petitions.services.privacy import canonical_email

        ring = Keyring(b"h" * 32, (b"d" * 32,))  # the keys app_environment() gives the app
        stored = stored_hashes(environment)
        missing = [
            e for e in accepted if ring.keyed_hash("email", canonical_email(e)) not in stored
        ]
        check(not missing, f"every one of the {len(accepted)} signatures answered 303 is stored")


if __name__ == "__main__":
    main()
