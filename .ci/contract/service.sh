# shellcheck shell=bash
# Helpers of .ci/contract/run (sourced): pinned tools, and service instances started from the
# tree on 127.0.0.1 with a free port. Needs ROOT, WORK, RUN_DIR, BIN, CONTRACT and LOGS set by the caller.

# Installs the pinned npm tools (package-lock.json) and the pinned Python tools (requirements.txt)
# (every package, dependencies included, at an exact version; `pip check` proves the set
# complete) into .ci/contract/node_modules and .ci/contract/.venv; a stamp of the pin files skips the work
# when nothing changed since the last run.
install_tools() {
  local stamp
  stamp=$(cat "$CONTRACT/package-lock.json" "$CONTRACT/requirements.txt" | sha256sum | cut -c1-16)
  if [ "$(cat "$CONTRACT/.tools-stamp" 2>/dev/null)" = "$stamp" ] &&
    [ -x "$CONTRACT/node_modules/.bin/redocly" ] && [ -x "$CONTRACT/.venv/bin/st" ]; then
    return 0
  fi
  (cd "$CONTRACT" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
  rm -rf "$CONTRACT/.venv"
  timeout 120 python3 -m venv "$CONTRACT/.venv"
  timeout 600 "$CONTRACT/.venv/bin/pip" install --quiet --disable-pip-version-check \
    --no-deps -r "$CONTRACT/requirements.txt"
  timeout 60 "$CONTRACT/.venv/bin/pip" check --disable-pip-version-check >/dev/null
  echo "$stamp" >"$CONTRACT/.tools-stamp"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_instance NAME VAR=VALUE...: runs `study-mode-api serve` with exactly these variables (no
# inherited environment, and no .env: the working directory is a fresh folder outside the tree,
# which has none above it), on 127.0.0.1 and a free port; sets URL_<NAME> and PID_<NAME> and
# waits (60 s at most) for GET /health/ready.
start_instance() {
  local name=$1; shift
  local port dir pid url
  port=$(free_port)
  dir="$WORK/$name"
  mkdir -p "$dir"
  url="http://127.0.0.1:$port"
  (cd "$RUN_DIR" && exec env -i PATH="$PATH" HOME="$dir" HOST=127.0.0.1 PORT="$port" \
    REPLICA_ID="contract-$name-$port" "$@" "$BIN" serve) >"$LOGS/$name.log" 2>&1 &
  pid=$!
  printf -v "PID_$name" '%s' "$pid"
  printf -v "URL_$name" '%s' "$url"
  for _ in $(seq 1 120); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "contract: instance $name exited at start; its log:" >&2
      tail -n 40 "$LOGS/$name.log" >&2
      return 1
    fi
    if curl -fsS -m 2 "$url/health/ready" >/dev/null 2>&1; then
      echo "contract: instance $name is ready at $url"
      return 0
    fi
    sleep 0.5
  done
  echo "contract: instance $name was not ready within 60 s; its log:" >&2
  tail -n 40 "$LOGS/$name.log" >&2
  return 1
}

# stop_instance NAME: SIGTERM, then SIGKILL after the grace period.
stop_instance() {
  local var="PID_$1" pid
  pid=${!var:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  printf -v "PID_$1" '%s' ""
}

# A database of its own on the shared Postgres, created fresh and dropped after.
PG_ADMIN_URL="${CONTRACT_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
create_database() { timeout 30 psql -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "CREATE DATABASE \"$1\""; }
# Databases of earlier runs killed before their cleanup (named smcontract_<epoch>_<pid>), once
# they are two hours old: a run never takes that long, so a concurrent run's is never touched.
sweep_databases() {
  local now name born
  now=$(date +%s)
  timeout 30 psql -At "$PG_ADMIN_URL" -c "SELECT datname FROM pg_database WHERE datname LIKE 'smcontract\_%'" 2>/dev/null |
    while read -r name; do
      born=${name#smcontract_}
      born=${born%%_*}
      if [[ "$born" =~ ^[0-9]+$ ]] && [ $((now - born)) -gt 7200 ]; then drop_database "$name"; fi
    done
}
drop_database() {
  timeout 30 psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1 || true
}

# Deletes this run's keys from the shared Redis (never a flush): the lesson cache of the book
# named by GITHUB_REPO@GITHUB_BRANCH, which is unique per run.
drop_redis_keys() { # REDIS_URL, pattern
  timeout 30 redis-cli -u "$1" --scan --pattern "$2" 2>/dev/null |
    xargs -r -n 100 timeout 30 redis-cli -u "$1" DEL >/dev/null 2>&1 || true
}
