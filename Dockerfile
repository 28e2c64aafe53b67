# syntax=docker/dockerfile:1
# Fairslot's production image: gunicorn serves the web; the same image runs the Celery worker,
# Celery beat and the migrations, with another command (the labels below, used by compose.yaml
# and by tests/ops/test_image.py, which checks that both name the same commands and starts them
# on PostgreSQL and Redis). Configuration comes only from the environment: docs/deploy.md.
# Not built on the development machines (they run no Docker engine); hadolint checks it.

# --- Build: the virtualenv, compiled translations and the collected static files ----------------
FROM python:3.12-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt

WORKDIR /app
COPY . .

# Throwaway values: nothing is signed, encrypted or sent at build time. The static files go to
# /app/var/static, served by WhiteNoise with hashed names (CompressedManifestStaticFilesStorage).
RUN export DEBUG=0 FAIRSLOT_VAR_DIR=/app/var ALLOW_CONSOLE_BACKENDS=1 \
        SECRET_KEY=build-only-not-a-secret-0123456789abcdef \
        BLIND_INDEX_KEY=build-only-not-a-secret-fedcba9876543210abcd \
        FIELD_ENCRYPTION_KEYS=YnVpbGQtb25seS1ub3QtYS1zZWNyZXQtMDEyMzQ1Njc= \
    && python manage.py compilemessages --ignore=.venv -v0 \
    && python manage.py collectstatic --no-input -v0 \
    && rm -f /app/var/*.sqlite3

# --- Runtime: no compiler, no gettext; Pango and the Noto fonts for the PDFs ---------------------
FROM python:3.12-slim-bookworm AS runtime

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin fairslot

COPY --from=build /opt/venv /opt/venv
# The code belongs to root and is read-only for the service; only var/ (beat's schedule) is its.
COPY --from=build /app /app
RUN chown -R fairslot /app/var

# The commit the image was built from, which each draw's kit names (there is no .git inside).
ARG FAIRSLOT_VERSION=""
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    FAIRSLOT_VAR_DIR=/app/var \
    FAIRSLOT_VERSION=$FAIRSLOT_VERSION \
    LOG_FORMAT=json \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

# Celery's --quiet: no start-up banner printed beside the log; every line the worker and beat
# write is a log record (config/celery.py), a JSON line here. gunicorn's: config/gunicorn.conf.py.
LABEL org.fairslot.command.migrate="python manage.py migrate --no-input" \
      org.fairslot.command.worker="celery -A config --quiet worker --loglevel=INFO" \
      org.fairslot.command.beat="celery -A config --quiet beat --loglevel=INFO"

WORKDIR /app
USER 10001
EXPOSE 8000
CMD ["gunicorn", "--config", "config/gunicorn.conf.py", "config.wsgi"]
