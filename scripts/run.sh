#!/usr/bin/env bash
# Start the whole service on embedded defaults: web, Celery worker and Celery beat.
# Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG="${DEBUG:-1}"
# This demo machine has no internet: no beacon fetching (a supervisor pastes rounds instead).
export DRAND_RELAYS="${DRAND_RELAYS-}"
PY=.venv/bin/python
PORT="${PORT:-8000}"
# The links in messages (offers, receipts) point at this server.
export SITE_URL="${SITE_URL:-http://127.0.0.1:$PORT}"
mkdir -p var/celery/broker var/celery/processed var/log

# Static files as production serves them: compressed and fingerprinted (config/settings.py,
# STATIC_COLLECTED). Collected again at start when a static source or a package changed (an
# edited stylesheet shows after a restart); the first time takes about two minutes (brotli over
# the whole DSFR).
export STATIC_COLLECTED=1
MANIFEST="${FAIRSLOT_VAR_DIR:-var}/static/staticfiles.json"
if [ ! -f "$MANIFEST" ] || [ -n "$(find booking/static lottery/static .venv/.installed -newer "$MANIFEST" -print -quit 2>/dev/null)" ]; then
  echo "Collecting static files (compressed, fingerprinted)..."
  $PY manage.py collectstatic --no-input -v0
fi
$PY manage.py migrate --no-input -v0
$PY manage.py compilemessages --ignore=.venv -v0 2>/dev/null || true
$PY manage.py load_demo
$PY manage.py load_demo_draw
DEMO_OFFERS="$($PY manage.py load_demo_offers)"
# Today's confirmed appointment of the demo applicant: its convocation and (DEBUG) check-in code.
DEMO_DAY="$($PY manage.py load_demo_today)"

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "Stopping Fairslot..."
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  echo "Stopped."
}
trap stop INT TERM EXIT

.venv/bin/celery -A config worker --loglevel=INFO --concurrency=2 > var/log/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A config beat --loglevel=INFO > var/log/beat.log 2>&1 &
pids+=($!)
$PY manage.py runserver "127.0.0.1:$PORT" --noreload > var/log/web.log 2>&1 &
pids+=($!)

for _ in $(seq 50); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null && break
  sleep 0.2
done
cat <<MSG

  Fairslot is running.
    Public site:   http://127.0.0.1:$PORT/
    Back office:   http://127.0.0.1:$PORT/admin/   (logins above: password + TOTP code)
    API docs:      http://127.0.0.1:$PORT/api/docs/
    Logs:          var/log/web.log, var/log/worker.log, var/log/beat.log
    SMS and e-mails are printed in var/log/worker.log (console backends).
    Demo applicant with 2 offers to answer: http://127.0.0.1:$PORT/my/login/
      phone 06 12 34 56 78; the one-time code arrives in var/log/worker.log.
      They read Arabic: their offer SMS (in var/log/worker.log) is in Arabic and carries a
      signed link that opens the offer without a code (switch the page's language at the top):
$(printf '%s\n' "$DEMO_OFFERS" | grep '^Offer link' | sed 's/^/        /')
    Check-in at the desk: log in as that applicant, open the convocation below; an agent
      (agent.isere) checks them in at http://127.0.0.1:$PORT/staff/checkin/ with its code.
$(printf '%s\n' "$DEMO_DAY" | sed 's/^/      /')
  Development secrets are in use (DEBUG=1): never run this way in production.
  Press Ctrl-C to stop web, worker and beat.

MSG
wait -n "${pids[@]}"
echo "A process exited; see var/log/. Stopping the others."
