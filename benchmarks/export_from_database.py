"""The real export path, end to end: rows read from the database, decrypted, drawn and signed.

Seeds N confirmed signatures into an empty database (encrypted, as in production), then runs
`flask petitions export` in a child process under `/usr/bin/time -v` and reports its wall time
and peak memory (the worker process drawing the PDF volumes is counted too).

    .venv/bin/python benchmarks/export_from_database.py [count] [database-url]

Default: 100,000 signatures on a fresh SQLite file. Needs GNU time (`apt-get install -y time`).
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

from benchmarks.common import arguments, demo_app, seed  # noqa: E402
from petitions.extensions import db  # noqa: E402
from petitions.models import Petition  # noqa: E402
from petitions.services.demo import DEMO_SLUG  # noqa: E402
from tests.conftest import TEST_DATA_KEY, TEST_HASH_KEY  # noqa: E402


def main() -> None:
    count, url, workdir = arguments(100_000)
    app, petition_id = demo_app(url, workdir)
    with app.app_context():
        petition = db.session.get(Petition, petition_id)
        started = time.perf_counter()
        seed(petition, count)
        print(f"seeded {count} signatures on {url.split(':', 1)[0]} in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        db.engine.dispose()
    environment = {**os.environ, "DATABASE_URL": url, "HASH_KEY": TEST_HASH_KEY,
                   "DATA_KEYS": TEST_DATA_KEY, "SECRET_KEY": "benchmark-" + "x" * 40,
                   "FLASK_SKIP_DOTENV": "1"}  # fmt: skip
    output = Path(workdir) / "bundle.zip"
    command = ["/usr/bin/time", "-v", str(ROOT / ".venv/bin/flask"), "--app", "wsgi",
               "petitions", "export", DEMO_SLUG, "--output", str(output)]  # fmt: skip
    run = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True,
                         check=True)  # fmt: skip
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", run.stderr).group(1)
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
    print(run.stdout.strip())
    print(f"export: wall {wall}, peak resident {peak / 1024:.0f} MB (largest single process),"
          f" bundle {output.stat().st_size / 1e6:.1f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
