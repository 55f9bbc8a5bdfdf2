"""The suite itself: without PostgreSQL its tests skip with a reason, and in CI they fail."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLOSED_PORT = "postgresql://postgres@127.0.0.1:1/test"


def _run_postgres_test(ci: str):
    environment = {**os.environ, "TEST_POSTGRES_ADMIN": CLOSED_PORT, "CI": ci}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            "tests/integration/test_pages.py::test_healthz_answers_when_the_database_does",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_postgres_tests_skip_with_a_reason_when_the_server_is_missing():
    result = _run_postgres_test(ci="")
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
    assert "PostgreSQL is not reachable at" in result.stdout


def test_postgres_tests_fail_in_ci_when_the_server_is_missing():
    result = _run_postgres_test(ci="true")
    assert result.returncode == 1, result.stdout
    assert "CI=true: servers the tests need must be running" in result.stdout
