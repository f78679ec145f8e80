#!/usr/bin/env bash
# Foundation benchmarks: cold start to ready, and /health throughput and latency under load.
# Usage: scripts/bench-foundation.sh   (needs wrk: apt-get install wrk; builds the release binary)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --locked --quiet
BIN=target/release/study-mode-api
PORT=${BENCH_PORT:-18080}
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "## cold start to ready (fresh SQLite file, migrations included), 5 runs"
for i in 1 2 3 4 5; do
  rm -rf "$work/data"
  start=$(date +%s%N)
  (cd "$work" && PORT=$PORT LOG_LEVEL=warn exec "$OLDPWD/$BIN") & pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$PORT/health/ready"; do sleep 0.005; done
  echo "run $i: $(( ($(date +%s%N) - start) / 1000000 )) ms"
  kill -INT $pid; wait $pid || true
done

echo "## /health, wrk -t2 -c256 -d20s --latency"
(cd "$work" && PORT=$PORT LOG_LEVEL=warn exec "$OLDPWD/$BIN") & pid=$!
until curl -sf -o /dev/null "http://127.0.0.1:$PORT/health"; do sleep 0.01; done
wrk -t2 -c256 -d20s --latency "http://127.0.0.1:$PORT/health"
