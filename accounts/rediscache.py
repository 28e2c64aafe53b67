"""The shared cache's Redis client, kept for the cache object's life.

Django's Redis cache builds a new `redis.Redis` object for every operation (setting up its
table of response callbacks each time: more than half the CPU of a `cache.add` here) over a
connection pool it keeps. The hot paths of a registration (rate limits, outbox kicks) use one
client per cache object instead (Django's cache objects are per thread): the same pool, so the
same server, options and connections, and the same keys (`make_and_validate_key`)."""

from django.core.cache.backends.redis import RedisCache


def client(store: RedisCache):
    kept = store.__dict__.get("fairslot_client")
    if kept is None:
        kept = store.__dict__["fairslot_client"] = store._cache.get_client(write=True)
    return kept


def add(store: RedisCache, key: str, value: int, timeout: int) -> bool:
    """`store.add(key, value, timeout)` for an int value and a timeout in seconds (> 0): set
    unless the key exists; True if it was set. Ints are stored as Django stores them."""
    return bool(client(store).set(store.make_and_validate_key(key), value, nx=True, ex=timeout))
