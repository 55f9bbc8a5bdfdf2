"""What the fault checks share: throwaway servers, gunicorn, and a signer that speaks HTTP.

Every server here is our own, on 127.0.0.1, on a port of its own, and removed at the end: the
checks stop and start them at will without touching the machine's shared PostgreSQL or Redis.
"""

from __future__ import annotations

import base64
import contextlib
import http.cookiejar
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = next(Path("/usr/lib/postgresql").glob("*/bin"))
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
SLUG = "pardon-aron-atabek"


def key(fill: bytes) -> str:
    return base64.urlsafe_b64encode(fill * 32).decode("ascii")


def app_environment(**settings: str) -> dict[str, str]:
    """The environment of an app under test: production mode, fixed keys, no .env."""
    return {
        **os.environ,
        "PETITIONS_ENV": "production",
        "FLASK_SKIP_DOTENV": "1",
        "SIGN_RATE_LIMIT": "100000 per minute",
        "GLOBAL_SIGN_LIMIT": "100000 per minute",
        "SECRET_KEY": "fault-check-secret-key-0123456789-abcdefghijkl",
        "HASH_KEY": key(b"h"),
        "DATA_KEYS": key(b"d"),
        # Production requires it; the host is trusted whatever port a check serves on.
        "BASE_URL": "http://127.0.0.1",
        **settings,
    }


def check(condition: bool, message: str) -> None:
    """Print a check's outcome; stop the script at the first that fails."""
    print(("PASS " if condition else "FAIL ") + message, flush=True)
    if not condition:
        raise SystemExit(1)


def wait_for(probe, seconds: float = 30, every: float = 0.2) -> bool:
    """Poll until `probe()` is true or the time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if probe():
                return True
        time.sleep(every)
    return False


@contextlib.contextmanager
def postgres(port: int) -> Iterator[tuple[str, callable, callable]]:
    """A throwaway PostgreSQL cluster: yields (url, stop, start)."""
    data = Path(tempfile.mkdtemp(prefix="petitions-pg-"))
    shutil.chown(data, "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k /tmp -c listen_addresses=127.0.0.1"
    control = [
        *as_postgres,
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(data),
        "-w",
        "-l",
        str(data / "log"),
        "-o",
        options,
    ]

    def start() -> None:
        subprocess.run([*control, "start"], check=True, capture_output=True)

    def stop() -> None:
        subprocess.run([*control, "-m", "fast", "stop"], check=True, capture_output=True)

    start()
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop, start
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            stop()
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def redis(port: int) -> Iterator[tuple[str, callable, callable]]:
    """A throwaway Redis: yields (url, stop, start)."""
    work = Path(tempfile.mkdtemp(prefix="petitions-redis-"))
    command = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(work),
        "--daemonize",
        "yes",
        "--pidfile",
        str(work / "pid"),
    ]

    def start() -> None:
        subprocess.run(command, check=True, capture_output=True)
        wait_for(
            lambda: (
                subprocess.run(
                    ["redis-cli", "-p", str(port), "ping"], capture_output=True
                ).returncode
                == 0
            )
        )

    def stop() -> None:
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
        wait_for(
            lambda: (
                subprocess.run(
                    ["redis-cli", "-p", str(port), "ping"], capture_output=True
                ).returncode
                != 0
            )
        )

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", stop, start
    finally:
        stop()
        shutil.rmtree(work, ignore_errors=True)


def flask(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run a `flask --app wsgi` command of the project."""
    return subprocess.run(
        [str(ROOT / ".venv/bin/flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )


def prepare(environment: dict[str, str]) -> None:
    """Create the schema and load the demo appeal, as a deploy would."""
    check(flask(environment, "db", "upgrade").returncode == 0, "schema created")
    check(flask(environment, "petitions", "demo").returncode == 0, "demo appeal loaded")


@contextlib.contextmanager
def gunicorn(
    environment: dict[str, str], port: int, workers: int = 2
) -> Iterator[subprocess.Popen]:
    """Serve the app with gunicorn; its stderr goes to a file whose path is `.log_path`."""
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - it must outlive this function's frame
        prefix="petitions-gunicorn-", suffix=".log", delete=False
    )
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env={**environment, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server.log_path = log.name
    try:
        check(wait_for(lambda: status(port, "/livez") == 200), f"gunicorn serves on {port}")
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


def status(port: int, path: str) -> int:
    """Return the HTTP status of a GET, errors included."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def page(port: int, path: str) -> tuple[int, str]:
    """Return the status and text of a GET, errors included."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class _AsIfBehindTLS(http.cookiejar.DefaultCookiePolicy):
    """Send Secure cookies over plain HTTP to 127.0.0.1, as a browser does through the TLS proxy
    that production puts in front (the app sets Secure on its cookies in production)."""

    def return_ok_secure(self, cookie, request) -> bool:
        return True


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign(port: int, email: str, address: str = "198.51.100.1") -> int:
    """Be one signer: open the page (a session of its own), post the form; return the status."""
    jar = http.cookiejar.CookieJar(policy=_AsIfBehindTLS())
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    base = f"http://127.0.0.1:{port}"
    try:
        with opener.open(f"{base}/petitions/{SLUG}", timeout=10) as answer:
            token = CSRF.search(answer.read().decode()).group(1)
        form = urllib.parse.urlencode(
            {
                "csrf_token": token,
                "name": "Әлия Қасымқызы",
                "email": email,
                "country": "KZ",
                "city": "Алматы",
                "consent": "y",
            }
        ).encode()
        request = urllib.request.Request(
            f"{base}/petitions/{SLUG}/sign", data=form, headers={"X-Forwarded-For": address}
        )
        with opener.open(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError, TimeoutError, AttributeError):
        return 0


def in_process_app(environment: dict[str, str]):
    """Build the app in this process, on the same settings, to read the database directly."""
    sys.path.insert(0, str(ROOT))
    os.environ.update(environment)
    from petitions import create_app

    return create_app()
