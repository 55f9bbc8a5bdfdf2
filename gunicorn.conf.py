"""gunicorn settings for production: `gunicorn wsgi:app` reads this file from the working directory.

Every value can be overridden from the environment (GUNICORN_BIND, GUNICORN_WORKERS, ...) or on
the command line. The mail worker, the export worker and close-expired run as separate processes
(see docs/deployment.md), never inside these web workers.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
#: Sync workers: requests are short and mostly CPU; two per core plus one covers the time each
#: spends waiting on PostgreSQL and Redis.
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count() + 1))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
#: The heartbeat: before every accept a sync worker writes a timestamp to a file in this directory
#: for the master to watch. On a disk-backed /tmp that write queues behind the journal while
#: PostgreSQL flushes its WAL to the same disk, and the worker takes no request until it returns
#: (gunicorn's documentation says the same); in memory it never waits. It also works under
#: systemd's ProtectSystem=strict (docs/deployment.md), which leaves /tmp read-only.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn makes its file there with mkstemp and unlinks it
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or (
    _SHM if os.path.isdir(_SHM) else None
)
#: Recycle workers now and then, at different times, so that no slow leak can build up.
max_requests = 1_000_000
max_requests_jitter = 100_000
#: No access log here: the proxy in front keeps one, and client addresses must not be logged in
#: clear (see docs/threat-model.md). Errors still go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
#: Request line and header limits well above what any of our forms needs.
limit_request_line = 4096
limit_request_fields = 100
