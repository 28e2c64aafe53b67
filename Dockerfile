# Production image: gunicorn serves the web; the same image runs Celery workers and beat
# (override the command). Configuration comes only from the environment (see README).
# Not built on the development machines (no Docker engine there); kept minimal and standard.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    FAIRSLOT_VAR_DIR=/var/lib/fairslot

RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /app fairslot \
    && mkdir -p /var/lib/fairslot && chown fairslot /var/lib/fairslot

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY --chown=fairslot . .

# Static files and compiled translations are built into the image, with throwaway secrets
# (they are not used for anything at build time).
RUN export DEBUG=0 SECRET_KEY=build-only-not-a-secret-0123456789abcdef \
        BLIND_INDEX_KEY=build-only-not-a-secret-fedcba9876543210abcd \
        FIELD_ENCRYPTION_KEYS=YnVpbGQtb25seS1ub3QtYS1zZWNyZXQtMDEyMzQ1Njc= \
    && python manage.py compilemessages --ignore=.venv \
    && python manage.py collectstatic --no-input -v0 \
    && chown -R fairslot /var/lib/fairslot

USER fairslot
EXPOSE 8000
# Web:    docker run IMAGE
# Worker: docker run IMAGE celery -A config worker --loglevel=INFO
# Beat:   docker run IMAGE celery -A config beat --loglevel=INFO   (exactly one)
# Before a new release: docker run IMAGE python manage.py migrate --no-input
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
