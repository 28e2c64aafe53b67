"""Django's Redis cache, keeping its Redis client.

Django's Redis cache builds a new `redis.Redis` object for every operation (setting up its table
of response callbacks each time: more than half the CPU of a `cache.add` here) over a connection
pool it keeps. This one keeps one client per pool: the same server, options and connections.
The hot paths of a registration use the cache three times (the rate limits' script, two
delivery kicks)."""

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        clients = self.__dict__.setdefault("_clients", {})
        if index not in clients:
            clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return clients[index]


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
