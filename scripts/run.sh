#!/usr/bin/env bash
# Starts the web server, a Celery worker and Celery beat on the embedded defaults (or whatever the
# environment says), and stops all three on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT="${PORT:-8000}"
export DEBUG="${DEBUG:-1}"
# Links in e-mails must point at this server, whatever port it runs on.
export PORTAL_BASE_URL="${PORTAL_BASE_URL:-http://127.0.0.1:${PORT}}"
mkdir -p var

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "Stopping the portal…"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

$BIN/celery -A portal worker --loglevel=INFO --concurrency=2 >var/worker.log 2>&1 &
pids+=($!)
$BIN/celery -A portal beat --loglevel=INFO --pidfile= >var/beat.log 2>&1 &
pids+=($!)
$BIN/python manage.py runserver "127.0.0.1:${PORT}" --noreload &
pids+=($!)

sleep 2
cat <<INFO

  Partner Key Portal is running at http://127.0.0.1:${PORT}/
  (health: http://127.0.0.1:${PORT}/healthz, worker log: var/worker.log, beat log: var/beat.log;
   e-mails are written to var/mail/ and printed in var/worker.log)

  Demo sign-ins (password: portal-demo)
    partner admin   partner@example.com      (Northwind Partners, 1000001, enrolled)
    partner agent   agent@fabrikam.example   (Fabrikam Resellers, 1000002)
    customer admin  admin@contoso.example    (Contoso, contoso.cloudsuite.example; an offer waits)
    customer admin  admin@adatum.example     (Adatum, French; Northwind is its delegated admin)
    ops (admin)     ops@example.com          http://127.0.0.1:${PORT}/admin/
INFO
if [ -f var/demo_mfa.txt ]; then
  echo
  echo "  Second step of signing in: each demo account has an authenticator app. Its current"
  echo "  code (secrets in var/demo_mfa.txt; \`.venv/bin/python manage.py demo_codes\` prints new ones):"
  $BIN/python manage.py demo_codes | sed 's/^/    /'
  echo "  Passkeys need a host name: open http://localhost:${PORT}/ to add one."
fi
if [ -f var/demo_keys.txt ]; then
  echo
  echo "  Demo product keys that are still available (from var/demo_keys.txt):"
  $BIN/python manage.py demo_keys --available | sed 's/^/    /'
fi
echo
echo "  Press Ctrl-C to stop."
wait -n "${pids[@]}"
