#!/usr/bin/env bash
# Run the test suite. Uses DATABASE_URL / REDIS_URL / CELERY_BROKER_URL when set (CI sets them to
# the real PostgreSQL and Redis); otherwise SQLite and local defaults, skipping only the tests
# that need those services, with the reason shown.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG=0
export SECRET_KEY="${SECRET_KEY:-test-secret-key-0123456789abcdef0123456789abcdef}"
export FIELD_ENCRYPTION_KEYS="${FIELD_ENCRYPTION_KEYS:-Q3hF3m3lq0cVwVh2b3aM1bVf2GZsN1m2bTQ5dW9wV0E=}"
export BLIND_INDEX_KEY="${BLIND_INDEX_KEY:-test-blind-index-key-0123456789abcdef0123}"
export SECURE_COOKIES=0 SECURE_SSL_REDIRECT=0
# Messages go to the console or the outbox in tests, never to a real gateway.
export ALLOW_CONSOLE_BACKENDS="${ALLOW_CONSOLE_BACKENDS:-1}"
export DRAND_RELAYS=""  # tests never reach the internet; relay fetching is tested with a stub
export ALLOWED_HOSTS="${ALLOWED_HOSTS:-testserver,localhost,127.0.0.1}"
export FAIRSLOT_VAR_DIR="${FAIRSLOT_VAR_DIR:-$PWD/var/test}"
exec .venv/bin/python -m pytest -ra "$@"
