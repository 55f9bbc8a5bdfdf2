"""Redis stops under a running app, then comes back.

Checks: while it is down, the app keeps serving and signing, says in its log that it fell back to
limits held in process memory, and still refuses a client over the limit; when Redis is back, the
counters live in Redis again.

    .venv/bin/python benchmarks/faults/redis_down.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.faults.common import (
    app_environment,
    check,
    gunicorn,
    postgres,
    prepare,
    redis,
    sign,
    status,
    wait_for,
)

PG_PORT, REDIS_PORT, APP_PORT = 5498, 6398, 5097


def redis_keys(port: int) -> list[str]:
    listed = subprocess.run(
        ["redis-cli", "-p", str(port), "--scan", "--pattern", "LIMITS*"],
        capture_output=True,
        text=True,
    )
    return listed.stdout.split()


def main() -> None:
    with (
        postgres(PG_PORT) as (database, _stop_pg, _start_pg),
        redis(REDIS_PORT) as (
            url,
            stop_redis,
            start_redis,
        ),
    ):
        environment = app_environment(
            DATABASE_URL=database, RATELIMIT_STORAGE_URI=url, SIGN_RATE_LIMIT="5 per minute"
        )
        prepare(environment)
        # One worker, so that the in-memory fallback is one counter and the limit exact.
        with gunicorn(environment, APP_PORT, workers=1) as server:
            check(sign(APP_PORT, "a1@example.org", "198.51.100.1") == 303, "signing with Redis")
            check(len(redis_keys(REDIS_PORT)) >= 1, "the counters are in Redis")
            stop_redis()
            codes = [sign(APP_PORT, f"b{n}@example.org") for n in range(6)]
            check(codes[:5] == [303] * 5, "signing goes on with Redis down")
            check(codes[5] == 429, "and the limit still holds, in process memory (6th: 429)")
            check(status(APP_PORT, "/petitions/pardon-aron-atabek") == 200, "pages are served")
            log = Path(server.log_path).read_text()
            check("falling back to in-memory storage" in log, "the fallback is in the log")
            start_redis()
            time.sleep(1)
            # Flask-Limiter looks at a dead storage again after 2, 4, 8 ... seconds.
            check(
                wait_for(
                    lambda: (
                        sign(APP_PORT, f"c{time.time()}@example.org") in (303, 429)
                        and len(redis_keys(REDIS_PORT)) >= 1
                    ),
                    40,
                ),
                "the counters are back in Redis after it returns",
            )
            log = Path(server.log_path).read_text()
            check("Rate limit storage recovered" in log, "the recovery is in the log")


if __name__ == "__main__":
    main()
