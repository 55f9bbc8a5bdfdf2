"""The real export path, end to end: rows read from the database, decrypted, drawn and signed.

Seeds N confirmed signatures into an empty database (encrypted, as in production), then runs
`flask petitions export` in a child process and reports its wall time and the peak of the
resident memory of it and its worker process added together.

    .venv/bin/python benchmarks/export_from_database.py [count] [database-url]

Default: 100,000 signatures on a fresh SQLite file. Linux only (reads /proc).
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

from benchmarks.common import seeded_app  # noqa: E402
from petitions.services.demo import DEMO_SLUG  # noqa: E402
from tests.conftest import TEST_DATA_KEY, TEST_HASH_KEY  # noqa: E402


def main() -> None:
    _app, _petition_id, url, workdir = seeded_app(100_000)
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
        str(ROOT / ".venv/bin/flask"),
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
