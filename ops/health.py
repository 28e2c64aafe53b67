"""Liveness and readiness, for load balancers, orchestrators and the deploy's "green" check.

/healthz says the process answers (no I/O at all). /readyz says the service can work: the
database answers, Redis and the broker answer, no migration is pending, and a worker ran the
heartbeat task (sent by beat every 30 seconds) less than HEARTBEAT_MAX_AGE ago. Each answer
names the checks and their outcome only: no version, host, address or error text, which an
anonymous caller must not learn. The failures go to the log.
"""

import logging
from datetime import timedelta

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models.functions import Now
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from ops.models import Heartbeat

logger = logging.getLogger(__name__)

WORKER = "worker"
HEARTBEAT_MAX_AGE = timedelta(minutes=2)
TIMEOUT_SECONDS = 2
OK, FAILED, OFF = "ok", "failed", "off"


def record_heartbeat(name: str) -> None:
    """Write the database's time as `name`'s heartbeat."""
    if not Heartbeat.objects.filter(name=name).update(at=Now()):
        Heartbeat.objects.get_or_create(name=name, defaults={"at": Now()})


@require_safe
@never_cache
def healthz(request):
    return _answer({"status": OK}, 200)


@require_safe
@never_cache
def readyz(request):
    checks = {
        "database": _check(_database),
        "migrations": _check(_no_pending_migrations),
        "worker": _check(_fresh_heartbeat),
        "redis": _check(_redis, settings.REDIS_URL),
        "broker": _check(_broker),
    }
    ready = FAILED not in checks.values()
    return _answer({"status": OK if ready else FAILED, "checks": checks}, 200 if ready else 503)


def _answer(body: dict, status: int) -> JsonResponse:
    response = JsonResponse(body, status=status)
    # Answered before SecurityMiddleware (ops.middleware): its header is set here.
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _check(probe, *args) -> str:
    try:
        return probe(*args)
    except Exception as exc:  # any failure is "not ready", never a 500
        name = probe.__name__.strip("_")
        logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
        return FAILED


def _database() -> str:
    connections[DEFAULT_DB_ALIAS].ensure_connection()
    Heartbeat.objects.exists()
    return OK


# Once none is pending, none can be until a new release, which starts new processes.
_migrated = False


def _no_pending_migrations() -> str:
    global _migrated
    if not _migrated:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        _migrated = not executor.migration_plan(executor.loader.graph.leaf_nodes())
    return OK if _migrated else FAILED


def _fresh_heartbeat() -> str:
    # Compared on the database clock, which wrote the heartbeat.
    fresh = Heartbeat.objects.filter(name=WORKER, at__gte=Now() - HEARTBEAT_MAX_AGE)
    return OK if fresh.exists() else FAILED


def _redis(url: str | None) -> str:
    if not url:
        return OFF  # the embedded default (process memory): nothing to reach
    client = redis.Redis.from_url(
        url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()
    return OK


def _broker() -> str:
    from config.celery import app

    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
    return OK
