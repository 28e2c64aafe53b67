"""Rate limits on the shared cache (Redis in production, local memory on the embedded default).

Fixed windows counted atomically, and cooldowns. Any cache error makes the limit refuse (fail
closed): a Redis outage must never mean unlimited SMS. DRF throttles are not used as a security
control.

On Redis, all the rules of one request are applied by one Lua script: one round trip instead
of two or three per rule, and atomic. Elsewhere the same rules run one by one with the cache's
atomic `add` and `incr`. Either way the rules apply in order and stop at the first refusal; the
events counted before it stay counted (a refused request still uses up the per-address budget).
"""

import logging
import time
from dataclasses import dataclass

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from django.utils.translation import gettext_lazy as _

from config.errors import Busy, Throttled

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    """At most `limit` events per fixed window of `period` seconds for `key`."""

    key: str
    limit: int
    period: int


@dataclass(frozen=True)
class Cooldown:
    """At most one event per `seconds` for `key`.

    The stored value is the instant the cooldown ends, compared with our clock, so the rule does
    not depend on the store's expiry precision (the TTL only cleans up)."""

    key: str
    seconds: int


# KEYS[i] is rule i's key. ARGV is our clock, then per rule: "hit", the limit, the TTL; or
# "cooldown", the instant it would end (stored verbatim, so it comes back exact), the TTL.
# Returns {0, ""} when every rule passed, else {i, count or stored end} for the first refusal.
_LUA = """
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  local kind, value, ttl = ARGV[3 * i - 1], ARGV[3 * i], tonumber(ARGV[3 * i + 1])
  if kind == "hit" then
    local count = redis.call("INCR", KEYS[i])
    if count == 1 then redis.call("EXPIRE", KEYS[i], ttl) end
    if count > tonumber(value) then return {i, tostring(count)} end
  else
    local stored = redis.call("GET", KEYS[i])
    if stored and (tonumber(stored) or 0) > now then return {i, stored} end
    redis.call("SET", KEYS[i], value, "EX", ttl)
  end
end
return {0, ""}
"""
_script = None


def _store():
    return caches[DEFAULT_CACHE_ALIAS]


def _store_down() -> Busy:
    logger.exception("rate-limit store unavailable; refusing (fail closed)")
    return Busy(
        "service_busy",
        _("The service is busy. Please try again in a few minutes."),
        retry_after=60,
    )


def _cache_key(rule: Hit | Cooldown, now: float) -> str:
    if isinstance(rule, Hit):
        return f"rl:{rule.key}:{rule.period}:{int(now) // rule.period}"
    return f"cd:{rule.key}"


def _ttl(rule: Hit | Cooldown) -> int:
    return (rule.period if isinstance(rule, Hit) else rule.seconds) + 5


def _apply_redis(store: RedisCache, rules, now: float) -> tuple[int, float]:
    global _script
    # The cache's own client and connection pool: one Redis configuration for the project.
    client = store._cache.get_client(write=True)
    if _script is None:
        _script = client.register_script(_LUA)
    args = [repr(now)]
    for rule in rules:
        if isinstance(rule, Hit):
            args += ["hit", rule.limit, _ttl(rule)]
        else:
            args += ["cooldown", repr(now + rule.seconds), _ttl(rule)]
    keys = [store.make_and_validate_key(_cache_key(rule, now)) for rule in rules]
    index, value = _script(keys=keys, args=args, client=client)
    return int(index), float(value or 0)


def _apply_cache(store, rules, now: float) -> tuple[int, float]:
    for index, rule in enumerate(rules, start=1):
        key = _cache_key(rule, now)
        if isinstance(rule, Hit):
            store.add(key, 0, timeout=_ttl(rule))
            count = store.incr(key)
            if count > rule.limit:
                return index, count
        elif not store.add(key, now + rule.seconds, timeout=_ttl(rule)):
            ends = store.get(key) or 0
            if ends > now:
                return index, ends
            store.set(key, now + rule.seconds, timeout=_ttl(rule))
    return 0, 0.0


def check(*rules: Hit | Cooldown) -> None:
    """Count one event under each rule, in order; raise Throttled at the first rule refusing,
    Busy when the store cannot answer."""
    now = time.time()
    store = _store()
    try:
        if isinstance(store, RedisCache):
            index, value = _apply_redis(store, rules, now)
        else:
            index, value = _apply_cache(store, rules, now)
    except Exception:
        raise _store_down() from None
    if not index:
        return
    rule = rules[index - 1]
    if isinstance(rule, Hit):
        raise Throttled(
            "too_many_requests",
            _("Too many attempts. Please wait before trying again."),
            retry_after=rule.period - int(now) % rule.period,
        )
    raise Throttled(
        "code_cooldown",
        _("A code was sent less than a minute ago. Please wait before asking for a new one."),
        retry_after=int(value - now) + 1,
    )


def hit(key: str, *, limit: int, period: int) -> None:
    """Count one event for `key`; raise Throttled when more than `limit` happen in `period` s."""
    check(Hit(key, limit, period))


def cooldown(key: str, *, seconds: int) -> None:
    """At most one event per `seconds` for `key` (see Cooldown)."""
    check(Cooldown(key, seconds))
