"""The real export path, end to end: rows read from the database, decrypted, drawn and signed.

Seeds N confirmed signatures into an empty database (encrypted, as in production, each with its
receipt leaf), then runs `flask petitions export` in a child process (which also stores the
receipts' tree) and reports its wall time and the peak of the resident memory of it and its
worker process added together.

    .venv/bin/python benchmarks/export_from_database.py [count] [database-url] [--no-leaves]

Default: 100,000 signatures on a fresh SQLite file. A PostgreSQL database is created for the run
(dropped first if it exists) and dropped after it. `--no-leaves` seeds signatures made before
receipts, whose leaves the export computes. Linux only (reads /proc).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from benchmarks import common  # noqa: E402
from petitions.services.demo import DEMO_SLUG  # noqa: E402
from tests.conftest import TEST_DATA_KEY, TEST_HASH_KEY  # noqa: E402


def main() -> None:
    leaves = "--no-leaves" not in sys.argv
    sys.argv = [argument for argument in sys.argv if argument != "--no-leaves"]
    url = sys.argv[2] if len(sys.argv) > 2 else ""
    fresh_database(url)
    try:
        run(leaves)
    finally:
        drop_database(url)


def _server(url: str) -> tuple[sa.Engine, str]:
    """Return an engine on the server's maintenance database, and the benchmark's database."""
    address = sa.make_url(url)
    engine = sa.create_engine(address.set(database="postgres"), isolation_level="AUTOCOMMIT")
    return engine, address.database


def fresh_database(url: str) -> None:
    """Create the PostgreSQL database of `url` empty (SQLite files are made fresh anyway)."""
    if not url.startswith("postgresql"):
        return
    engine, name = _server(url)
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()


def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    engine, name = _server(url)
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


def run(leaves: bool) -> None:
    """Seed, export from a child process, and print what it took."""
    _app, _petition_id, url, workdir = common.seeded_app(100_000, leaves=leaves)
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "HASH_KEY": TEST_HASH_KEY,
        "DATA_KEYS": TEST_DATA_KEY,
        "SECRET_KEY": "benchmark-" + "x" * 40,
        "FLASK_SKIP_DOTENV": "1",
    }
    output = Path(workdir) / "bundle.zip"
    command = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "wsgi",
        "petitions",
        "export",
        DEMO_SLUG,
        "--output",
        str(output),
    ]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, text=True)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_rss_kib(child.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - started
    print(child.stdout.read().strip())
    print(
        f"export: wall {wall:.1f} s, peak resident memory of the process tree "
        f"{peak / 1024:.0f} MB (sampled every 0.1 s), bundle {output.stat().st_size / 1e6:.1f} MB"
    )


def _tree_rss_kib(pid: int) -> int:
    """Add up the resident memory of a process and all its descendants, from /proc."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue  # it ended between two reads
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) if "VmRSS" in status else 0
        pending.extend(int(child) for child in children)
    return total


if __name__ == "__main__":
    main()
