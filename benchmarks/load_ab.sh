#!/usr/bin/env bash
# Compare two checkouts of the project under the same load, on a machine whose other load
# changes from minute to minute: both are served at once (gunicorn with each one's own
# gunicorn.conf.py, its own PostgreSQL database, the same Redis), and the load tool alternates
# between them in short runs, A B B A, so that both see the same minutes. Each run is /livez
# (the baseline) then signing (benchmarks/sign.lua), as in load.sh, wrk -t4 -c4.
# Usage: benchmarks/load_ab.sh DIR_A DIR_B [rounds] [seconds-per-run]
#   e.g. mkdir /tmp/before; git archive main | tar -x -C /tmp/before; ln -s "$PWD/.venv" /tmp/before/.venv
#        benchmarks/load_ab.sh /tmp/before . 4 5
# Each DIR needs its .venv. SLOW_REQUESTS=PREFIX also writes per-request phase timings
# (benchmarks/slow_requests.py) to PREFIX-A.jsonl and PREFIX-B.jsonl.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,11p "$0"; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
dirs=("$(cd "$1" && pwd)" "$(cd "$2" && pwd)")
rounds=${3:-4}
seconds=${4:-5}
names=(A B)
ports=(5081 5082)
threads=${WRK_THREADS:-4}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  for i in 0 1; do
    psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS petitions_ab_$i WITH (FORCE)"
  done
  rm -rf "$work"
}
trap cleanup EXIT
export RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/14
export SIGN_RATE_LIMIT="1000000 per minute" GLOBAL_SIGN_LIMIT="1000000 per minute"
export PETITIONS_ENV=production FLASK_SKIP_DOTENV=1 GUNICORN_LOGLEVEL=warning
export SECRET_KEY=load-benchmark-secret-key-0123456789-abcdefghij
export HASH_KEY=$(python3 -c 'import base64;print(base64.urlsafe_b64encode(b"h"*32).decode())')
export DATA_KEYS=$(python3 -c 'import base64;print(base64.urlsafe_b64encode(b"d"*32).decode())')
for i in 0 1; do
  psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS petitions_ab_$i" \
    -c "CREATE DATABASE petitions_ab_$i" 2>/dev/null
  (
    cd "${dirs[$i]}"
    export DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/petitions_ab_$i
    export GUNICORN_BIND=127.0.0.1:${ports[$i]} BASE_URL=http://127.0.0.1:${ports[$i]}
    app=(wsgi:app)
    if [ -n "${SLOW_REQUESTS:-}" ]; then  # this checkout's code under this branch's probe
      cp "$here/benchmarks/slow_requests.py" "$work/slow_requests_probe.py"
      export SLOW_REQUESTS=$SLOW_REQUESTS-${names[$i]}.jsonl
      app=(--pythonpath "$work" slow_requests_probe:app)
    fi
    .venv/bin/flask --app wsgi db upgrade >/dev/null 2>&1
    .venv/bin/flask --app wsgi petitions demo >/dev/null 2>&1
    exec .venv/bin/gunicorn -c gunicorn.conf.py "${app[@]}" 2>"$work/gunicorn-$i.log"
  ) &
  pids+=($!)
done
for i in 0 1; do
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:${ports[$i]}/livez" >/dev/null && break; sleep 0.2; done
done

run() {  # index, label, wrk arguments... -> "req/s p50 p99" (ms)
  local i=$1 label=$2; shift 2
  if [ -n "${SLOW_REQUESTS:-}" ]; then
    echo "{\"phase\": \"$label\"}" >> "$SLOW_REQUESTS-${names[$i]}.jsonl"
  fi
  wrk -t"$threads" -c"$threads" --latency -d"${seconds}s" "$@" > "$work/wrk.txt"
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; return v * 1000 }
    /Requests\/sec/ {rps = $2} $1 == "50%" {p50 = ms($2)} $1 == "99%" {p99 = ms($2)}
    END {printf "%.0f %.2f %.1f\n", rps, p50, p99}' "$work/wrk.txt"
}

# Warm up both (templates compiled, connections open, the first pages rendered); not counted.
for i in 0 1; do
  wrk -t"$threads" -c"$threads" -d2s -s "$here/benchmarks/sign.lua" "http://127.0.0.1:${ports[$i]}" >/dev/null
done
printf '%-5s %-2s %8s %9s %8s %8s %7s\n' round "" livez signing p50 p99 share
for round in $(seq 1 "$rounds"); do
  if (( round % 2 )); then order="0 1"; else order="1 0"; fi
  for i in $order; do
    url=http://127.0.0.1:${ports[$i]}
    read -r livez _ _ < <(run "$i" "(a) livez" "$url/livez")
    read -r rps p50 p99 < <(run "$i" "(c) signing" -s "$here/benchmarks/sign.lua" "$url")
    share=$(awk -v s="$rps" -v l="$livez" 'BEGIN {printf "%.1f%%", 100 * s / l}')
    printf '%-5s %-2s %8s %9s %8s %8s %7s\n' "$round" "${names[$i]}" "$livez" "$rps" "$p50" "$p99" "$share" |
      tee -a "$work/results.txt"
  done
done
echo "medians over $rounds rounds (req/s, ms):"
for name in A B; do
  awk -v n="$name" '$2 == n {l[++c] = $3; s[c] = $4; p[c] = $5; q[c] = $6; r[c] = $7 + 0}
    function median(a, k,   i, j, t) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
      if (a[j] < a[i]) {t = a[i]; a[i] = a[j]; a[j] = t}; return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
    END {printf "%-2s livez %.0f  signing %.0f  p50 %.2f  p99 %.1f  share %.1f%%\n", n,
      median(l, c), median(s, c), median(p, c), median(q, c), median(r, c)}' "$work/results.txt"
done
grep -ihE "error|exception" "$work"/gunicorn-*.log | head -5 || true
