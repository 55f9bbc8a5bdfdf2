"""Where a slow request's time went: per-request phase timings under gunicorn, for load.sh.

Serve `benchmarks.slow_requests:app` instead of `wsgi:app` (load.sh does when SLOW_REQUESTS names
a file) and every request of every worker appends one JSON line to that file:

  wall     from the WSGI call to the last byte handed to gunicorn, ms
  cpu      on-CPU time of the worker's thread in that interval, ms
  sql      statements and their time (cursor execute), ms; ping: the pool's pre-ping, ms
  commit   Session.commit, ms (PostgreSQL's commit waits on the WAL flush)
  redis    commands sent to Redis (the rate limits) and their time, ms
  gc       collections during the request and their time, ms, with the oldest generation
  render   template rendering, ms
  n        the request's ordinal in its worker (1 = the worker's first request)
  after    what the application did once the answer was sent (not in wall), ms

Then `python benchmarks/slow_requests.py FILE [--over MS]` prints the percentiles per endpoint as
the application saw them and what the slowest requests spent their time on. Nothing here is
imported by the application; without this module the probes do not exist.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any


class _Probe:
    """The current request's counters; one request at a time per sync worker."""

    def __init__(self) -> None:
        self.reset()
        self.ordinal = 0

    def reset(self) -> None:
        self.sql_n = 0
        self.sql_ms = 0.0
        self.ping_ms = 0.0
        self.commit_ms = 0.0
        self.redis_n = 0
        self.redis_ms = 0.0
        self.gc_n = 0
        self.gc_ms = 0.0
        self.gc_generation = -1
        self.render_ms = 0.0


probe = _Probe()


def _timed(owner: Any, name: str, field: str, count: str | None = None) -> None:
    """Wrap owner.name so that its wall time adds to probe.field (and 1 to probe.count)."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            setattr(probe, field, getattr(probe, field) + (time.perf_counter() - start) * 1000)
            if count:
                setattr(probe, count, getattr(probe, count) + 1)

    setattr(owner, name, wrapper)


def _install(flask_app: Any) -> None:
    import flask
    import redis.client
    import sqlalchemy.orm
    from sqlalchemy import event

    from petitions.extensions import db

    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
            return
        probe.gc_n += 1
        probe.gc_ms += (time.perf_counter() - gc_started[0]) * 1000
        probe.gc_generation = max(probe.gc_generation, info["generation"])

    gc.callbacks.append(on_gc)
    _timed(sqlalchemy.orm.Session, "commit", "commit_ms")
    _timed(redis.client.Redis, "execute_command", "redis_ms", "redis_n")
    _timed(redis.client.Pipeline, "execute", "redis_ms", "redis_n")

    render_started = [0.0]

    def before_render(*_args: Any, **_kwargs: Any) -> None:
        render_started[0] = time.perf_counter()

    def rendered(*_args: Any, **_kwargs: Any) -> None:
        probe.render_ms += (time.perf_counter() - render_started[0]) * 1000

    flask.before_render_template.connect(before_render, flask_app, weak=False)
    flask.template_rendered.connect(rendered, flask_app, weak=False)

    with flask_app.app_context():
        engine = db.engine
    _timed(engine.dialect, "do_ping", "ping_ms")

    @event.listens_for(engine, "before_cursor_execute")
    def before_execute(conn: Any, *_args: Any) -> None:
        conn.info["probe_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after_execute(conn: Any, *_args: Any) -> None:
        probe.sql_n += 1
        probe.sql_ms += (time.perf_counter() - conn.info.pop("probe_started")) * 1000


def _time_heartbeat(log: Any) -> None:
    """Log each of gunicorn's worker heartbeats (a timestamp written to a file) over 1 ms.

    A sync worker writes it before every accept: while it is blocked there, it takes no request.
    """
    from gunicorn.workers.workertmp import WorkerTmp

    original = WorkerTmp.notify

    def notify(self: Any) -> None:
        start = time.perf_counter()
        original(self)
        spent = (time.perf_counter() - start) * 1000
        if spent > 1:
            log.write(json.dumps({"t": round(time.time(), 3), "heartbeat": round(spent, 2)}) + "\n")

    WorkerTmp.notify = notify


def wrap(flask_app: Any, log_path: str) -> Any:
    """Return a WSGI callable that times every request of flask_app into log_path."""
    _install(flask_app)
    inner = flask_app.wsgi_app
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the worker's life
    _time_heartbeat(log)

    def timed_app(environ: dict, start_response: Any) -> Any:
        probe.reset()
        probe.ordinal += 1
        status = ["?"]

        def recording_start_response(code: str, headers: Any, *rest: Any) -> Any:
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, *rest)

        wall0, cpu0 = time.perf_counter(), time.thread_time()
        answer = inner(environ, recording_start_response)
        body = b"".join(answer)
        record = {
            "t": round(time.time(), 3),
            "pid": os.getpid(),
            "n": probe.ordinal,
            "method": environ["REQUEST_METHOD"],
            "path": environ["PATH_INFO"],
            "status": status[0],
            "wall": round((time.perf_counter() - wall0) * 1000, 2),
            "cpu": round((time.thread_time() - cpu0) * 1000, 2),
            "sql_n": probe.sql_n,
            "sql": round(probe.sql_ms, 2),
            "ping": round(probe.ping_ms, 2),
            "commit": round(probe.commit_ms, 2),
            "redis_n": probe.redis_n,
            "redis": round(probe.redis_ms, 2),
            "gc_n": probe.gc_n,
            "gc": round(probe.gc_ms, 2),
            "gc_gen": probe.gc_generation,
            "render": round(probe.render_ms, 2),
        }
        return _Answer(body, answer, record, log)

    return timed_app


class _Answer:
    """The body, already produced; closed by gunicorn once it is sent, like the real answer.

    What the application does on close (work after the answer) is timed as "after", outside
    the request's wall time, which is what the client waits for.
    """

    def __init__(self, body: bytes, answer: Any, record: dict, log: Any) -> None:
        self.body, self.answer, self.record, self.log = body, answer, record, log

    def __iter__(self) -> Any:
        yield self.body

    def close(self) -> None:
        start = time.perf_counter()
        try:
            if hasattr(self.answer, "close"):
                self.answer.close()
        finally:
            self.record["after"] = round((time.perf_counter() - start) * 1000, 2)
            self.log.write(json.dumps(self.record) + "\n")


def _endpoint(record: dict) -> str:
    path = record["path"]
    if path.endswith("/sign"):
        return "POST sign"
    if path.startswith("/petitions/") and path.endswith("/check-email"):
        return "check-email"
    if path.endswith(".json"):
        return "json"
    if path.startswith("/petitions/"):
        return "GET page"
    return path


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(path: str, over: float) -> None:
    """Print percentiles per endpoint and the phase breakdown of requests slower than `over`."""
    records, heartbeats, phase = [], [], ""
    for line in Path(path).read_text().splitlines():
        record = json.loads(line)
        if "phase" in record:  # load.sh marks where each wrk run begins
            phase = record["phase"].split(" ")[0]
            continue
        if "heartbeat" in record:
            heartbeats.append((phase, record["heartbeat"]))
            continue
        record["endpoint"] = f"{phase} {_endpoint(record)}".strip()
        records.append(record)
    groups: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        groups[record["endpoint"]].append(record)
    print(f"{len(records)} requests; wall time inside the application, ms")
    print(f"{'endpoint':<16} {'count':>7} {'p50':>7} {'p99':>7} {'max':>7} {'>' + str(over):>7}")
    for name, group in sorted(groups.items()):
        walls = [r["wall"] for r in group]
        slow = sum(w > over for w in walls)
        print(
            f"{name:<16} {len(group):>7} {_percentile(walls, 0.5):>7.1f} "
            f"{_percentile(walls, 0.99):>7.1f} {max(walls):>7.1f} {slow:>7}"
        )
    for name in sorted({p for p, _ in heartbeats}):
        spent = sorted(ms for p, ms in heartbeats if p == name)
        print(
            f"{name} heartbeats over 1 ms: {len(spent)}, over {over} ms: "
            f"{sum(ms > over for ms in spent)}, longest {spent[-1]:.1f} ms"
        )
    after = sorted(r.get("after", 0) for r in records if r.get("after", 0) > 1)
    if after:
        print(
            f"work after the answer was sent (not in wall): {len(after)} requests, "
            f"p50 {_percentile(after, 0.5):.1f} ms, longest {after[-1]:.1f} ms"
        )
    slow = [r for r in records if r["wall"] > over]
    if not slow:
        return
    fields = ("wall", "cpu", "sql", "ping", "commit", "redis", "gc", "render")
    print(f"\n{len(slow)} requests over {over} ms: sums of each phase, ms")
    sums = {field: sum(r[field] for r in slow) for field in fields}
    print("  ".join(f"{field} {sums[field]:.0f}" for field in fields))
    print(
        f"first request of their worker: {sum(r['n'] == 1 for r in slow)}; "
        f"with a collection: {sum(r['gc_n'] > 0 for r in slow)} "
        f"(oldest generation 2: {sum(r['gc_gen'] == 2 for r in slow)})"
    )
    print("\nthe slowest 25:")
    print(f"{'endpoint':<16} {'n':>6} " + " ".join(f"{f:>7}" for f in fields) + "  sql_n gc_n")
    for r in sorted(slow, key=lambda r: -r["wall"])[:25]:
        print(
            f"{r['endpoint']:<16} {r['n']:>6} "
            + " ".join(f"{r[f]:>7.1f}" for f in fields)
            + f"  {r['sql_n']:>5} {r['gc_n']:>4}"
        )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    threshold = 50.0
    if "--over" in arguments:
        at = arguments.index("--over")
        threshold = float(arguments[at + 1])
        del arguments[at : at + 2]
    if len(arguments) != 1:
        sys.exit(__doc__)
    report(arguments[0], threshold)
else:
    _log_path = os.environ.get("SLOW_REQUESTS")
    if _log_path:
        from wsgi import app as _flask_app

        app = wrap(_flask_app, _log_path)
