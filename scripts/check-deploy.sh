#!/usr/bin/env bash
# `manage.py check --deploy` with production-like settings: it must report no warning at all.
set -euo pipefail
cd "$(dirname "$0")/.."
DEBUG=0 \
SECRET_KEY="$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
FIELD_ENCRYPTION_KEYS="$(.venv/bin/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
BLIND_INDEX_KEY="$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(40))')" \
ALLOWED_HOSTS=fairslot.example.gouv.fr \
EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend \
SMS_BACKEND=accounts.sms.HttpGatewayBackend SMS_GATEWAY_URL=https://sms.example.gouv.fr/send \
DATABASE_URL="${DATABASE_URL:-sqlite:///$PWD/var/check.sqlite3}" \
  .venv/bin/python manage.py check --deploy --fail-level WARNING
