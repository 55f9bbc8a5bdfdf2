#!/usr/bin/env bash
# Production-mode load benchmark, in one run: gunicorn (gunicorn.conf.py) on 127.0.0.1 with
# PostgreSQL and Redis, measured by wrk from the same machine.
#   (a) /livez, the trivial endpoint: the machine's baseline
#   (b) the petition page
#   (c) signing: per signature a GET of the form (a new session) and a POST with its CSRF token
#       and an email never used before (benchmarks/sign.lua)
#   (d) the JSON count
#   (e) signing the sealed demo appeal: the same as (c), each signature sealed to the organiser's
#       key in the request and its email queued under the hour's outbox key
#   (f) receipt pages: after an interim export, the receipts of up to 2,000 of the signers (c)
#       made, each asked for in turn (benchmarks/paths.lua), its proof read from the stored tree
#       and checked on every request
# Usage: benchmarks/load.sh [seconds-per-endpoint] [signing-seconds]
# Needs: .venv (make run), wrk (apt-get install -y wrk), PostgreSQL on 127.0.0.1:5432 (user
# postgres, trust) and Redis on 127.0.0.1:6379. Creates and drops the database petitions_load.
# SLOW_REQUESTS=FILE serves the application with per-request phase timings appended to FILE
# (benchmarks/slow_requests.py; read them with `python benchmarks/slow_requests.py FILE`).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
signing_seconds=${2:-60}
port=${PORT:-5078}
threads=${WRK_THREADS:-4}
database=petitions_load
psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $database" -c "CREATE DATABASE $database"
work=$(mktemp -d)
export DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/$database
export RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/14
# The limits stay on (their cost is measured) but high enough not to refuse the load tool, whose
# every connection comes from 127.0.0.1.
export SIGN_RATE_LIMIT="1000000 per minute" GLOBAL_SIGN_LIMIT="1000000 per minute"
export RECEIPT_RATE_LIMIT="1000000 per minute"
export PETITIONS_ENV=production FLASK_SKIP_DOTENV=1
export SECRET_KEY=load-benchmark-secret-key-0123456789-abcdefghij
export HASH_KEY=$(python3 -c 'import base64;print(base64.urlsafe_b64encode(b"h"*32).decode())')
export DATA_KEYS=$(python3 -c 'import base64;print(base64.urlsafe_b64encode(b"d"*32).decode())')
export GUNICORN_BIND=127.0.0.1:$port GUNICORN_LOGLEVEL=warning BASE_URL=http://127.0.0.1:$port
.venv/bin/flask --app wsgi db upgrade >/dev/null 2>&1
printf 'load benchmark passphrase\n' > "$work/passphrase"
.venv/bin/flask --app wsgi petitions demo --sealed "$work/keys" --passphrase-file "$work/passphrase" >/dev/null 2>&1
app=wsgi:app
if [ -n "${SLOW_REQUESTS:-}" ]; then app=benchmarks.slow_requests:app; export SLOW_REQUESTS; fi
.venv/bin/gunicorn -c gunicorn.conf.py "$app" 2>"$work/gunicorn.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)"; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/livez" >/dev/null && break; sleep 0.2; done
echo "gunicorn workers: $(grep -c . <(pgrep -P $server)); wrk -t$threads -c$threads"

cpu_waited() {  # microseconds in which some task waited for a core, since boot (PSI)
  awk '/^some/ {sub("total=", "", $5); print $5}' /proc/pressure/cpu 2>/dev/null || echo 0
}
measure() {  # label, wrk arguments...
  local label=$1; shift
  local waited_before started
  waited_before=$(cpu_waited) started=$(date +%s%N)
  if [ -n "${SLOW_REQUESTS:-}" ]; then echo "{\"phase\": \"$label\"}" >> "$SLOW_REQUESTS"; fi
  wrk -t"$threads" -c"$threads" --latency "$@" > "$work/wrk.txt"
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$work/wrk.txt")
  p99=$(awk '$1=="99%" {print $2}' "$work/wrk.txt")
  errors=$(grep -E "Non-2xx|Socket errors" "$work/wrk.txt" | tr -s ' ' | tr '\n' ' ' || true)
  # How busy the machine was: the share of the run in which something waited for a core.
  local pressure
  pressure=$(( ($(cpu_waited) - waited_before) * 100000 / ($(date +%s%N) - started) ))
  printf '%-12s %9s req/s  p50 %8s  p99 %8s  cpu wait %3s%%  %s\n' "$label" "$rps" "$p50" "$p99" \
    "$pressure" "$errors"
  grep -E "^signatures" "$work/wrk.txt" || true
  if [ -n "${SLOW_REQUESTS:-}" ]; then grep -E "^ +(50|75|90|99)%" "$work/wrk.txt" | tr -s ' ' | tr '\n' ' '; echo; fi
}
url=http://127.0.0.1:$port
measure "(a) livez" -d"${seconds}s" "$url/livez"
measure "(b) page" -d"${seconds}s" "$url/petitions/pardon-aron-atabek"
measure "(c) signing" -d"${signing_seconds}s" -s benchmarks/sign.lua "$url"
measure "(d) json" -d"${seconds}s" "$url/petitions/pardon-aron-atabek.json"
PETITION_SLUG=pardon-aron-atabek-sealed measure "(e) sealed" -d"${signing_seconds}s" -s benchmarks/sign.lua "$url"
# (f) needs confirmed signatures in an export: confirm those (c) made, as their signers would,
# export the appeal (interim, with its receipt tree) and take up to 2,000 of their receipts.
.venv/bin/python - > "$work/receipts" <<'PY'
import sqlalchemy as sa
from petitions.extensions import db
from petitions.models import Petition, Signature, SignatureState, utcnow
from petitions.services import receipts
from wsgi import app
with app.app_context():
    petition = db.session.scalars(sa.select(Petition).filter_by(slug="pardon-aron-atabek")).one()
    db.session.execute(
        sa.update(Signature)
        .where(Signature.petition_id == petition.id, Signature.state == SignatureState.PENDING)
        .values(state=SignatureState.CONFIRMED, confirmed_at=utcnow())
    )
    db.session.commit()
    public_ids = db.session.scalars(
        sa.select(Signature.public_id)
        .filter_by(petition_id=petition.id, state=SignatureState.CONFIRMED)
        .order_by(sa.func.random())
        .limit(2000)
    )
    for public_id in public_ids:
        print(f"/petitions/{petition.slug}/receipts/{receipts.code_of(public_id)}")
PY
.venv/bin/flask --app wsgi petitions export pardon-aron-atabek --output "$work/" >/dev/null
receipt=$(head -n1 "$work/receipts")
echo "receipts: $(grep -c . "$work/receipts"); the first: $(curl -s "$url$receipt" | grep -o 'receipt-export__verdict[^<]*<strong>[^<]*' | sed 's/.*<strong>//')"
PATHS_FILE="$work/receipts" measure "(f) receipts" -d"${seconds}s" -s benchmarks/paths.lua "$url"
echo "signatures in the database: $(psql -h 127.0.0.1 -U postgres -d $database -tAc 'SELECT count(*) FROM signatures'), sealed: $(psql -h 127.0.0.1 -U postgres -d $database -tAc 'SELECT count(*) FROM signatures WHERE sealed IS NOT NULL')"
grep -iE "error|exception" "$work/gunicorn.log" | head -5 || true
