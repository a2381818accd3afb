"""The Redis client behind Django's cache, for the few commands the cache API lacks.

One client per connection pool (one pool per Redis server per process), sharing the
pool Django's Redis cache writes through (Django 5.2's RedisCacheClient; not in the
type stubs): building a client on every call cost more than the command itself.
"""

from __future__ import annotations

import redis
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache

_clients: dict[int, redis.Redis] = {}


def cache_backend() -> RedisCache | None:
    """The default cache when it is Redis (None with the local-memory cache of make run)."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    return backend if isinstance(backend, RedisCache) else None


def cache_client(backend: RedisCache) -> redis.Redis:
    """A client on the pool backend writes through."""
    pool = backend._cache._get_connection_pool(write=True)  # type: ignore[attr-defined]
    client = _clients.get(id(pool))
    if client is None:
        client = _clients[id(pool)] = redis.Redis(connection_pool=pool)
    return client
