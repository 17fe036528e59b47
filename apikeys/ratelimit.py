"""Per-key request limits: a fixed one-minute window counted in the cache."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

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
        # add() is atomic: the first request of a window creates the counter.
        if cache.add(cache_key, 1, timeout=WINDOW_SECONDS + 5):
            used = 1
        else:
            used = cache.incr(cache_key)
    except Exception:  # noqa: BLE001 - a limiter that cannot count lets requests through
        logger.warning("rate limit cache unreachable", extra={"action": "ratelimit_skipped"})
        return None
    reset_ms = (window + 1) * WINDOW_SECONDS * 1000
    return RateState(limit, limit - used, reset_ms)
