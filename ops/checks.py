"""Refusals at start that need a live store: Redis that may evict keys, encryption keys that
cannot read the data. (The refusals that need no I/O, missing secrets and console backends
without DEBUG, are in config/settings.py.)

They are Django system checks of the deployment kind: `manage.py check --deploy` runs them,
and so do the web and worker processes as they start (`refuse_to_start_if_misconfigured`, from
config/wsgi.py and config/celery.py), which exit naming the variable. Not in AppConfig.ready:
that runs for every management command too, `collectstatic` in the image build among them,
where no database or Redis exists. A store that does not answer at start is logged, not
refused: the process waits for it like for any outage, and /readyz reports it.
"""

import logging

import redis
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from accounts.crypto import DecryptionError

logger = logging.getLogger(__name__)
TAG = "fairslot_start"
TIMEOUT_SECONDS = 3


@checks.register(TAG, deploy=True)
def check_redis_keeps_every_key(app_configs=None, **kwargs):
    """Rate limits, the SMS budget, single-use proofs and the Celery queue live in Redis: a Redis
    that evicts keys under memory pressure silently forgets them (limits reset, tasks lost)."""
    found = []
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        url = getattr(settings, name, None) or ""
        if not url.startswith(("redis://", "rediss://", "unix://")):
            continue
        policy = _eviction_policy(name, url)
        if policy not in (None, "noeviction"):
            found.append(
                checks.Error(
                    f"{name} points to a Redis whose maxmemory-policy is {policy!r}: it may evict "
                    "rate limits, the SMS budget and queued tasks. Set maxmemory-policy "
                    "noeviction on that Redis (and appendonly yes).",
                    id="ops.E001",
                )
            )
    return found


def _eviction_policy(name: str, url: str) -> str | None:
    client = redis.Redis.from_url(
        url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
    )
    try:
        # INFO, not CONFIG GET: managed Redis services often forbid CONFIG.
        return client.info("memory").get("maxmemory_policy")
    except redis.RedisError as exc:
        logger.warning("%s: cannot read the eviction policy at start: %s", name, type(exc).__name__)
        return None
    finally:
        client.close()


@checks.register(TAG, deploy=True)
def check_encryption_keys_read_the_data(app_configs=None, **kwargs):
    """The oldest and the newest sealed value of each encrypted table must open with
    FIELD_ENCRYPTION_KEYS: a wrong key (or an old one removed before `rotate_field_keys`
    finished) would otherwise surface as errors on the applicants' pages."""
    from accounts.models import Contact, OutboxMessage, Person

    samples = ((Person, "identifier"), (Contact, "value"), (OutboxMessage, "recipient"))
    for model, field in samples:
        try:
            _read_oldest_and_newest(model, field)
        except DecryptionError:
            return [
                checks.Error(
                    f"FIELD_ENCRYPTION_KEYS cannot read a stored {model.__name__}.{field}: the "
                    "keys are wrong, or a key still in use was removed. Put back the key the "
                    "data was written with (newer keys first, older after).",
                    id="ops.E002",
                )
            ]
        except DatabaseError as exc:  # no database yet, or not migrated: nothing to read
            logger.warning("cannot sample %s at start: %s", model.__name__, type(exc).__name__)
            return []
    return []


def _read_oldest_and_newest(model, field: str) -> None:
    for order in ("pk", "-pk"):
        model.objects.order_by(order).values_list(field, flat=True).first()


def refuse_to_start_if_misconfigured() -> None:
    """Raise ImproperlyConfigured, naming the variables, if a start-up check finds an error."""
    from django.db import connections

    try:
        found = checks.run_checks(tags=[TAG], include_deployment_checks=True)
    finally:
        connections.close_all()  # a forking server must not hand this connection to children
    errors = [message.msg for message in found if message.level >= checks.ERROR]
    if errors:
        raise ImproperlyConfigured("Refusing to start: " + " ".join(errors))
