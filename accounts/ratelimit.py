"""Rate limits on the shared cache (Redis in production, local memory on the embedded default).

Fixed windows with atomic `add` + `incr`. Any cache error makes the limit refuse (fail closed):
a Redis outage must never mean unlimited SMS. DRF throttles are not used as a security control.
"""

import logging
import time

from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from config.errors import Busy, Throttled

logger = logging.getLogger(__name__)


def _store_down() -> Busy:
    logger.exception("rate-limit store unavailable; refusing (fail closed)")
    return Busy(
        "service_busy",
        _("The service is busy. Please try again in a few minutes."),
        retry_after=60,
    )


def hit(key: str, *, limit: int, period: int) -> None:
    """Count one event for `key`; raise Throttled when more than `limit` happen in `period` s."""
    now = int(time.time())
    bucket = f"rl:{key}:{period}:{now // period}"
    try:
        cache.add(bucket, 0, timeout=period + 5)
        count = cache.incr(bucket)
    except Exception:
        raise _store_down() from None
    if count > limit:
        raise Throttled(
            "too_many_requests",
            _("Too many attempts. Please wait before trying again."),
            retry_after=period - now % period,
        )


def cooldown(key: str, *, seconds: int) -> None:
    """At most one event per `seconds` for `key`.

    The stored value is the instant the cooldown ends, compared with our clock, so the rule does
    not depend on the cache's own expiry precision (the TTL only cleans up)."""
    now = time.time()
    try:
        if cache.add(f"cd:{key}", now + seconds, timeout=seconds + 5):
            return
        until = cache.get(f"cd:{key}") or 0
        if until <= now:
            cache.set(f"cd:{key}", now + seconds, timeout=seconds + 5)
            return
    except Exception:
        raise _store_down() from None
    raise Throttled(
        "code_cooldown",
        _("A code was sent less than a minute ago. Please wait before asking for a new one."),
        retry_after=int(until - now) + 1,
    )
