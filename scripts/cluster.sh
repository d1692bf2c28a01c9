#!/usr/bin/env bash
# The shape of a multi-machine deployment on one machine (docs/production.md, "A cluster on one
# machine"): N web nodes (gunicorn, each on its own port of 127.0.0.1 only), M Celery workers and
# exactly one beat, all against one PostgreSQL and one Redis, with DEBUG off.
#
#   DATABASE_URL=postgres://… REDIS_URL=redis://… scripts/cluster.sh start
#   scripts/cluster.sh status
#   scripts/cluster.sh stop
#   scripts/cluster.sh revive    start again whatever of it died (as systemd's Restart= would)
#   scripts/cluster.sh restart web-1 worker-2 …
#                                each in turn, as `systemctl restart` would: TERM (a web node
#                                finishes its requests, a worker its tasks), start it again from
#                                this script's checkout, and for a web node wait for its /readyz.
#                                Run from a new release's checkout with the same CLUSTER_DIR, it
#                                moves that process to the new code (an upgrade, one node at a
#                                time). Without names: stop everything, then start.
#
# Settings (environment):
#   DATABASE_URL, REDIS_URL   required: a PostgreSQL database and a Redis database
#   CLUSTER_DIR               pid files, logs, secrets and metrics (default var/cluster)
#   CLUSTER_WEB               web nodes (default 2), on ports CLUSTER_PORT, CLUSTER_PORT+1, …
#   CLUSTER_PORT              first web port (default 8101)
#   CLUSTER_WEB_WORKERS       gunicorn workers per web node (default 2)
#   CLUSTER_WORKERS           Celery workers (default 2), CLUSTER_WORKER_CONCURRENCY processes each
#                             (default 1)
#   CLUSTER_BEAT              beats (default 1; the fault drills start two on purpose)
#   CLUSTER_START_TIMEOUT     seconds to wait for every node's /readyz (default 60)
#   CLUSTER_STOP_TIMEOUT      seconds `stop` lets them finish before killing them (default 30)
#   CLUSTER_MIGRATE_DATABASE_URL  where `start` runs migrate (default DATABASE_URL): PostgreSQL
#                             itself when DATABASE_URL is PgBouncer (docs/production.md)
#   Any portal setting (README "Configuration") passes through. SECRET_KEY, KEY_PEPPER,
#   MFA_SECRET_KEYS and METRICS_TOKEN, when not set, are made once and kept in
#   CLUSTER_DIR/secrets.env: the same pepper must read the same database on every start.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN="$ROOT/.venv/bin"

DIR=$(mkdir -p "${CLUSTER_DIR:-var/cluster}" && cd "${CLUSTER_DIR:-var/cluster}" && pwd)
WEB=${CLUSTER_WEB:-2}
PORT=${CLUSTER_PORT:-8101}
WORKERS=${CLUSTER_WORKERS:-2}
BEATS=${CLUSTER_BEAT:-1}
START_TIMEOUT=${CLUSTER_START_TIMEOUT:-60}

say() { printf '%s\n' "$*"; }
die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }
need_venv() { [ -x "$BIN/python" ] || die "no virtualenv in $ROOT/.venv: run \`make venv\` first."; }

# A process that ended but nobody reaped yet (a zombie: some containers' init reaps none) is
# not running.
pid_running() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$state" ] && [ "${state:0:1}" != Z ]
}
pid_alive() { [ -f "$1" ] && pid_running "$(cat "$1")"; }
group_running() { pgrep -g "$1" >/dev/null; }  # pgrep leaves zombies out

# Every process the cluster runs has a pid file here; `stop` ends exactly those.
pid_files() { find "$DIR/pids" -name '*.pid' 2>/dev/null | sort -V; }

http_status() {  # the status code of a GET, or 000 when nothing answers
  "$BIN/python" - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=3).status)
except urllib.error.HTTPError as error:
    print(error.code)
except Exception:
    print("000")
PY
}

secrets() {
  local file="$DIR/secrets.env"
  if [ ! -s "$file" ]; then
    # Written whole or not at all: a half-made file would stop every later start.
    umask 077
    "$BIN/python" - >"$file.new" <<'PY'
import base64, secrets
print(f"SECRET_KEY={secrets.token_urlsafe(50)}")
print(f"KEY_PEPPER={secrets.token_hex(32)}")
print(f"MFA_SECRET_KEYS={base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}")
print(f"METRICS_TOKEN={secrets.token_hex(32)}")
PY
    mv "$file.new" "$file"
  fi
  # What the environment sets wins over the file.
  local line name
  while read -r line; do
    name=${line%%=*}
    [ -n "${!name:-}" ] || export "$line"
  done <"$file"
}

environment() {
  [ -n "${DATABASE_URL:-}" ] || die "DATABASE_URL is required (a PostgreSQL database)."
  case "$DATABASE_URL" in
    postgres://* | postgresql://* | pgsql://*) ;;
    *) die "DATABASE_URL must be a PostgreSQL database: several processes share it." ;;
  esac
  [ -n "${REDIS_URL:-}" ] || die "REDIS_URL is required (the broker and the shared cache)."
  secrets
  export DEBUG=0
  export ALLOWED_HOSTS="${ALLOWED_HOSTS:-127.0.0.1,localhost}"
  export PORTAL_BASE_URL="${PORTAL_BASE_URL:-http://127.0.0.1:$PORT}"
  export VAR_DIR="${VAR_DIR:-$DIR/var}"
  # Plain HTTP on the loopback interface: no TLS proxy in front unless you put one there (then
  # set these back on, with TRUST_X_FORWARDED_PROTO=1).
  export SECURE_SSL_REDIRECT="${SECURE_SSL_REDIRECT:-0}"
  export SESSION_COOKIE_SECURE="${SESSION_COOKIE_SECURE:-0}"
  export CSRF_COOKIE_SECURE="${CSRF_COOKIE_SECURE:-0}"
  export SECURE_HSTS_SECONDS="${SECURE_HSTS_SECONDS:-0}"
  export LOG_FORMAT="${LOG_FORMAT:-json}"
}

spawn() {  # spawn NAME COMMAND…: in its own session (stop ends its whole group), logged
  local name=$1
  shift
  setsid "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$name.pid"
}

start() {
  environment
  local running="" file
  while read -r file; do
    if pid_alive "$file"; then running="$running $(basename "$file" .pid)"; fi
  done < <(pid_files)
  [ -z "$running" ] || die "already running:$running; stop it first."
  rm -rf "$DIR/pids"
  mkdir -p "$DIR/pids" "$DIR/logs" "$DIR/metrics"

  say "Migrating the database and collecting static files…"
  DATABASE_URL="${CLUSTER_MIGRATE_DATABASE_URL:-$DATABASE_URL}" \
    "$BIN/python" manage.py migrate --noinput >>"$DIR/logs/migrate.log" 2>&1 \
    || die "migrate failed: see $DIR/logs/migrate.log"
  "$BIN/python" manage.py collectstatic --noinput >>"$DIR/logs/migrate.log" 2>&1 \
    || die "collectstatic failed: see $DIR/logs/migrate.log"

  local i
  for i in $(seq 1 "$WEB"); do launch "web-$i"; done
  for i in $(seq 1 "$WORKERS"); do launch "worker-$i"; done
  for i in $(seq 1 "$BEATS"); do launch "beat-$i"; done
  wait_ready
  status
}

launch() {  # launch web-N | worker-N | beat-N
  local name=$1 i=${1##*-}
  case "$name" in
    web-*)
      rm -rf "$DIR/metrics/$name"
      GUNICORN_BIND="127.0.0.1:$((PORT + i - 1))" GUNICORN_WORKERS="${CLUSTER_WEB_WORKERS:-2}" \
        GUNICORN_PROC_NAME="portal-$name" PROMETHEUS_MULTIPROC_DIR="$DIR/metrics/$name" \
        spawn "$name" "$BIN/gunicorn" --config "$ROOT/deploy/gunicorn.conf.py"
      ;;
    worker-*)
      spawn "$name" "$BIN/celery" --app portal worker --hostname "worker$i@%h" \
        --concurrency "${CLUSTER_WORKER_CONCURRENCY:-1}" --loglevel INFO --without-mingle \
        --without-gossip
      ;;
    beat-*) spawn "$name" "$BIN/celery" --app portal beat --loglevel INFO --pidfile= ;;
    *) die "no such process: $name" ;;
  esac
}

# What systemd's Restart= does for the units: start again each process of the cluster that is
# no longer running (the fault drills kill a worker with kill -9, then revive it).
revive() {
  environment
  local file name revived=""
  while read -r file; do
    name=$(basename "$file" .pid)
    if ! pid_alive "$file"; then
      kill -KILL -- "-$(cat "$file")" 2>/dev/null || true  # what is left of its group
      launch "$name"
      revived="$revived $name"
    fi
  done < <(pid_files)
  say "revived:${revived:- nothing}"
  wait_ready
}

wait_ready() {  # wait_ready [PORT…]: every web node's /readyz (or these ports') answers 200
  say "Waiting for every web node's /readyz…"
  local i port ports=("$@")
  if [ "${#ports[@]}" -eq 0 ]; then
    for i in $(seq 1 "$WEB"); do ports+=("$((PORT + i - 1))"); done
  fi
  local deadline=$((SECONDS + START_TIMEOUT)) pending
  while :; do
    pending=""
    for port in "${ports[@]}"; do
      [ "$(http_status "http://127.0.0.1:$port/readyz")" = 200 ] || pending="$pending $port"
    done
    [ -z "$pending" ] && break
    if ((SECONDS >= deadline)); then
      status || true
      die "not ready after ${START_TIMEOUT}s on port(s)$pending: see $DIR/logs/"
    fi
    sleep 0.5
  done
}

status() {
  local file name pid state all_up=0 port ready
  local -a files
  mapfile -t files < <(pid_files)
  [ "${#files[@]}" -gt 0 ] || { say "not running (no pid files in $DIR/pids)"; return 3; }
  for file in "${files[@]}"; do
    name=$(basename "$file" .pid)
    pid=$(cat "$file")
    if pid_running "$pid"; then state="running (pid $pid)"; else state="STOPPED"; all_up=3; fi
    case "$name" in
      web-*)
        port=$((PORT + ${name#web-} - 1))
        ready=$(http_status "http://127.0.0.1:$port/readyz")
        [ "$ready" = 200 ] || all_up=3
        state="$state  http://127.0.0.1:$port/  readyz: $ready"
        ;;
    esac
    printf '  %-10s %s\n' "$name" "$state"
  done
  say "  logs: $DIR/logs/   metrics token: METRICS_TOKEN in $DIR/secrets.env"
  return $all_up
}

# TERM to the process itself, not to its group, as systemd's KillMode=mixed (the units): gunicorn
# then lets its workers finish their requests (graceful timeout) and Celery lets its pool finish
# the tasks it runs (warm shutdown). A TERM to the whole group would reach Celery's pool
# processes too, which die at once mid-task. What is left of the group after
# CLUSTER_STOP_TIMEOUT is killed; a task killed then is given back by the broker and runs again.
terminate() {  # terminate PIDFILE…
  local file pid
  for file in "$@"; do kill -TERM -- "$(cat "$file")" 2>/dev/null || true; done
  local deadline=$((SECONDS + ${CLUSTER_STOP_TIMEOUT:-30}))
  for file in "$@"; do
    pid=$(cat "$file")
    while group_running "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    if group_running "$pid"; then
      say "  $(basename "$file" .pid) did not stop in time: killed"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$file"
  done
}

stop() {
  local -a files
  mapfile -t files < <(pid_files)
  [ "${#files[@]}" -eq 0 ] || terminate "${files[@]}"
  say "stopped"
}

# One process after another, each back before the next (`systemctl restart portal-web` on one
# machine, then on the next): the others keep serving meanwhile.
restart_each() {  # restart_each NAME…
  environment
  local name file
  for name in "$@"; do
    file="$DIR/pids/$name.pid"
    [ -f "$file" ] || die "no such process: $name (no $file)"
    terminate "$file"
    launch "$name"
    say "restarted $name (pid $(cat "$file")) from $ROOT"
    case "$name" in web-*) wait_ready "$((PORT + ${name#web-} - 1))" ;; esac
  done
}

case "${1:-}" in
  start) need_venv && start ;;
  stop) stop ;;
  status) need_venv && status ;;
  restart)
    need_venv
    shift
    if [ "$#" -eq 0 ]; then stop && start; else restart_each "$@"; fi
    ;;
  revive) need_venv && revive ;;
  *) die "usage: scripts/cluster.sh start|stop|status|restart [NAME…]|revive" ;;
esac
