"""A backup with pg_dump is restored into an empty database and serves the same petition.

Checks: `pg_dump -Fc` of a live database with signatures, `pg_restore` into a new database,
and then, on the restored one: the schema matches the migrations, the count is the same, and
names still decrypt (with the same DATA_KEYS: a backup without its keys is unreadable).

    .venv/bin/python benchmarks/faults/backup_restore.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.faults.common import (
    PG_BIN,
    SLUG,
    app_environment,
    check,
    flask,
    gunicorn,
    page,
    postgres,
    prepare,
    sign,
)

PG_PORT, APP_PORT = 5496, 5095


def main() -> None:
    with postgres(PG_PORT) as (database, _stop, _start):
        environment = app_environment(DATABASE_URL=database)
        prepare(environment)
        with gunicorn(environment, APP_PORT, workers=1):
            check(
                [sign(APP_PORT, f"s{n}@example.org") for n in range(10)] == [303] * 10,
                "10 signatures taken",
            )
        dump = Path(tempfile.mkdtemp()) / "petitions.dump"
        base = ["-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres"]
        subprocess.run(
            [str(PG_BIN / "pg_dump"), *base, "-Fc", "-f", str(dump), "postgres"], check=True
        )
        check(dump.stat().st_size > 0, f"pg_dump wrote {dump.stat().st_size} bytes")
        subprocess.run([str(PG_BIN / "createdb"), *base, "restored"], check=True)
        subprocess.run(
            [str(PG_BIN / "pg_restore"), *base, "-d", "restored", "--no-owner", str(dump)],
            check=True,
        )
        restored = app_environment(DATABASE_URL=database.rsplit("/", 1)[0] + "/restored")
        check(
            flask(restored, "db", "check").returncode == 0,
            "the restored schema matches the migrations",
        )
        listed = flask(restored, "petitions", "list").stdout
        check(
            f"{SLUG}\topen" in listed and "\t0 confirmed\t" in listed,
            "the restored database lists the petition",
        )
        with gunicorn(restored, APP_PORT, workers=1):
            code, text = page(APP_PORT, f"/petitions/{SLUG}")
            check(code == 200 and "Атабек" in text, "the restored petition's page is served")
            check(sign(APP_PORT, "s3@example.org") == 303, "a repeat is still recognised")
        rows = subprocess.run(
            [
                str(PG_BIN / "psql"),
                *base,
                "-d",
                "restored",
                "-tAc",
                "SELECT count(*) FROM signatures",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        check(rows == "10", f"10 signatures restored, and the repeat added none ({rows})")
        keys = app_environment(DATABASE_URL=restored["DATABASE_URL"])
        names = flask(keys, "keys", "reencrypt")
        check(names.returncode == 0, "every restored name and email decrypts with DATA_KEYS")


if __name__ == "__main__":
    main()
