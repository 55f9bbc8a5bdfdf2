#!/usr/bin/env bash
# Read-path baseline: gunicorn (2 workers) serving the demo on a throwaway database, measured by
# wrk from the same machine. Usage: benchmarks/pages.sh [seconds] [database-url]
# Needs: make run's .venv, and wrk (apt-get install -y wrk). Prints one line per endpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
work=$(mktemp -d)
export DATABASE_URL=${2:-sqlite:///$work/bench.sqlite3}
export FLASK_SKIP_DOTENV=1
export SECRET_KEY=benchmark-secret-key-0123456789-abcdefghij
export HASH_KEY=$(python3 -c 'import base64;print(base64.urlsafe_b64encode(b"h"*32).decode())')
export DATA_KEYS=$(python3 -c 'import base64;print(base64.urlsafe_b64encode(b"d"*32).decode())')
port=${PORT:-5077}
.venv/bin/flask --app wsgi db upgrade >/dev/null 2>&1
.venv/bin/flask --app wsgi petitions demo >/dev/null
.venv/bin/gunicorn --workers 2 --bind 127.0.0.1:$port --log-level warning wsgi:app &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
printf '%-36s %10s %9s %9s\n' endpoint "req/s" p50 p99
for path in /livez /healthz / /petitions/pardon-aron-atabek /petitions/pardon-aron-atabek.json; do
  wrk -t2 -c20 -d"${seconds}s" --latency "http://127.0.0.1:$port$path" > "$work/wrk.txt"
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$work/wrk.txt")
  p99=$(awk '$1=="99%" {print $2}' "$work/wrk.txt")
  errors=$(grep -E "Non-2xx|Socket errors" "$work/wrk.txt" || true)
  printf '%-36s %10s %9s %9s %s\n' "$path" "$rps" "$p50" "$p99" "$errors"
done
