"""Per-key request limits: a fixed one-minute window counted in the cache."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cache as memoize

import redis
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_ms: int

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(max(self.remaining, 0)),
            "x-ratelimit-reset": str(self.reset_ms),
        }


def count_request(key_id: int) -> RateState | None:
    """Count one request of a key; None when limits are off."""
    limit = settings.TRIGGERKIT_API_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return None
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    cache_key = f"ratelimit:{key_id}:{window}"
    try:
        used = increment(cache_key, WINDOW_SECONDS + 5)
    except Exception:  # noqa: BLE001 - a limiter that cannot count lets requests through
        logger.warning("rate limit cache unreachable", extra={"action": "ratelimit_skipped"})
        return None
    reset_ms = (window + 1) * WINDOW_SECONDS * 1000
    return RateState(limit, limit - used, reset_ms)


def increment(name: str, timeout: int) -> int:
    """Add one to a counter in the cache that lapses after `timeout` seconds.

    On a Redis cache it is one round trip on a client kept for the process
    (Django's cache API costs three, and builds a client each time); any other
    cache goes through that API.
    """
    location = settings.CACHES["default"].get("LOCATION")
    if not settings.CACHES["default"]["BACKEND"].endswith(".RedisCache"):
        # add() is atomic: the first request of a window creates the counter.
        if cache.add(name, 1, timeout=timeout):
            return 1
        return cache.incr(name)

    pipeline = redis_client(location).pipeline(transaction=False)
    key = cache.make_key(name)
    pipeline.incr(key)
    pipeline.expire(key, timeout)
    return pipeline.execute()[0]


@memoize
def redis_client(location: str) -> redis.Redis:
    return redis.Redis.from_url(location, socket_connect_timeout=1, socket_timeout=1)
